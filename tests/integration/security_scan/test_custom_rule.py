"""scan_with_rule with the real semgrep: a caller's rule runs over the staged tree; a rule semgrep
rejects, or one refused by the offline checks, never scans."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.security_scan.rule_scan_ops import scan_with_rule
from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from shared.errors import InvalidArgument

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
RULE = """rules:
- id: no-yaml-load
  languages: [python]
  severity: ERROR
  message: yaml.load without a safe loader
  pattern: yaml.load($X)
"""


async def test_custom_rule_finds_exactly_its_matches(settings: SecurityScanSettings, tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "a.py").write_text("import yaml\nyaml.load(open('x'))\nyaml.safe_load(open('y'))\n")
    (project / "b.js").write_text("yaml.load(x)\n")
    (project / ".semgrepignore").write_text("a.py\n")  # the project cannot hide its files
    engine = ScanEngine(settings)
    summary = await scan_with_rule(engine, project, RULE, owner="t")
    assert summary.complete and summary.files_scanned == 1
    found = engine.findings(summary.scan_id, owner="t")
    assert [(f.rule_id, f.path, f.line, f.severity) for f in found] == [
        ("custom.no-yaml-load", "a.py", 2, "high")
    ]


async def test_rules_semgrep_rejects_are_refused(settings: SecurityScanSettings, tmp_path: Path) -> None:
    engine = ScanEngine(settings)
    with pytest.raises(InvalidArgument, match="semgrep refused the rule"):
        await scan_with_rule(engine, tmp_path, RULE.replace("yaml.load($X)", "yaml.load($X"), owner="t")
    with pytest.raises(InvalidArgument, match="mode"):
        await scan_with_rule(engine, tmp_path, RULE + "  mode: join\n", owner="t")
