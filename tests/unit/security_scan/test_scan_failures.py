"""A scanner that fails or cannot check some files makes the scan incomplete, never a clean 0.

The scanners here are stand-ins (named as fakes): small scripts that answer `--version` and then
print what the real scanner prints in the situation under test, so the engine's handling of exit
codes, error documents and per-file errors is checked without the real programs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from shared.output import OutputBudget

pytestmark = pytest.mark.anyio
FAKE_SEMGREP = """
import json, sys
if sys.argv[1] == "--version":
    print("1.185.0")
    sys.exit(0)
files = sys.argv[sys.argv.index("--") + 1:]
mode = {mode!r}
results = [{{"check_id": "rules.code.python.eval-exec", "path": f, "start": {{"line": 1}},
             "extra": {{"severity": "ERROR", "message": "eval", "metadata": {{"category": "injection"}}}}}}
           for f in files if f.endswith("app.py")]
errors, scanned = [], files
if mode == "exit2":
    message = "Invalid scanning root: " + files[0]
    errors = [{{"code": 2, "level": "error", "type": "SemgrepError", "message": message}}]
if mode == "timeout":
    slow = [f for f in files if f.endswith("slow.py")][0]
    errors = [{{"code": 3, "level": "warn", "type": "Timeout", "message": "Timeout on " + slow,
                "path": slow}}]
if mode == "skip":
    scanned = [f for f in files if not f.endswith("slow.py")]
print(json.dumps({{"results": results, "errors": errors, "paths": {{"scanned": scanned}}}}))
sys.exit(2 if mode == "exit2" else 0)
"""
FAKE_BANDIT = """
import sys
if sys.argv[1] == "--version":
    print("bandit 9.9.9")
    sys.exit(0)
files = sys.argv[sys.argv.index("--") + 1:]
token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4"
sys.stderr.write("x" * 5000 + " Traceback: boom in " + files[0] + " token=" + token)
sys.exit({code})
"""


def _fake(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"fake-{name}"
    path.write_text(f"#!{sys.executable}\n{source}")
    path.chmod(0o755)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text("eval(input())\n")
    (root / "pkg" / "slow.py").write_text("x = 1\n")
    return root


def _engine(tmp_path: Path, name: str, source: str) -> ScanEngine:
    tool = _fake(tmp_path, name, source)
    return ScanEngine(SecurityScanSettings(cache_dir=tmp_path / "cache", tool_paths={name: tool}))


async def test_an_exit_2_with_results_keeps_them_and_says_incomplete(tmp_path: Path, project: Path) -> None:
    engine = _engine(tmp_path, "semgrep", FAKE_SEMGREP.format(mode="exit2"))
    summary = await engine.scan(project, owner="o", scanners=["semgrep"])
    run = summary.scanners[0]
    assert run.status == "partial"
    assert [f.rule_id for f in engine.findings(summary.scan_id, owner="o")] == ["code.python.eval-exec"]
    assert not summary.complete
    assert [(p.name, p.status) for p in summary.failed_scanners] == [("semgrep", "partial")]
    assert (
        run.detail is not None and "Invalid scanning root: pkg/app.py" in run.detail
    )  # staged path mapped back
    assert "staging" not in run.detail


async def test_a_per_file_timeout_names_the_file_and_is_not_cached(tmp_path: Path, project: Path) -> None:
    engine = _engine(tmp_path, "semgrep", FAKE_SEMGREP.format(mode="timeout"))
    for _ in range(2):  # the second scan must not take the unchecked file from the cache
        summary = await engine.scan(project, owner="o", scanners=["semgrep"])
        run = summary.scanners[0]
        assert (run.status, run.file_error_count, summary.complete) == ("partial", 1, False)
        assert run.file_errors[0].startswith("pkg/slow.py: Timeout")
        assert [f.path for f in engine.findings(summary.scan_id, owner="o")] == ["pkg/app.py"]
    assert run.cached_files == 1  # app.py was checked fully: cached


async def test_a_file_the_scanner_silently_passed_over_is_reported(tmp_path: Path, project: Path) -> None:
    engine = _engine(tmp_path, "semgrep", FAKE_SEMGREP.format(mode="skip"))
    summary = await engine.scan(project, owner="o", scanners=["semgrep"])
    assert summary.scanners[0].file_errors == ["pkg/slow.py: semgrep did not scan it"]
    assert not summary.complete


async def test_a_clean_run_is_complete(tmp_path: Path, project: Path) -> None:
    engine = _engine(tmp_path, "semgrep", FAKE_SEMGREP.format(mode="ok"))
    summary = await engine.scan(project, owner="o", scanners=["semgrep"])
    assert (summary.scanners[0].status, summary.complete, summary.failed_scanners) == ("ran", True, [])


@pytest.mark.parametrize("code", [2, 0])  # exit 0 with no output is a crash too
async def test_a_failed_scanner_says_why_redacted_and_bounded(
    tmp_path: Path, project: Path, code: int
) -> None:
    engine = _engine(tmp_path, "bandit", FAKE_BANDIT.format(code=code))
    summary = await engine.scan(project, owner="o", scanners=["bandit"])
    run = summary.scanners[0]
    assert run.status == "failed"
    assert summary.total == 0 and not summary.complete
    assert summary.failed_scanners[0].name == "bandit"
    detail = run.detail or ""
    assert f"exit {code}" in detail
    assert len(detail) <= 1000
    assert "ghp_a1B2" not in detail
    assert "boom in pkg/app.py" in detail  # the tail of stderr, the staged path turned back into the tree's
    if code == 0:
        assert "printed nothing" in detail


async def test_an_unavailable_scanner_makes_the_scan_incomplete(tmp_path: Path, project: Path) -> None:
    settings = SecurityScanSettings(cache_dir=tmp_path / "cache", tool_paths={"bandit": tmp_path / "missing"})
    summary = await ScanEngine(settings).scan(project, owner="o", scanners=["bandit"])
    assert summary.scanners[0].status == "unavailable"
    assert not summary.complete
    assert "not found" in summary.failed_scanners[0].reason


async def test_the_sarif_export_says_which_run_did_not_succeed(tmp_path: Path, project: Path) -> None:
    engine = _engine(tmp_path, "semgrep", FAKE_SEMGREP.format(mode="exit2"))
    summary = await engine.scan(project, owner="o", scanners=["semgrep"])
    page = engine.sarif_page(summary.scan_id, owner="o", budget=OutputBudget(), cursor_for=str)
    [run] = page.sarif["runs"]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert page.sarif["properties"]["complete"] is False
    assert json.dumps(run).count("eval-exec") >= 1
