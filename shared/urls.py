"""URL checks for tools that fetch: an allowlist, and SSRF protection. Every check raises `InvalidArgument`.

Hostnames are not resolved by `check_url` (pure and fast); `check_url_resolved` resolves them
and applies the same address rules to every address the name points at, which defeats a DNS
name that points at a metadata or loopback address; `resolve_url` also returns the checked
addresses, so a client connects to exactly those (no second lookup a rebinding DNS could answer).
Use these through `shared.validation` (or `Policy.check_url`), which re-exports them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, unquote, urlsplit

import anyio

from shared.errors import InvalidArgument

__all__ = [
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "ResolvedUrl",
    "UrlRule",
    "address_problem",
    "check_url",
    "check_url_resolved",
    "resolve_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES: Final = frozenset({"http", "https"})
_URL_FORBIDDEN: Final = re.compile(r"[\x00-\x20\x7f\\]")  # controls, space, backslash
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_HOSTNAME: Final = re.compile(
    r"(?=.{1,253}\.?$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?"
)
_NUMERIC_PART: Final = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")

METADATA_ADDRESSES: Final[frozenset[IPAddress]] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS DNS
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure wire server
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
METADATA_HOSTNAMES: Final = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)


@dataclass(frozen=True, slots=True)
class UrlRule:
    """One allowlist entry, parsed: `scheme://host[:port][/path-prefix]`.

    `host` may be `*` (any public host) or `*.example.com` (public subdomains of example.com).
    Private, loopback and other non-public addresses are only reachable through an entry that
    names that exact host.
    """

    scheme: str
    host: str
    port: int | None
    path: str

    @classmethod
    def parse(cls, entry: str) -> UrlRule:
        if "://" not in entry:
            raise ValueError(f"URL allowlist entry {entry!r} needs a scheme, e.g. 'https://{entry}'")
        scheme, _, rest = entry.partition("://")
        hostport, slash, path = rest.partition("/")
        host, port = hostport, None
        if hostport.startswith("["):
            host, bracket, tail = hostport[1:].partition("]")
            if not bracket:
                raise ValueError(f"URL allowlist entry {entry!r} is missing ']' after the IPv6 address")
            if tail:
                port = _parse_port(tail.removeprefix(":"))
            host = str(ipaddress.IPv6Address(host))
        elif ":" in hostport:
            host, _, port_text = hostport.rpartition(":")
            port = _parse_port(port_text)
        scheme = scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(f"URL allowlist entry {entry!r}: only http and https are allowed")
        host = host.lower().rstrip(".")
        bare = host.removeprefix("*.") if host != "*" else "example"
        if not bare or ("*" in bare) or not (_HOSTNAME.fullmatch(bare) or _is_ip_literal(bare)):
            raise ValueError(f"URL allowlist entry {entry!r} has an invalid host {host!r}")
        if _is_ip_literal(bare) and ipaddress.ip_address(bare) in METADATA_ADDRESSES:
            raise ValueError(
                f"URL allowlist entry {entry!r} names a cloud metadata address, which is never allowed"
            )
        return cls(scheme, host, port, "/" + path if slash else "/")

    def matches(self, scheme: str, host: str, port: int, path: str) -> bool:
        if scheme != self.scheme or port != (self.port or _DEFAULT_PORTS[scheme]):
            return False
        if self.host == "*":
            pass
        elif self.host.startswith("*."):
            if not host.endswith(self.host[1:]):
                return False
        elif host != self.host:
            return False
        prefix = self.path
        return path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")

    @property
    def explicit(self) -> bool:
        return "*" not in self.host


def _parse_port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port {text!r}")
    return int(text)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse the forms browsers and inet_aton accept: `0x7f.1`, `2130706433`, `0177.0.0.1`.

    Follows the WHATWG URL standard's rule: a host whose last label is a number is an IPv4
    address, and is never looked up as a name.
    """
    labels = host.rstrip(".").split(".")
    if not _NUMERIC_PART.fullmatch(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMERIC_PART.fullmatch(label) for label in labels):
        raise InvalidArgument(f"host {host!r} looks like an IPv4 address but is not one")
    numbers: list[int] = []
    for label in labels:
        if label[:2].lower() == "0x":
            numbers.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if not set(label) <= set("01234567"):
                raise InvalidArgument(f"host {host!r} has an invalid octal part")
            numbers.append(int(label, 8))
        else:
            numbers.append(int(label))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise InvalidArgument(f"host {host!r} is out of range for an IPv4 address")
    value = last
    for index, n in enumerate(head):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: mapped, compatible, 6to4, NAT64, Teredo."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if address in ipaddress.IPv6Network("64:ff9b::/96") or (packed >> 32 == 0 and packed > 1):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> tuple[str, bool] | None:
    """Why `address` is not a plain public address: (reason, always_refused), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "an IPv6 address with a zone", True
        inner = _embedded_ipv4(address)
        if inner is not None:
            problem = address_problem(inner)
            if problem is not None:
                return f"{problem[0]} wrapped in IPv6", True
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address", True
    if address.is_link_local:
        return "a link-local address", True
    if address.is_loopback:
        return "a loopback address", False
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "a multicast, unspecified or reserved address", True
    if address.is_private or not address.is_global:
        return "a private address", False
    return None


def _split_url(url: str) -> tuple[SplitResult, str, str, int, str]:
    if not isinstance(url, str):
        raise InvalidArgument("URL must be a string")
    if "\x00" in url:
        raise InvalidArgument("URL contains a NUL byte; remove it")
    if len(url) > 2048 or not url.isascii() or _URL_FORBIDDEN.search(url):
        raise InvalidArgument(
            "URL must be at most 2048 printable ASCII characters without spaces or backslashes "
            "(write international hostnames in punycode)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"URL {url[:120]!r} is malformed: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise InvalidArgument(f"URL scheme {parts.scheme!r} is not allowed; use http:// or https://")
    if "@" in parts.netloc:
        raise InvalidArgument("URL must not carry credentials or '@' before the host")
    host = (parts.hostname or "").rstrip(".")
    if not host or "%" in parts.netloc:
        raise InvalidArgument("URL needs a host name without percent-escapes")
    path = parts.path or "/"
    # Decoded segments: `%2e%2e` is `..` to many servers, `%2f` hides a segment boundary.
    if any(seg in (".", "..") or "/" in seg or "\\" in seg for seg in map(unquote, path.split("/"))):
        raise InvalidArgument("URL path must not contain '.' or '..' segments or encoded slashes")
    return parts, scheme, host, port or _DEFAULT_PORTS[scheme], path


def _host_address(host: str, netloc: str) -> IPAddress | None:
    if netloc.rpartition("@")[2].startswith("["):
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:  # pragma: no cover - urlsplit already refuses bad brackets
            raise InvalidArgument(f"URL host [{host}] is not a valid IPv6 address") from exc
    legacy = _legacy_ipv4(host)
    if legacy is not None:
        if host != str(legacy):
            raise InvalidArgument(
                f"URL host {host!r} is an IPv4 address in an unusual form; write it as {legacy} "
                "(dotted decimal) if it is really meant"
            )
        return legacy
    if not _HOSTNAME.fullmatch(host):
        raise InvalidArgument(f"URL host {host!r} is not a valid host name")
    return None


def _parse_rules(allowlist: Iterable[str | UrlRule]) -> list[UrlRule]:
    rules: list[UrlRule] = []
    for entry in allowlist:
        try:
            rules.append(entry if isinstance(entry, UrlRule) else UrlRule.parse(entry))
        except ValueError as exc:
            raise InvalidArgument(f"the configured URL allowlist is invalid: {exc}") from exc
    return rules


def _check_address(address: IPAddress, host: str, rule: UrlRule, shown: str) -> None:
    problem = address_problem(address)
    if problem is None:
        return
    reason, always = problem
    if always or not (rule.explicit and rule.host == host):
        raise InvalidArgument(f"URL host {shown!r} is {reason}; such addresses are refused")


def check_url(url: str, allowlist: Iterable[str | UrlRule]) -> str:
    """Require an http(s) URL that the allowlist admits and that is not an SSRF vector.

    Refused always: other schemes, credentials (`http://a@b`), unusual IPv4 forms (`0x7f.1`,
    `2130706433`), link-local and cloud metadata addresses (also inside IPv6 such as
    `[::ffff:169.254.169.254]`), zone ids, `.`/`..` path segments. Refused unless an allowlist
    entry names that exact host: loopback and private addresses. The host name is not resolved
    here; see `check_url_resolved`.

    Returns:
        The URL, with the scheme and host lowercased.
    """
    parts, scheme, host, port, path = _split_url(url)
    rules = _parse_rules(allowlist)
    if host in METADATA_HOSTNAMES:
        raise InvalidArgument(f"URL host {host!r} is a cloud metadata service; it is never allowed")
    address = _host_address(host, parts.netloc)
    problem = address_problem(address) if address is not None else None
    if problem is not None and problem[1]:
        raise InvalidArgument(f"URL host {host!r} is {problem[0]}; such addresses are never allowed")
    key_host = str(address) if address is not None else host
    rule = next((r for r in rules if r.matches(scheme, key_host, port, path)), None)
    if rule is None:
        allowed = ", ".join(
            f"{r.scheme}://{r.host}{':' + str(r.port) if r.port else ''}{r.path}" for r in rules
        )
        raise InvalidArgument(
            f"URL {scheme}://{parts.netloc}{path} is not in the allowlist"
            + (
                f" (allowed: {allowed})"
                if allowed
                else " (no URLs are allowed; configure [policy] url_allowlist)"
            )
        )
    if address is not None:
        _check_address(address, key_host, rule, host)
    netloc = parts.netloc.lower()
    return parts._replace(scheme=scheme, netloc=netloc).geturl()


@dataclass(frozen=True, slots=True)
class ResolvedUrl:
    """A URL the policy allowed, and the addresses its host was checked at: connect to these."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]

    def pinned(self) -> str:
        """The URL with its host replaced by the first checked address (for the connection itself);
        send the original host as the Host header and the TLS server name."""
        parts = urlsplit(self.url)
        address = self.addresses[0]
        netloc = f"[{address}]" if ":" in address else address
        if parts.port is not None:
            netloc += f":{parts.port}"
        return parts._replace(netloc=netloc).geturl()


