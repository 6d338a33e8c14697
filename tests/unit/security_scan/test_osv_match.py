"""OSV range evaluation in each ecosystem's ordering, withdrawn and GIT ranges, aliases, severity."""

from __future__ import annotations

from typing import Any

import pytest

from servers.security_scan.deps_ops import Declared
from servers.security_scan.osv_match_ops import advisories, affects, severity


def _record(
    ecosystem: str, name: str, *ranges: list[dict[str, str]], kind: str = "ECOSYSTEM", **extra: Any
) -> dict[str, Any]:
    return {
        "id": "X-1",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": kind, "events": r} for r in ranges],
            }
        ],
        **extra,
    }


LOG4J = _record(
    "Maven",
    "org.apache.logging.log4j:log4j-core",
    [{"introduced": "2.0-beta9"}, {"fixed": "2.3.1"}],
    [{"introduced": "2.4"}, {"fixed": "2.12.2"}],
    [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}],
)


@pytest.mark.parametrize(
    ("version", "hit"),
    [
        ("2.0-beta8", False),
        ("2.0-beta9", True),
        ("2.0", True),
        ("2.3.1", False),
        ("2.3.2", False),
        ("2.4", True),
        ("2.12.1", True),
        ("2.12.2", False),
        ("2.13.0", True),
        ("2.14.1", True),
        ("2.15.0", False),
        ("2.17.1", False),
    ],
)
def test_maven_ordering(version: str, hit: bool) -> None:
    assert (affects(LOG4J, "Maven", "org.apache.logging.log4j:log4j-core", version).match is not None) is hit


@pytest.mark.parametrize(
    ("ecosystem", "name", "events", "kind", "version", "hit"),
    [
        ("Go", "golang.org/x/net", [{"introduced": "0"}, {"fixed": "0.7.0"}], "SEMVER", "v0.6.0", True),
        (
            "Go",
            "golang.org/x/net",
            [{"introduced": "0"}, {"fixed": "0.7.0"}],
            "SEMVER",
            "v0.0.0-20220722155237-a158d28d115b",
            True,
        ),
        ("Go", "golang.org/x/net", [{"introduced": "0"}, {"fixed": "0.7.0"}], "SEMVER", "v0.7.0", False),
        (
            "Go",
            "golang.org/x/net",
            [{"introduced": "0"}, {"fixed": "0.7.0"}],
            "SEMVER",
            "v0.17.0+incompatible",
            False,
        ),
        ("RubyGems", "rack", [{"introduced": "2.2.0"}, {"fixed": "2.2.3.1"}], "ECOSYSTEM", "2.2.3", True),
        ("RubyGems", "rack", [{"introduced": "2.2.0"}, {"fixed": "2.2.3.1"}], "ECOSYSTEM", "2.2.3.1", False),
        (
            "RubyGems",
            "rack",
            [{"introduced": "2.2.0"}, {"fixed": "2.2.3.1"}],
            "ECOSYSTEM",
            "2.2.0.beta1",
            False,
        ),
        ("PyPI", "Jinja2", [{"introduced": "0"}, {"fixed": "2.10.1"}], "ECOSYSTEM", "2.10", True),
        ("PyPI", "jinja2", [{"introduced": "0"}, {"fixed": "2.10.1"}], "ECOSYSTEM", "2.10.1rc1", True),
        ("PyPI", "jinja2", [{"introduced": "0"}, {"fixed": "2.10.1"}], "ECOSYSTEM", "2.10.1", False),
        ("npm", "lodash", [{"introduced": "0"}, {"last_affected": "4.17.20"}], "SEMVER", "4.17.20", True),
        ("npm", "lodash", [{"introduced": "0"}, {"last_affected": "4.17.20"}], "SEMVER", "4.17.21", False),
        ("npm", "lodash", [{"introduced": "1.0.0"}, {"limit": "2.0.0"}], "SEMVER", "2.1.0", False),
        ("npm", "lodash", [{"introduced": "1.0.0"}, {"fixed": "1.2.0"}], "SEMVER", "1.2.0-rc.1", True),
        (
            "Packagist",
            "symfony/http-kernel",
            [{"introduced": "5.0.0"}, {"fixed": "5.4.20"}],
            "ECOSYSTEM",
            "v5.4.19",
            True,
        ),
        (
            "Packagist",
            "Symfony/Http-Kernel",
            [{"introduced": "5.0.0"}, {"fixed": "5.4.20"}],
            "ECOSYSTEM",
            "v5.4.20",
            False,
        ),
        (
            "Debian:12",
            "curl",
            [{"introduced": "0"}, {"fixed": "7.88.1-10+deb12u5"}],
            "ECOSYSTEM",
            "7.88.1-10+deb12u4",
            True,
        ),
        (
            "Debian:12",
            "curl",
            [{"introduced": "0"}, {"fixed": "7.88.1-10+deb12u5"}],
            "ECOSYSTEM",
            "1:7.0-1",
            False,
        ),
        (
            "Alpine:v3.18",
            "openssl",
            [{"introduced": "0"}, {"fixed": "3.1.1-r0"}],
            "ECOSYSTEM",
            "3.1.0-r4",
            True,
        ),
        ("crates.io", "regex", [{"introduced": "0"}, {"fixed": "1.5.5"}], "SEMVER", "1.5.4", True),
    ],
)
def test_each_ordering(
    ecosystem: str, name: str, events: list[dict[str, str]], kind: str, version: str, hit: bool
) -> None:
    record = _record(ecosystem, name, events, kind=kind)
    assert (
        affects(record, ecosystem, name.lower() if ecosystem == "Packagist" else name, version).match
        is not None
    ) is hit


