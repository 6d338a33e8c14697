"""The scan engine against the real scanners and the planted-vulnerability project."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import jsonschema
import pytest

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.toolchain_ops import Toolchain
from shared.errors import InvalidArgument, NotFound
from shared.output import OutputBudget
from tests.integration.security_scan.conftest import CLEAN, FIXTURES, OWNER, VULNERABLE
from tests.support.services import require_program, unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[3]

# (scanner, rule, file, line, severity): every issue planted in tests/fixtures/vulnerable_project.
PLANTED = {
    ("detect-secrets", "AWS Access Key", "app.py", 7, "critical"),
    ("bandit", "B602", "app.py", 11, "high"),
    ("semgrep", "code.python.subprocess-shell-true", "app.py", 11, "high"),
    ("bandit", "B307", "app.py", 15, "high"),
    ("semgrep", "code.python.eval-exec", "app.py", 15, "high"),
    ("bandit", "B301", "app.py", 19, "high"),
    ("semgrep", "code.python.unsafe-deserialization", "app.py", 19, "high"),
    ("bandit", "B324", "app.py", 23, "medium"),
    ("semgrep", "code.python.weak-hash", "app.py", 23, "medium"),
    ("dependencies", "CVE-2020-28493", "requirements.txt", 1, "high"),
    ("dependencies", "CVE-2018-18074", "requirements.txt", 2, "high"),
    ("hadolint", "DL3007", "Dockerfile", 1, "medium"),
    ("checkov", "CKV_DOCKER_7", "Dockerfile", 1, "medium"),
    ("hadolint", "DL3002", "Dockerfile", 4, "medium"),
    ("checkov", "CKV_DOCKER_8", "Dockerfile", 4, "medium"),
    ("checkov", "CKV_K8S_19", "k8s/pod.yaml", 6, "high"),
    ("checkov", "CKV_K8S_16", "k8s/pod.yaml", 11, "high"),
    ("shellcheck", "SC2086", "scripts/deploy.sh", 3, "medium"),
    # JavaScript / TypeScript (rules/javascript.yml)
    ("semgrep", "code.javascript.eval-non-literal", "web/server.js", 9, "high"),
    ("semgrep", "code.javascript.eval-non-literal", "web/server.js", 13, "high"),
    ("semgrep", "code.javascript.child-process-shell-string", "web/server.js", 17, "high"),
    ("semgrep", "code.javascript.spawn-shell-true", "web/server.js", 21, "medium"),
    ("semgrep", "code.javascript.weak-hash", "web/server.js", 25, "medium"),
    ("semgrep", "code.javascript.insecure-random-token", "web/server.js", 29, "medium"),
    ("semgrep", "code.javascript.tls-verify-disabled", "web/server.js", 32, "high"),
    ("semgrep", "code.javascript.tls-verify-disabled", "web/server.js", 33, "high"),
    ("semgrep", "code.javascript.sql-string-building", "web/server.js", 36, "high"),
    ("semgrep", "code.javascript.jwt-decode-without-verify", "web/server.js", 40, "medium"),
    ("semgrep", "code.javascript.open-redirect", "web/server.js", 44, "medium"),
    ("semgrep", "code.javascript.path-traversal", "web/server.js", 49, "high"),
    ("semgrep", "code.javascript.jwt-none-algorithm", "web/server.js", 53, "high"),
    ("semgrep", "code.javascript.dom-html-sink", "web/client.ts", 3, "medium"),
    ("semgrep", "code.javascript.dom-html-sink", "web/client.ts", 7, "medium"),
    ("semgrep", "code.javascript.sql-string-building", "web/client.ts", 12, "high"),
    ("semgrep", "code.javascript.react-dangerously-set-inner-html", "web/Comment.tsx", 3, "medium"),
    # Go (rules/go.yml)
    ("semgrep", "code.go.exec-shell-non-literal", "go/main.go", 18, "high"),
    ("semgrep", "code.go.weak-hash", "go/main.go", 22, "medium"),
    ("semgrep", "code.go.tls-insecure-skip-verify", "go/main.go", 26, "high"),
    ("semgrep", "code.go.sql-string-building", "go/main.go", 30, "high"),
    ("semgrep", "code.go.insecure-random-secret", "go/main.go", 34, "medium"),
    ("semgrep", "code.go.path-traversal", "go/main.go", 38, "high"),
    ("semgrep", "code.go.text-template-html", "go/main.go", 49, "medium"),
    ("semgrep", "code.go.http-server-no-timeouts", "go/main.go", 55, "medium"),
}


async def test_every_planted_issue_is_found_with_file_line_and_severity(
    settings: SecurityScanSettings,
) -> None:
    engine = ScanEngine(settings)
    summary = await engine.scan(VULNERABLE, owner=OWNER)
    assert all(r.status in ("ran", "cached") for r in summary.scanners), summary.scanners
    assert summary.complete and summary.failed_scanners == []
    found = {
        (f.scanner, f.rule_id, f.path, f.line, f.severity)
        for f in engine.findings(summary.scan_id, owner=OWNER)
    }
    assert found >= PLANTED, PLANTED - found
    secret = next(f for f in engine.findings(summary.scan_id, owner=OWNER) if f.scanner == "detect-secrets")
    assert "AKIA" + "IOSFODNN7EXAMPLE" not in secret.snippet  # split: no key in this file
    assert secret.cwe == ["CWE-798"]
    shell = next(f for f in engine.findings(summary.scan_id, owner=OWNER) if f.rule_id == "B602")
    assert shell.cwe == ["CWE-78"]
    assert shell.fix_hint
    assert summary.by_severity["critical"] == 1
    assert summary.files_scanned == 9


async def test_clean_project_has_no_high_or_critical_findings(settings: SecurityScanSettings) -> None:
    engine = ScanEngine(settings)
    summary = await engine.scan(CLEAN, min_severity="high", owner=OWNER)
    assert all(r.status in ("ran", "cached") for r in summary.scanners), summary.scanners
    assert summary.total == 0, engine.findings(summary.scan_id, owner=OWNER)


async def test_rescan_of_an_unchanged_tree_comes_from_the_cache(tmp_path: Path, project: Path) -> None:
    engine = ScanEngine(SecurityScanSettings(cache_dir=tmp_path / "cache"))
    scanners = ["bandit", "hadolint", "shellcheck"]
    first = await engine.scan(project, scanners=scanners, owner=OWNER)
    second = await engine.scan(project, scanners=scanners, owner=OWNER)
    assert [r.status for r in first.scanners] == ["ran", "ran", "ran"]
    assert [r.status for r in second.scanners] == ["cached", "cached", "cached"]
    assert second.by_severity == first.by_severity
    assert [f.id for f in engine.findings(second.scan_id, owner=OWNER)] == [
        f.id for f in engine.findings(first.scan_id, owner=OWNER)
    ]
    (project / "scripts" / "deploy.sh").write_text("#!/bin/sh\nrm -rf $1/build\n")
    third = await engine.scan(project, scanners=scanners, owner=OWNER)
    shellcheck = next(r for r in third.scanners if r.name == "shellcheck")
    assert (shellcheck.status, shellcheck.cached_files) == ("ran", 0)
    assert next(r for r in third.scanners if r.name == "bandit").status == "cached"


async def test_fingerprints_survive_line_shifts_and_diff_shows_only_the_new_issue(
    settings: SecurityScanSettings, project: Path
) -> None:
    engine = ScanEngine(settings)
    before = await engine.scan(project, scanners=["bandit", "semgrep"], owner=OWNER)
    app = project / "app.py"
    lines = app.read_text().splitlines(keepends=True)
    lines[2:2] = ["import os\n", "\n", "\n", "def cleanup(name):\n", "    os.system('rm ' + name)\n", "\n"]
    app.write_text("".join(lines))
    after = await engine.scan(project, scanners=["bandit", "semgrep"], owner=OWNER)

    old = {f.id: f for f in engine.findings(before.scan_id, owner=OWNER)}
    new = {f.id: f for f in engine.findings(after.scan_id, owner=OWNER)}
    for fid, finding in old.items():
        assert fid in new, finding
        shift = 6 if finding.path == "app.py" and finding.line >= 3 else 0
        assert new[fid].line == finding.line + shift, finding
    diff = engine.diff(after.scan_id, before.scan_id, owner=OWNER)
    assert diff.fixed == []
    assert {(f.rule_id, f.line) for f in diff.new} == {("B605", 7), ("code.python.subprocess-shell-true", 7)}
    assert diff.unchanged_total == len(old)


async def test_diff_against_an_exported_sarif_baseline(settings: SecurityScanSettings, project: Path) -> None:
    engine = ScanEngine(settings)
    before = await engine.scan(project, scanners=["bandit", "hadolint"], owner=OWNER)
    budget = OutputBudget(max_items=200, max_chars=1_000_000, max_result_chars=1_000_000)
    page = engine.sarif_page(before.scan_id, owner=OWNER, budget=budget, cursor_for=str)
    assert page.next_cursor is None  # one page holds this small scan: a single log is a whole baseline
    document = page.sarif
    jsonschema.validate(document, json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text()))
    baseline = project / "baseline.sarif"
    baseline.write_text(json.dumps(document))
    (project / "Dockerfile").write_text("FROM python:3.12.7-slim\nUSER 10001\n")
    after = await engine.scan(project, scanners=["bandit", "hadolint"], owner=OWNER)
    diff = engine.diff(after.scan_id, str(baseline), owner=OWNER, baseline_file=baseline)
    assert diff.new_total == 0
    assert diff.fixed_total == 4  # DL3007, DL3002, DL3042, DL3066 gone with the old Dockerfile
    assert diff.unchanged_total == len(engine.findings(after.scan_id, owner=OWNER))
    baseline.write_text("not json")
    with pytest.raises(InvalidArgument, match="not a usable SARIF baseline"):
        engine.diff(after.scan_id, str(baseline), owner=OWNER, baseline_file=baseline)


async def test_suppression_file_marks_findings_and_reports_bad_entries(
    settings: SecurityScanSettings, project: Path
) -> None:
    """In a tree the operator trusts ([security_scan] trusted_roots), the project's file applies."""
    engine = ScanEngine(settings.model_copy(update={"trusted_roots": [project]}))
    first = await engine.scan(project, scanners=["bandit"], owner=OWNER)
    eval_id = next(f.id for f in engine.findings(first.scan_id, owner=OWNER) if f.rule_id == "B307")
    (project / ".security-scan.toml").write_text(
        f"""
[[suppress]]
fingerprint = "{eval_id}"
reason = "expression comes from a trusted config file"

[[suppress]]
rule = "B602"
path = "*.py"
reason = "commands are constants"

[[suppress]]
rule = "B301"
"""
    )
    summary = await engine.scan(project, scanners=["bandit"], owner=OWNER)
    assert summary.suppressed == 2
    assert summary.total == first.total - 2
    assert summary.trusted
    assert summary.suppression_errors == [".security-scan.toml entry 3: a reason is required; entry ignored"]
    listed = engine.findings(summary.scan_id, include_suppressed=True, owner=OWNER)
    hidden = {f.rule_id: f.suppression_reason for f in listed if f.suppressed}
    assert hidden == {"B307": "expression comes from a trusted config file", "B602": "commands are constants"}
    assert all(not f.suppressed for f in engine.findings(summary.scan_id, owner=OWNER))