async def resolve_url(url: str, allowlist: Iterable[str | UrlRule]) -> ResolvedUrl:
    """`check_url`, then resolve the host once and apply the address rules to every address found.

    A host name that resolves to loopback or a private address is only accepted through an
    allowlist entry naming that host; one that resolves to link-local or metadata never is. The
    caller connects to `addresses` (see `ResolvedUrl.pinned`), so a DNS answer that changes between
    the check and the connection (rebinding) changes nothing.
    """
    rules = _parse_rules(allowlist)
    checked = check_url(url, rules)
    parts, scheme, host, port, path = _split_url(checked)
    literal = _host_address(host, parts.netloc)
    if literal is not None:
        return ResolvedUrl(checked, host, port, (str(literal),))
    rule = next(r for r in rules if r.matches(scheme, host, port, path))
    try:
        infos = await anyio.getaddrinfo(host, port)
    except OSError as exc:
        raise InvalidArgument(f"URL host {host!r} does not resolve: {exc}") from exc
    addresses: list[str] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        _check_address(address, host, rule, host)
        addresses.append(str(address))
    if not addresses:
        raise InvalidArgument(f"URL host {host!r} resolves to no address")
    return ResolvedUrl(checked, host, port, tuple(dict.fromkeys(addresses)))


async def check_url_resolved(url: str, allowlist: Iterable[str | UrlRule]) -> str:
    """`resolve_url`, for callers that only need the answer (they must not connect by name after it)."""
    return (await resolve_url(url, allowlist)).url