def test_other_release_withdrawn_git_and_listed_versions() -> None:
    debian11 = _record("Debian:11", "curl", [{"introduced": "0"}, {"fixed": "9"}])
    assert affects(debian11, "Debian:12", "curl", "7.0-1").match is None
    withdrawn = _record("npm", "lodash", [{"introduced": "0"}], withdrawn="2024-01-01T00:00:00Z")
    assert affects(withdrawn, "npm", "lodash", "1.0.0").match is None
    git = _record("npm", "lodash", [{"introduced": "abc123"}, {"fixed": "def456"}], kind="GIT")
    assert affects(git, "npm", "lodash", "1.0.0").match is None
    git["affected"][0]["versions"] = ["1.0.0"]
    assert affects(git, "npm", "lodash", "1.0.0").match is not None


def test_unreadable_versions_are_reported_not_cleared() -> None:
    record = _record("npm", "lodash", [{"introduced": "0"}, {"fixed": "not.a.version!"}], kind="SEMVER")
    assert affects(record, "npm", "lodash", "1.0.0").unreadable


def test_aliases_count_once_and_github_severity_wins() -> None:
    pysec = {
        **_record("PyPI", "jinja2", [{"introduced": "0"}, {"fixed": "2.10.1"}]),
        "id": "PYSEC-2019-217",
        "aliases": ["GHSA-462w-v97r-4m45"],
    }
    ghsa = {
        **_record("PyPI", "jinja2", [{"introduced": "0"}, {"fixed": "2.10.1"}]),
        "id": "GHSA-462w-v97r-4m45",
        "aliases": ["CVE-2019-10906"],
        "database_specific": {"severity": "MODERATE"},
    }
    found, _ = advisories(
        [pysec, ghsa], Declared("jinja2", "2.10", "r.txt", 1), source="osv-export", date="d"
    )
    assert [(a.ids[0], a.severity, a.fixed_versions) for a in found] == [
        ("GHSA-462w-v97r-4m45", "medium", ["2.10.1"])
    ]
    assert found[0].purl == "pkg:pypi/jinja2@2.10"


def test_severity_from_cvss_and_default() -> None:
    cvss = {"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}
    assert severity(cvss) == ("critical", "CVSS_V3 9.8")
    assert severity({"severity": [{"type": "CVSS_V3", "score": "garbage"}]})[0] == "high"
    assert severity({})[1].startswith("not stated")