async def test_missing_scanners_are_unavailable_not_a_crash(tmp_path: Path, project: Path) -> None:
    hadolint = Toolchain({}, SecurityScanSettings().resolved_venv(), enabled=["hadolint"]).locate("hadolint")
    assert hadolint is not None
    settings = SecurityScanSettings(
        cache_dir=tmp_path / "cache",
        scanners_venv=tmp_path / "no-venv",
        tool_paths={
            "semgrep": tmp_path / "missing-semgrep",
            "checkov": tmp_path / "missing-checkov",
            "hadolint": hadolint,
        },
        advisory_db=tmp_path / "missing.json",
        enabled=["semgrep", "checkov", "hadolint", "dependencies"],
    )
    engine = ScanEngine(settings)
    summary = await engine.scan(
        project, scanners=["semgrep", "checkov", "hadolint", "dependencies"], owner=OWNER
    )
    status = {r.name: r.status for r in summary.scanners}
    assert status == {"semgrep": "unavailable", "checkov": "unavailable", "hadolint": "ran",
                      "dependencies": "unavailable"}  # fmt: skip
    infos = {i.name: i for i in await engine.toolchain.describe()}
    assert not infos["semgrep"].available
    assert "not found" in (infos["semgrep"].detail or "")
    assert infos["bandit"].detail == "disabled in the [security_scan] configuration"


