"""The shipped JavaScript/TypeScript and Go semgrep rules against real files with the real semgrep."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.scanner_specs import RULES_DIR
from servers.security_scan.settings import SecurityScanSettings
from tests.integration.security_scan.conftest import CLEAN, OWNER, VULNERABLE
from tests.integration.security_scan.test_scan_engine import PLANTED

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
CODE_DIRS = ("web/", "go/")


def _rules(language: str) -> dict[str, dict[str, object]]:
    return {r["id"]: r for r in yaml.safe_load((RULES_DIR / f"{language}.yml").read_text())["rules"]}


async def test_js_ts_and_go_findings_are_exactly_the_planted_ones(settings: SecurityScanSettings) -> None:
    engine = ScanEngine(settings)
    summary = await engine.scan(VULNERABLE, scanners=["semgrep"], owner=OWNER)
    assert summary.scanners[0].status in ("ran", "cached"), summary.scanners
    findings = [f for f in engine.findings(summary.scan_id, owner=OWNER) if f.path.startswith(CODE_DIRS)]
    found = {(f.scanner, f.rule_id, f.path, f.line, f.severity) for f in findings}
    planted = {p for p in PLANTED if p[2].startswith(CODE_DIRS)}
    assert found == planted, (planted - found, found - planted)
    assert len(findings) == len(planted)  # no rule reports one line twice
    rules = {**_rules("javascript"), **_rules("go")}
    for f in findings:
        meta = rules[f.rule_id]["metadata"]
        assert isinstance(meta, dict)
        assert (f.cwe, f.category, f.fix_hint) == (meta["cwe"], meta["category"], meta["fix"]), f
        assert f.snippet and f.message


async def test_every_shipped_js_and_go_rule_has_a_planted_issue() -> None:
    planted = {p[1] for p in PLANTED}
    assert set(_rules("javascript")) | set(_rules("go")) <= planted


async def test_safe_uses_of_the_same_apis_give_no_code_findings(settings: SecurityScanSettings) -> None:
    """Literal exec arguments, argument lists, crypto.randomBytes, placeholders, textContent,
    html/template, filepath.Base, ReadHeaderTimeout...: no semgrep finding at any severity."""
    engine = ScanEngine(settings)
    summary = await engine.scan(CLEAN, scanners=["semgrep"], owner=OWNER)
    run = summary.scanners[0]
    assert run.status in ("ran", "cached"), run
    assert run.files == 5  # app.py, web/server.js, web/client.ts, web/Comment.tsx, go/main.go
    assert engine.findings(summary.scan_id, owner=OWNER) == []


async def test_unparseable_sources_keep_the_other_findings_and_are_named(
    tmp_path: Path, settings: SecurityScanSettings
) -> None:
    project = tmp_path / "mixed"
    (project / "src").mkdir(parents=True)
    (project / "src" / "broken.js").write_text("function (\n  eval(x\n")
    (project / "src" / "broken.go").write_text("package main\nfunc {\n")
    (project / "src" / "flow.mjs").write_text(
        "import { exec } from 'child_process';\nexport const run = (dir) => exec('ls ' + dir);\n"
    )
    (project / "node_modules" / "dep").mkdir(parents=True)
    shutil.copy(VULNERABLE / "web" / "server.js", project / "node_modules" / "dep" / "index.js")
    engine = ScanEngine(settings)
    summary = await engine.scan(project, scanners=["semgrep"], owner=OWNER)
    run = summary.scanners[0]
    # a file semgrep cannot parse is a file it did not check: the run is partial, the scan incomplete
    assert run.status == "partial", summary.scanners
    assert any(e.startswith("src/broken.js: Syntax error") for e in run.file_errors), run.file_errors
    assert not summary.complete
    found = {(f.rule_id, f.path, f.line) for f in engine.findings(summary.scan_id, owner=OWNER)}
    assert found == {("code.javascript.child-process-shell-string", "src/flow.mjs", 2)}
