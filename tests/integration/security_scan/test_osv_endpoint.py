"""Every ecosystem's lock files against real OSV records, served by an OSV-compatible API on loopback
(osv_server.py: osv.dev cannot run here) and from an export folder of all.zip files built from them.

Findings must be exact: each planted vulnerable version gives its advisory, every fixed version none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from tests.integration.security_scan.osv_server import build_export, osv_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
ECOSYSTEMS = Path(__file__).resolve().parents[2] / "fixtures" / "ecosystems"
PLANTED = {
    ("PyPI", "jinja2", "2.10", "GHSA-462w-v97r-4m45"),
    ("PyPI", "requests", "2.19.0", "GHSA-x84v-xcm2-53pg"),
    ("npm", "lodash", "4.17.20", "GHSA-35jh-r3h4-6jhm"),
    ("npm", "minimist", "1.2.5", "GHSA-xvch-5gv4-984h"),
    ("npm", "lodash", "4.17.19", "GHSA-35jh-r3h4-6jhm"),
    ("npm", "lodash", "4.17.15", "GHSA-35jh-r3h4-6jhm"),
    ("npm", "minimist", "1.2.0", "GHSA-xvch-5gv4-984h"),
    ("npm", "minimist", "0.2.1", "GHSA-xvch-5gv4-984h"),
    ("Go", "golang.org/x/net", "v0.6.0", "GO-2023-1571"),
    ("Go", "golang.org/x/net", "v0.0.0-20220722155237-a158d28d115b", "GO-2023-1571"),
    ("crates.io", "regex", "1.5.4", "GHSA-m5pq-gvj9-9vr8"),
    ("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1", "GHSA-jfh8-c2jp-5v3q"),
    ("RubyGems", "rack", "2.2.3", "GHSA-wq4h-7r42-5hrr"),
    ("Packagist", "symfony/http-kernel", "v5.4.19", "GHSA-h7vf-5wrv-9fhv"),
}


def _found(report: object) -> set[tuple[str, str, str, str]]:
    return {(a.ecosystem, a.package, a.installed_version, a.ids[0]) for a in report.advisories}  # type: ignore[attr-defined]


async def test_osv_api_findings_are_exact_and_cached(tmp_path: Path) -> None:
    async with osv_server() as osv:
        settings = SecurityScanSettings(cache_dir=tmp_path, osv_url=osv.url)  # type: ignore[arg-type]
        engine = ScanEngine(settings)
        report = await engine.dependencies(ECOSYSTEMS / "vulnerable")
        assert _found(report) == PLANTED
        assert {u.source for u in report.sources} == {"osv-api"} and not report.unchecked
        assert all(a.source.startswith("osv-api (") and a.source_date for a in report.advisories)
        assert {a.package: a.severity for a in report.advisories}["minimist"] == "critical"
        first = dict(osv.requests)
        again = await engine.dependencies(ECOSYSTEMS / "vulnerable")
        assert _found(again) == PLANTED
        assert dict(osv.requests) == first  # answered from the cache: no request at all
        clean = await engine.dependencies(ECOSYSTEMS / "clean")
        assert clean.advisories == [] and clean.dependencies > 20


async def test_export_folder_gives_the_same_exact_findings(tmp_path: Path) -> None:
    export = build_export(tmp_path / "export")
    settings = SecurityScanSettings(cache_dir=tmp_path / "cache", osv_export_dir=export)
    engine = ScanEngine(settings)
    assert _found(await engine.dependencies(ECOSYSTEMS / "vulnerable")) == PLANTED
    assert (await engine.dependencies(ECOSYSTEMS / "clean")).advisories == []
    summary = await engine.scan(ECOSYSTEMS / "vulnerable", owner="t", scanners=["dependencies"])
    assert summary.complete and summary.total == len(PLANTED)
    assert summary.by_severity == {"critical": 5, "high": 8, "medium": 1}


async def test_a_failing_api_falls_back_to_the_export_and_says_so(tmp_path: Path) -> None:
    export = build_export(tmp_path / "export")
    async with osv_server() as osv:
        osv.failing = True
        settings = SecurityScanSettings(cache_dir=tmp_path / "c", osv_url=osv.url, osv_export_dir=export)  # type: ignore[arg-type]
        engine = ScanEngine(settings)
        report = await engine.dependencies(ECOSYSTEMS / "vulnerable")
        assert _found(report) == PLANTED
        assert {u.source for u in report.sources} == {"osv-export"}
        assert all(u.note and "osv-api failed" in u.note for u in report.sources)
        summary = await engine.scan(ECOSYSTEMS / "vulnerable", owner="t", scanners=["dependencies"])
        assert not summary.complete and "answered from osv-export" in summary.failed_scanners[0].reason


async def test_an_ecosystem_no_source_covers_is_unchecked_not_clean(tmp_path: Path) -> None:
    only_pypi = {
        k: v
        for k, v in __import__("tests.integration.security_scan.osv_server", fromlist=["x"])
        .load_records()
        .items()
        if v["affected"][0]["package"]["ecosystem"] == "PyPI"
    }
    export = build_export(tmp_path / "export", only_pypi)
    engine = ScanEngine(
        SecurityScanSettings(cache_dir=tmp_path / "c", osv_export_dir=export, advisory_sources=["osv-export"])
    )
    report = await engine.dependencies(ECOSYSTEMS / "vulnerable" / "npm")
    assert report.advisories == [] and sorted(report.unchecked) == [
        "left-pad@1.3.0",
        "lodash@4.17.20",
        "minimist@1.2.5",
    ]
    summary = await engine.scan(ECOSYSTEMS / "vulnerable" / "npm", owner="t", scanners=["dependencies"])
    assert not summary.complete and "no advisory source covers npm" in summary.failed_scanners[0].reason