async def test_a_scanner_past_its_time_limit_is_killed(tmp_path: Path, project: Path) -> None:
    engine = ScanEngine(SecurityScanSettings(cache_dir=tmp_path / "cache", scanner_timeout_s=0.5))
    with anyio.fail_after(60):
        summary = await engine.scan(project, scanners=["checkov"], owner=OWNER)
    run = summary.scanners[0]
    assert run.status == "timed_out"
    assert run.detail is not None
    # scanners are handed the staged copies, which live under the cache folder
    leftover = await anyio.run_process(["pgrep", "-f", f"checkov.*{tmp_path / 'cache'}"], check=False)
    assert leftover.stdout == b""


async def test_unknown_scanner_and_unknown_ids_are_refused(settings: SecurityScanSettings) -> None:
    engine = ScanEngine(settings)
    with pytest.raises(InvalidArgument, match="unknown scanner"):
        await engine.scan(CLEAN, scanners=["trivy"], owner=OWNER)
    with pytest.raises(NotFound):
        engine.findings("nope", owner=OWNER)
    with pytest.raises(NotFound):
        engine.finding("nope", owner=OWNER)


async def test_failing_scanner_is_reported_as_failed(tmp_path: Path, project: Path) -> None:
    fake = tmp_path / "bandit"  # a stand-in that answers --version and then fails: named as a fake
    fake.write_text(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'bandit 9.9.9'; exit 0; fi\necho boom >&2\nexit 2\n"
    )
    fake.chmod(0o755)
    settings = SecurityScanSettings(cache_dir=tmp_path / "cache", tool_paths={"bandit": fake})
    summary = await ScanEngine(settings).scan(project, scanners=["bandit"], owner=OWNER)
    assert summary.scanners[0].status == "failed"
    assert "boom" in (summary.scanners[0].detail or "")


