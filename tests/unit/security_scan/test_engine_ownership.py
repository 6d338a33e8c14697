"""Scans belong to the identity that ran them: another owner gets exactly the "unknown" answer.

The dependency audit is pure Python, so these scans need no external scanner: a two-entry
advisory database in safety-db's format stands in for the real one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from shared.errors import NotFound
from shared.output import OutputBudget

pytestmark = pytest.mark.anyio
ADVISORIES = {
    "$meta": {"timestamp": 1625097600},
    "requests": [{"cve": "CVE-2018-18074", "id": "pyup.io-36546", "specs": ["<=2.19.1"], "advisory": "leak"}],
    "jinja2": [{"cve": "CVE-2020-28493", "id": "pyup.io-39525", "specs": ["<2.11.3"], "advisory": "redos"}],
}


@pytest.fixture
def engine(tmp_path: Path) -> ScanEngine:
    db = tmp_path / "insecure_full.json"
    db.write_text(json.dumps(ADVISORIES))
    return ScanEngine(SecurityScanSettings(cache_dir=tmp_path / "cache", advisory_db=db, max_scans_kept=2))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("requests==2.19.0\njinja2==2.10\n")
    return root


def _not_found(call: object) -> str:
    with pytest.raises(NotFound) as caught:
        call()  # type: ignore[operator]
    return str(caught.value)


async def test_another_owner_gets_the_answer_of_a_scan_that_does_not_exist(
    engine: ScanEngine, project: Path
) -> None:
    scan = await engine.scan(project, owner="alice", scanners=["dependencies"])
    assert len(engine.findings(scan.scan_id, owner="alice")) == 2
    missing = "0123456789abcdef"
    unknown = _not_found(lambda: engine.findings(missing, owner="bob"))
    foreign = _not_found(lambda: engine.findings(scan.scan_id, owner="bob"))
    assert foreign == unknown.replace(missing, scan.scan_id)
    budget = OutputBudget()
    assert (
        _not_found(lambda: engine.sarif_page(scan.scan_id, owner="bob", budget=budget, cursor_for=str))
        == foreign
    )
    assert _not_found(lambda: engine.diff(scan.scan_id, scan.scan_id, owner="bob")) == foreign
    assert _not_found(lambda: engine.record(scan.scan_id, owner="bob")) == foreign


async def test_findings_and_baselines_of_another_owner_are_unknown_too(
    engine: ScanEngine, project: Path
) -> None:
    mine = await engine.scan(project, owner="alice", scanners=["dependencies"])
    finding = engine.findings(mine.scan_id, owner="alice")[0]
    assert engine.finding(finding.id, owner="alice") == finding
    unknown = _not_found(lambda: engine.finding("no-such-finding", owner="bob"))
    assert _not_found(lambda: engine.finding(finding.id, owner="bob")) == unknown.replace(
        "no-such-finding", finding.id
    )
    theirs = await engine.scan(project, owner="bob", scanners=["dependencies"])
    assert engine.finding(finding.id, owner="bob") == finding  # bob scanned the same files himself
    with pytest.raises(NotFound):  # bob's scan is no baseline for alice
        engine.diff(mine.scan_id, theirs.scan_id, owner="alice")
    again = await engine.scan(project, owner="alice", scanners=["dependencies"])
    assert engine.diff(again.scan_id, mine.scan_id, owner="alice").unchanged_total == 2


async def test_each_owner_keeps_their_own_recent_scans(engine: ScanEngine, project: Path) -> None:
    bobs = await engine.scan(project, owner="bob", scanners=["dependencies"])
    alices = [await engine.scan(project, owner="alice", scanners=["dependencies"]) for _ in range(3)]
    with pytest.raises(NotFound):  # max_scans_kept=2 per owner: alice's oldest went
        engine.findings(alices[0].scan_id, owner="alice")
    assert engine.findings(alices[2].scan_id, owner="alice")
    assert engine.findings(bobs.scan_id, owner="bob")  # alice's scans did not push bob's out


async def test_an_untrusted_projects_suppressions_are_counted_not_applied(
    engine: ScanEngine, project: Path, tmp_path: Path
) -> None:
    (project / ".security-scan.toml").write_text(
        '[[suppress]]\nrule = "*"\npath = "*"\nreason = "nothing to see"\n'
        '[[suppress]]\nrule = "CVE-2018-18074"\nreason = "we accept the risk"\n'
    )
    summary = await engine.scan(project, owner="alice", scanners=["dependencies"])
    assert (summary.total, summary.suppressed, summary.suppressions_ignored) == (2, 0, 2)
    assert not summary.trusted
    assert summary.suppression_note is not None and "trusted_roots" in summary.suppression_note

    trusting = ScanEngine(engine.settings.model_copy(update={"trusted_roots": [tmp_path]}))
    summary = await trusting.scan(project, owner="alice", scanners=["dependencies"])
    assert summary.trusted
    assert (summary.total, summary.suppressed, summary.suppressions_ignored) == (1, 1, 0)
    assert (
        len(summary.suppression_errors) == 1 and "would hide every finding" in summary.suppression_errors[0]
    )
    hidden = [
        f for f in trusting.findings(summary.scan_id, owner="alice", include_suppressed=True) if f.suppressed
    ]
    assert [(f.rule_id, f.suppression_reason) for f in hidden] == [("CVE-2018-18074", "we accept the risk")]


async def test_a_symlinked_requirements_file_is_skipped_not_read(
    engine: ScanEngine, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("jinja2==2.10\n")
    (project / "requirements.txt").unlink()
    (project / "requirements.txt").symlink_to(outside)
    summary = await engine.scan(project, owner="alice", scanners=["dependencies"])
    assert summary.skipped_paths == {"symlink_escape": ["requirements.txt"]}
    assert summary.scanners[0].status == "no_files" and summary.complete
