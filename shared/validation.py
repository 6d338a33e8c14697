"""Boundary checks for what a model may pass to a tool. Every check raises `InvalidArgument`.

The messages are for the model: they say what was wrong and what a valid value looks like.
The URL checks (allowlist + SSRF protection) live in `shared.urls` and are re-exported here.
"""

from __future__ import annotations

import re
import stat
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from shared.errors import InvalidArgument
from shared.urls import (
    METADATA_ADDRESSES,
    METADATA_HOSTNAMES,
    ResolvedUrl,
    UrlRule,
    address_problem,
    check_url,
    check_url_resolved,
    resolve_url,
)

__all__ = [
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "ResolvedUrl",
    "UrlRule",
    "address_problem",
    "check_url",
    "check_url_resolved",
    "image_ref",
    "k8s_label",
    "k8s_label_selector",
    "k8s_name",
    "no_nul",
    "path_within",
    "resolve_url",
    "safe_arg",
]

# --------------------------------------------------------------------------- plain strings


def no_nul(value: str, *, what: str = "value") -> str:
    """Refuse a string that holds a NUL byte (it truncates paths and arguments in C code)."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    if "\x00" in value:
        raise InvalidArgument(f"{what} contains a NUL byte; remove it")
    return value


_ASCII_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _has_control(value: str) -> bool:
    # Cc: C0/C1 controls (newline, escape, ...); Cf: invisible format characters such as the
    # right-to-left override U+202E that makes text read differently from what it is.
    if value.isascii():
        return _ASCII_CONTROL.search(value) is not None
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value)


def safe_arg(value: str, *, what: str = "argument") -> str:
    """Check a value that will be passed as one argument to a program.

    Refuses a leading `-` (or a Unicode dash that looks like one), NUL, control and invisible
    format characters, and the empty string.
    """
    no_nul(value, what=what)
    if value == "":
        raise InvalidArgument(f"{what} must not be empty")
    first = value[0]
    if first == "-" or unicodedata.category(first) == "Pd" or first in "\u2212\ufe63\uff0d":
        raise InvalidArgument(f"{what} {value[:40]!r} starts with a dash and would be read as an option")
    if _has_control(value):
        raise InvalidArgument(f"{what} contains control or invisible characters; remove them")
    return value


# --------------------------------------------------------------------------- Kubernetes

_DNS1123_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_LABEL_VALUE: Final = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


def k8s_name(value: str, *, what: str = "name") -> str:
    """A Kubernetes object name: an RFC 1123 subdomain (lowercase, digits, `-`, `.`; ≤ 253)."""
    return _rfc1123(
        value, what, _DNS1123_SUBDOMAIN, 253, "Kubernetes name", "lowercase letters, digits, '-' and '.'"
    )


def k8s_label(value: str, *, what: str = "name") -> str:
    """An RFC 1123 label (namespaces, container names): lowercase, digits and `-`; ≤ 63."""
    return _rfc1123(value, what, _DNS1123_LABEL, 63, "RFC 1123 label", "lowercase letters, digits and '-'")


def _rfc1123(value: str, what: str, pattern: re.Pattern[str], max_len: int, rule: str, chars: str) -> str:
    no_nul(value, what=what)
    if not value or len(value) > max_len or not value.isascii() or not pattern.fullmatch(value):
        raise InvalidArgument(
            f"{what} {value[:80]!r} is not a valid {rule}: use at most {max_len} {chars}, "
            "starting and ending with a letter or digit"
        )
    return value


def _label_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        raise InvalidArgument(
            f"label key prefix {prefix!r} must be a DNS subdomain (e.g. 'app.kubernetes.io')"
        )
    if not name or len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        raise InvalidArgument(
            f"label key {key!r} is invalid: the name part has at most 63 letters, digits, '-', '_', '.'"
        )
    return key


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise InvalidArgument(f"label value {value!r} is invalid: at most 63 letters, digits, '-', '_', '.'")
    return value


_SET_REQUIREMENT: Final = re.compile(r"(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)")
_EQ_REQUIREMENT: Final = re.compile(r"(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)")
_EXISTS_REQUIREMENT: Final = re.compile(r"(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)")


def _split_requirements(selector: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise InvalidArgument("label selector has an unbalanced ')'")
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise InvalidArgument("label selector has an unbalanced '('")
    parts.append("".join(current))
    return parts


def k8s_label_selector(value: str) -> str:
    """A Kubernetes label selector (`a=b,c!=d,e in (f,g),!h`); returns it normalised.

    Written by hand: no maintained Python package parses selectors, and the grammar is small.
    """
    no_nul(value, what="label selector")
    if len(value) > 1024 or not value.isascii() or _has_control(value):
        raise InvalidArgument("label selector must be at most 1024 printable ASCII characters")
    if not value.strip():
        return ""
    normalised: list[str] = []
    for raw in _split_requirements(value):
        req = raw.strip()
        if match := _SET_REQUIREMENT.fullmatch(req):
            values = [v.strip() for v in match["values"].split(",")]
            if not values or any(v == "" for v in values):
                raise InvalidArgument(f"selector requirement {req!r} needs a non-empty list of values")
            key = _label_key(match["key"])
            normalised.append(f"{key} {match['op']} ({','.join(_label_value(v) for v in values)})")
        elif match := _EQ_REQUIREMENT.fullmatch(req):
            key = _label_key(match["key"])
            op = "=" if match["op"] == "==" else match["op"]
            normalised.append(f"{key}{op}{_label_value(match['value'])}")
        elif match := _EXISTS_REQUIREMENT.fullmatch(req):
            normalised.append(f"{match['neg']}{_label_key(match['key'])}")
        else:
            raise InvalidArgument(
                f"selector requirement {req!r} is not understood; use key=value, key!=value, "
                "key in (a,b), key notin (a,b), key or !key, separated by commas"
            )
    return ",".join(normalised)


# --------------------------------------------------------------------------- images

# The grammar of github.com/distribution/reference (reference.go), as one regular expression.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_REF: Final = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")


def image_ref(value: str) -> str:
    """A container image reference (`[registry[:port]/]path[:tag][@algo:hex]`), docker grammar."""
    no_nul(value, what="image reference")
    match = _IMAGE_REF.fullmatch(value) if value.isascii() else None
    if match is None or len(match["name"]) > 255:
        raise InvalidArgument(
            f"image reference {value[:120]!r} is invalid: use e.g. 'nginx:1.27', "
            "'registry.example.com:5000/team/app:v1' or 'app@sha256:<64 hex digits>'"
        )
    digest = match["digest"]
    if digest is not None and digest.startswith("sha256:") and len(digest) != len("sha256:") + 64:
        raise InvalidArgument("a sha256 image digest has exactly 64 hexadecimal digits")
    return value


# --------------------------------------------------------------------------- paths


def path_within(
    path: str | Path,
    roots: Sequence[str | Path],
    *,
    allow_special: bool = False,
    must_exist: bool = False,
    what: str = "path",
) -> Path:
    """Resolve `path` (symlinks followed) and require it to lie inside one of `roots`.

    A relative path is taken relative to the first root. Refuses NUL bytes, paths that escape
    the roots by `..` or by a symlink, and — unless `allow_special` — devices, FIFOs and sockets
    (reading a FIFO blocks forever; reading /dev/zero never ends).

    Returns:
        The resolved absolute path.
    """
    if not isinstance(path, (str, Path)):
        raise InvalidArgument(f"{what} must be a string")
    raw = str(path)
    no_nul(raw, what=what)
    if raw == "" or _has_control(raw):
        raise InvalidArgument(f"{what} must be a non-empty path without control characters")
    if not roots:
        raise InvalidArgument(f"no {what} is allowed here: no allowed roots are configured")
    resolved_roots = [Path(root).resolve() for root in roots]
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = resolved_roots[0] / candidate
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise InvalidArgument(f"{what} {raw!r} cannot be resolved: {exc.__class__.__name__}") from exc
    if not any(resolved.is_relative_to(root) for root in resolved_roots):
        allowed = ", ".join(str(root) for root in resolved_roots)
        raise InvalidArgument(
            f"{what} {raw!r} is outside the allowed roots ({allowed}); pick a path inside them"
        )
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        if must_exist:
            raise InvalidArgument(f"{what} {raw!r} does not exist") from None
        return resolved
    except OSError as exc:
        raise InvalidArgument(f"{what} {raw!r} cannot be read: {exc.strerror}") from exc
    if not allow_special and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InvalidArgument(
            f"{what} {raw!r} is a device, FIFO or socket; only files and folders are allowed"
        )
    return resolved