async def test_dependency_report_from_the_real_safety_db(settings: SecurityScanSettings) -> None:
    report = await ScanEngine(settings).dependencies(VULNERABLE)
    assert report.files == ["requirements.txt"]
    assert report.database.startswith("PyPI: safety-db (2021")  # which source answered, per ecosystem
    by_id = {a.ids[0]: a for a in report.advisories}
    requests = by_id["CVE-2018-18074"]
    assert (requests.package, requests.installed_version, requests.affected) == (
        "requests",
        "2.19.0",
        "<=2.19.1",
    )
    assert requests.fixed_versions == []  # "<=" gives no fixed version to name
    assert by_id["CVE-2020-28493"].fixed_versions == ["2.11.3"]
    assert by_id["CVE-2020-28493"].package == "jinja2"
    clean = await ScanEngine(settings).dependencies(CLEAN)
    assert clean.advisories == []
    assert clean.dependencies == 2


async def test_sbom_lists_the_scanned_projects_dependencies(settings: SecurityScanSettings) -> None:
    sbom = await ScanEngine(settings).sbom(VULNERABLE)
    assert [c["purl"] for c in sbom.bom["components"]] == ["pkg:pypi/jinja2@2.10", "pkg:pypi/requests@2.19.0"]


OFFLINE_SCAN = """
import json, sys
from pathlib import Path
import anyio
from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings

async def main():
    engine = ScanEngine(SecurityScanSettings(cache_dir=Path(sys.argv[2])))
    summary = await engine.scan(Path(sys.argv[1]), owner="offline")
    print(json.dumps({"status": {r.name: r.status for r in summary.scanners},
                      "ids": sorted(f.id for f in engine.findings(summary.scan_id, owner="offline"))}))
anyio.run(main)
"""


