"""Hostile inputs against the boundary checks: every row must be refused (or accepted) as stated."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import anyio
import pytest

from shared.errors import InvalidArgument
from shared.validation import (
    UrlRule,
    address_problem,
    check_url,
    check_url_resolved,
    image_ref,
    k8s_label,
    k8s_label_selector,
    k8s_name,
    no_nul,
    path_within,
    safe_arg,
)

# --------------------------------------------------------------------------- safe_arg / no_nul


@pytest.mark.parametrize("value", ["file.txt", "a-b", "x=1", "./-rf", "ünïcode", "a b"])
def test_safe_arg_accepts_plain_values(value: str) -> None:
    assert safe_arg(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-rf", "dash"),
        ("--output=/etc/passwd", "dash"),
        ("\u2212rf", "dash"),  # minus sign
        ("\u2010rf", "dash"),  # hyphen
        ("\uff0drf", "dash"),  # fullwidth hyphen-minus
        ("\ufe63rf", "dash"),  # small hyphen-minus
        ("a\x00b", "NUL"),
        ("line\nbreak", "control"),
        ("esc\x1b[31m", "control"),
        ("evil\u202etxt.exe", "control"),  # right-to-left override
        ("zero\u200bwidth", "control"),
        ("", "empty"),
    ],
)
def test_safe_arg_refuses_hostile_values(value: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        safe_arg(value)


def test_no_nul_refuses_nul_and_non_strings() -> None:
    assert no_nul("fine") == "fine"
    with pytest.raises(InvalidArgument, match="NUL"):
        no_nul("a\x00")
    with pytest.raises(InvalidArgument, match="string"):
        no_nul(b"bytes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Kubernetes names


@pytest.mark.parametrize("name", ["web", "web-1", "a.b.c", "x" * 253, "0abc"])
def test_k8s_name_accepts_rfc1123_subdomains(name: str) -> None:
    assert k8s_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Web",
        "-web",
        "web-",
        "web_1",
        "x" * 254,
        "a..b",
        "we b",
        "w\u0435b",
        "../etc",
        "a/b",
        "web\x00",
        "*",
    ],
)
def test_k8s_name_refuses_invalid_names(name: str) -> None:
    # "w\u0435b" holds a Cyrillic e: a look-alike that must not pass as the real name
    with pytest.raises(InvalidArgument, match=r"not a valid Kubernetes name|NUL"):
        k8s_name(name)


@pytest.mark.parametrize("name", ["default", "kube-system", "a" * 63])
def test_k8s_label_accepts_labels(name: str) -> None:
    assert k8s_label(name, what="namespace") == name


@pytest.mark.parametrize("name", ["a.b", "a" * 64, "Default", "kube_system", "kube\u2010system"])
def test_k8s_label_refuses_non_labels(name: str) -> None:
    with pytest.raises(InvalidArgument, match="namespace"):
        k8s_label(name, what="namespace")


@pytest.mark.parametrize(
    ("selector", "normalised"),
    [
        ("app=web", "app=web"),
        ("app==web, tier!=db", "app=web,tier!=db"),
        ("env in (prod, staging),!canary", "env in (prod,staging),!canary"),
        ("app.kubernetes.io/name notin (a)", "app.kubernetes.io/name notin (a)"),
        ("release", "release"),
        ("app=", "app="),
        ("  ", ""),
    ],
)
def test_label_selector_accepts_and_normalises(selector: str, normalised: str) -> None:
    assert k8s_label_selector(selector) == normalised


@pytest.mark.parametrize(
    "selector",
    [
        "app=web)",
        "env in (prod",
        "env in ()",
        "env in (a,,b)",
        "a=b=c",
        "app=we b",
        "app=$(rm -rf /)",
        "app=web;rm",
        "-/x=y",
        "Bad_Prefix/x=y",
        "x" * 64 + "=y",
        "app=" + "v" * 64,
        "app=w\u0435b",
        "app=web\nother=x",
        "a" * 1025,
    ],
)
def test_label_selector_refuses_malformed(selector: str) -> None:
    with pytest.raises(InvalidArgument):
        k8s_label_selector(selector)


# --------------------------------------------------------------------------- images

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "ref",
    [
        "nginx",
        "nginx:1.27",
        "library/nginx:latest",
        "registry.example.com:5000/team/app:v1.2-rc_3",
        f"app@{DIGEST}",
        f"ghcr.io/org/app:v1@{DIGEST}",
        "localhost:5000/x",
        "[::1]:5000/x",
        "a__b/c--d",
    ],
)
def test_image_ref_accepts_docker_references(ref: str) -> None:
    assert image_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "-nginx",
        "--privileged",
        "Nginx",
        "nginx:",
        "nginx:-tag",
        "nginx@sha256:abc",
        "app@sha256:" + "a" * 63,
        "nginx:1.0 --rm",
        "nginx;reboot",
        "ng\u0456nx",  # Cyrillic U+0456
        "a" * 256,
        "x\x00",
        "nginx:" + "t" * 129,
    ],
)
def test_image_ref_refuses_invalid_references(ref: str) -> None:
    with pytest.raises(InvalidArgument):
        image_ref(ref)


# --------------------------------------------------------------------------- paths


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ with a file, a subfolder, symlinks in and out, a FIFO, and a sibling `root2/`."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (tmp_path / "root2").mkdir()
    (root / "link_out").symlink_to(outside / "secret")
    (root / "dir_out").symlink_to(outside)
    (root / "link_in").symlink_to(root / "sub" / "file.txt")
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "fifo")
    return root


@pytest.mark.parametrize("path", ["sub/file.txt", "sub", ".", "link_in", "sub/../sub/file.txt", "new/file"])
def test_path_within_accepts_paths_inside(tree: Path, path: str) -> None:
    resolved = path_within(path, [tree])
    assert resolved.is_relative_to(tree.resolve())
    assert resolved.is_absolute()


def test_path_within_resolves_symlinks_to_their_target(tree: Path) -> None:
    assert path_within("link_in", [tree]) == (tree / "sub" / "file.txt").resolve()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside/secret", "outside the allowed roots"),
        ("sub/../../outside", "outside the allowed roots"),
        ("/etc/passwd", "outside the allowed roots"),
        ("link_out", "outside the allowed roots"),
        ("dir_out/secret", "outside the allowed roots"),
        ("../root2", "outside the allowed roots"),
        ("sub/file.txt\x00.png", "NUL"),
        ("", "non-empty"),
        ("a\nb", "control"),
        ("fifo", "FIFO"),
    ],
)
def test_path_within_refuses_escapes_and_specials(tree: Path, path: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        path_within(path, [tree])


def test_path_within_refuses_symlink_loops(tree: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"cannot be resolved|outside"):
        path_within("loop/x", [tree])


def test_path_within_refuses_devices_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="device"):
        path_within("/dev/null", ["/dev"])
    assert path_within("/dev/null", ["/dev"], allow_special=True) == Path("/dev/null")


def test_path_within_absolute_root_prefix_is_not_containment(tree: Path) -> None:
    # /tmp/x/root2 starts with the string /tmp/x/root but is not inside it
    with pytest.raises(InvalidArgument, match="outside"):
        path_within(str(tree.parent / "root2"), [tree])


def test_path_within_second_root_and_must_exist(tree: Path) -> None:
    other = tree.parent / "root2"
    assert path_within(str(other), [tree, other]) == other.resolve()
    with pytest.raises(InvalidArgument, match="does not exist"):
        path_within("missing", [tree], must_exist=True)


def test_path_within_refuses_without_roots_and_non_strings(tree: Path) -> None:
    with pytest.raises(InvalidArgument, match="no allowed roots"):
        path_within("x", [])
    with pytest.raises(InvalidArgument, match="string"):
        path_within(42, [tree])  # type: ignore[arg-type]


def test_path_within_reports_unreadable_paths(tmp_path: Path) -> None:
    # A path through a regular file: resolve() keeps going, stat() fails with ENOTDIR (for root as
    # for anyone, unlike a permission error root reads through), which is not "missing".
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidArgument, match="cannot be read"):
        path_within("f/child", [tmp_path])


# --------------------------------------------------------------------------- URLs

ALLOW = [
    "http://127.0.0.1:9090/api",
    "https://example.com",
    "https://*.example.org",
    "http://localhost:9093",
    "https://*",
    "http://10.1.2.3:8080",
    "http://[::1]:9100/",
]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9090/api", "http://127.0.0.1:9090/api"),
        ("http://127.0.0.1:9090/api/v1/query?q=up", "http://127.0.0.1:9090/api/v1/query?q=up"),
        ("HTTPS://Example.COM/x", "https://example.com/x"),
        ("https://a.b.example.org/", "https://a.b.example.org/"),
        ("https://public.example.net/metrics", "https://public.example.net/metrics"),
        ("http://localhost:9093/-/healthy", "http://localhost:9093/-/healthy"),
        ("http://10.1.2.3:8080/", "http://10.1.2.3:8080/"),
        ("http://[::1]:9100/metrics", "http://[::1]:9100/metrics"),
        ("https://8.8.8.8/", "https://8.8.8.8/"),
    ],
)
def test_check_url_accepts_allowed_urls(url: str, expected: str) -> None:
    assert check_url(url, ALLOW) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # cloud metadata and link-local: never, whatever the allowlist says
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://169.254.169.254/", "metadata"),
        ("http://169.254.170.2/v2/credentials", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("https://100.100.100.200/", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("https://metadata/", "metadata"),
        ("https://169.254.1.1/", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://[::ffff:a9fe:a9fe]/", "metadata"),
        # loopback and private in disguise
        ("http://0x7f.1/", "unusual form"),
        ("http://0x7f000001/", "unusual form"),
        ("http://2130706433/", "unusual form"),
        ("http://017700000001/", "unusual form"),
        ("http://0177.0.0.1/", "unusual form"),
        ("http://127.1/", "unusual form"),
        ("http://127.0.1/", "unusual form"),
        ("http://0/", "unusual form"),
        ("http://0x0a.0x01.0x02.0x03:8080/", "unusual form"),
        ("http://[::ffff:127.0.0.1]/", "loopback address wrapped in IPv6"),
        ("https://[::ffff:7f00:1]/", "loopback address wrapped in IPv6"),
        ("https://[::127.0.0.1]/", "loopback address wrapped in IPv6"),
        ("https://[64:ff9b::7f00:1]/", "loopback address wrapped in IPv6"),
        ("https://[2002:7f00:1::]/", "loopback address wrapped in IPv6"),
        ("https://[::ffff:10.0.0.1]/", "private address wrapped in IPv6"),
        ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "loopback address wrapped in IPv6"),  # Teredo
        ("https://127.0.0.1/", "loopback"),
        ("https://10.0.0.1/", "private"),
        ("https://192.168.1.1/", "private"),
        ("https://172.16.0.1/", "private"),
        ("https://100.64.0.1/", "private"),
        ("https://[::1]/", "loopback"),
        ("https://[fc00::1]/", "private"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://[::]/", "unspecified"),
        ("https://224.0.0.1/", "multicast"),
        ("https://240.0.0.1/", "reserved"),
        ("https://[fe80::1%25eth0]/", "percent"),
        ("https://256.1.1.1/", "out of range"),
        ("https://1.2.3.4.5/", "not one"),
        ("https://09.1.1.1/", "octal"),
        ("https://[zz::1]/", "malformed"),
        ("https://1.2.3.0x/", "unusual form"),
        # wrong scheme
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "scheme"),
        ("ftp://example.com/", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("//example.com/", "scheme"),
        ("example.com", "scheme"),
        # parser confusion
        ("http://a@b/", "credentials"),
        ("https://example.com@169.254.169.254/", "credentials"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://example.com\\@evil.com/", "backslash"),
        ("https://example.com /", "spaces"),
        ("https://exa\tmple.com/", "spaces"),
        ("https://ex%61mple.com/", "percent"),
        ("https://\uff11\uff12\uff17.0.0.1/", "ASCII"),
        ("https://ex\u0430mple.com/", "ASCII"),  # Cyrillic U+0430
        ("https://example.com:99999/", "malformed"),
        ("https://example.com:80:80/", "malformed"),
        ("https:///path", "host"),
        ("https://exa$mple.com/", "not a valid host"),
        ("https://x\x00.com/", "NUL"),
        ("https://" + "a" * 2050 + ".com/", "2048"),
        # path tricks against a path-prefix entry
        ("http://127.0.0.1:9090/api/../admin", "segments"),
        ("http://127.0.0.1:9090/api/%2e%2e/admin", "segments"),
        ("http://127.0.0.1:9090/api/..", "segments"),
        ("http://127.0.0.1:9090/api/.", "segments"),
        ("http://127.0.0.1:9090/api/..%2fadmin", "segments"),
        ("http://127.0.0.1:9090/api%2f..%2fadmin", "segments"),
        ("http://127.0.0.1:9090/api/%5c..", "segments"),
        ("http://127.0.0.1:9090/apix", "not in the allowlist"),
        ("http://127.0.0.1:9090/", "not in the allowlist"),
        # not allowed at all
        ("http://127.0.0.1:9091/api", "not in the allowlist"),
        ("http://example.com/", "not in the allowlist"),
    ],
)
def test_check_url_refuses_hostile_urls(url: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        check_url(url, ALLOW)


@pytest.mark.parametrize(
    "url", ["https://example.org/", "https://evilexample.org/", "https://example.org.evil.com/"]
)
def test_check_url_subdomain_wildcard_admits_only_subdomains(url: str) -> None:
    assert check_url("https://www.example.org/", ["https://*.example.org"]) == "https://www.example.org/"
    with pytest.raises(InvalidArgument, match="not in the allowlist"):
        check_url(url, ["https://*.example.org"])


def test_check_url_wildcard_does_not_admit_private_hosts_by_name() -> None:
    # "*" means public hosts; loopback needs an entry naming it
    with pytest.raises(InvalidArgument, match="loopback"):
        check_url("https://127.0.0.1/", ["https://*"])
    with pytest.raises(InvalidArgument, match="private"):
        check_url("https://10.0.0.1/", ["https://*.0.0.1", "https://*"])


def test_check_url_refuses_non_strings() -> None:
    with pytest.raises(InvalidArgument, match="string"):
        check_url(b"https://example.com/", ["https://*"])  # type: ignore[arg-type]


def test_check_url_with_empty_allowlist_says_how_to_configure() -> None:
    with pytest.raises(InvalidArgument, match="configure \\[policy\\] url_allowlist"):
        check_url("https://example.com/", [])


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("example.com", "needs a scheme"),
        ("ftp://example.com", "only http"),
        ("https://exa mple.com", "invalid host"),
        ("https://*foo.com", "invalid host"),
        ("https://a.*.com", "invalid host"),
        ("http://169.254.169.254", "metadata"),
        ("http://example.com:0", "invalid port"),
        ("http://example.com:x", "invalid port"),
        ("http://[::1", "missing"),
    ],
)
def test_url_rule_refuses_bad_allowlist_entries(entry: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        UrlRule.parse(entry)
    with pytest.raises(InvalidArgument, match="allowlist is invalid"):
        check_url("https://example.com/", [entry])


def test_url_rule_ipv6_entry_with_port() -> None:
    rule = UrlRule.parse("http://[0:0::1]:9100/metrics")
    assert (rule.host, rule.port, rule.path) == ("::1", 9100, "/metrics")


@pytest.mark.anyio
async def test_check_url_resolved_refuses_names_pointing_at_loopback() -> None:
    # "localhost" resolves to loopback: a wildcard entry must not admit it
    with anyio.fail_after(30), pytest.raises(InvalidArgument, match="loopback"):
        await check_url_resolved("https://localhost/", ["https://*"])


@pytest.mark.anyio
async def test_check_url_resolved_admits_a_name_the_allowlist_names() -> None:
    with anyio.fail_after(30):
        assert await check_url_resolved("http://localhost:9093/x", ALLOW) == "http://localhost:9093/x"
        assert await check_url_resolved("http://127.0.0.1:9090/api", ALLOW) == "http://127.0.0.1:9090/api"


@pytest.mark.anyio
async def test_check_url_resolved_refuses_unresolvable_names() -> None:
    with anyio.fail_after(30), pytest.raises(InvalidArgument, match="does not resolve"):
        await check_url_resolved("https://no-such-host.invalid/", ["https://*"])


@pytest.mark.anyio
async def test_check_url_resolved_refuses_metadata_behind_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake DNS (no resolver here may point a name at 169.254.169.254): the name is allowed, the
    # address it resolves to is not.
    async def fake_getaddrinfo(host: str, port: int) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(anyio, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(InvalidArgument, match="metadata"):
        await check_url_resolved("https://imds.example.com/", ["https://imds.example.com"])


def test_address_problem_refuses_zoned_ipv6() -> None:
    # a resolver can hand back a scoped address; the zone pins it to a local interface
    assert address_problem(ipaddress.IPv6Address("fe80::1%eth0")) == ("an IPv6 address with a zone", True)
    assert address_problem(ipaddress.IPv4Address("93.184.216.34")) is None