async def test_a_scan_without_network_gives_the_same_findings(
    tmp_path: Path, settings: SecurityScanSettings
) -> None:
    online = ScanEngine(settings)
    summary = await online.scan(VULNERABLE, owner=OWNER)
    expected = sorted(f.id for f in online.findings(summary.scan_id, owner=OWNER))
    require_program("unshare")
    probe = await anyio.run_process(["unshare", "--net", "true"], check=False)
    if probe.returncode != 0:
        unavailable(f"cannot create a network namespace here: {probe.stderr.decode().strip()}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = await anyio.run_process(
        ["unshare", "--net", sys.executable, "-c", OFFLINE_SCAN, str(VULNERABLE), str(tmp_path / "cache")],
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    offline = json.loads(result.stdout)
    assert set(offline["status"].values()) == {"ran"}, offline["status"]
    assert offline["ids"] == expected


async def test_cancelling_a_scan_kills_the_scanner_processes(tmp_path: Path, project: Path) -> None:
    engine = ScanEngine(SecurityScanSettings(cache_dir=tmp_path / "cache"))
    for name in ("checkov", "semgrep"):
        assert (await engine.toolchain.tool(name)).path is not None  # versions probed before the clock starts
    finished = anyio.Event()

    async def scan() -> None:
        await engine.scan(project, scanners=["checkov", "semgrep"], owner=OWNER)
        finished.set()

    async def running() -> bytes:
        return (await anyio.run_process(["pgrep", "-f", str(tmp_path / "cache")], check=False)).stdout

    async with anyio.create_task_group() as group:
        group.start_soon(scan)
        with anyio.fail_after(120):  # cancel once the scanner processes exist, not after a guess
            while not await running():
                assert not finished.is_set(), "the scan ended before its scanners were seen"
                await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert not finished.is_set()
    assert await running() == b""


async def test_the_scanned_tree_cannot_hijack_a_scanner(
    tmp_path: Path, settings: SecurityScanSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project holding `types.py` and a `.semgrepignore`, scanned by a server started with
    PYTHONPATH=".": the scanners neither import the project's modules nor obey its ignore files."""
    project = tmp_path / "hostile"
    project.mkdir()
    marker = tmp_path / "imported"
    (project / "types.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    (project / "enum.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (project / ".semgrepignore").write_text("*.py\n")
    (project / "app.py").write_text("import os\nos.system(input())\n")
    monkeypatch.setenv("PYTHONPATH", ".")
    monkeypatch.chdir(project)
    engine = ScanEngine(settings)
    summary = await engine.scan(project, scanners=["bandit", "semgrep", "detect-secrets"], owner=OWNER)
    assert all(r.status in ("ran", "cached") for r in summary.scanners), summary.scanners
    assert not marker.exists()
    rules = {(f.scanner, f.rule_id) for f in engine.findings(summary.scan_id, owner=OWNER)}
    assert ("semgrep", "code.python.subprocess-shell-true") in rules
    assert ("bandit", "B605") in rules
