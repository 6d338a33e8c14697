"""A malicious scanned project, through a real MCP session with the real scanners: every control a
project has over a scanner (config files, inline pragmas, its own suppression file, symlinks that
once made a scanner fail the whole run) must not hide a finding, and another caller must not see
the scan at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from servers.security_scan.server import build_server
from shared.identity import Identity
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.hostile.conftest import Attempt
from tests.integration.security_scan.test_hostile_project import SCANNERS, _plant
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# (attack, scanner, rule, path): the finding each silencing attempt tried to hide.
PLANTED = [
    ("# nosec on os.system", "bandit", "B605", "app.py"),
    ("# nosec B307 on eval", "bandit", "B307", "app.py"),
    ("[tool.bandit] / .bandit / setup.cfg skips", "bandit", "B307", "sub/more.py"),
    ("# nosemgrep", "semgrep", "code.python.eval-exec", "app.py"),
    ("# nosem: rule id", "semgrep", "code.python.eval-exec", "sub/more.py"),
    (".semgrepignore matching *.py", "semgrep", "code.python.subprocess-shell-true", "app.py"),
    ("# pragma: allowlist secret", "detect-secrets", "AWS Access Key", "keys.py"),
    (".secrets.baseline marking it safe", "detect-secrets", "AWS Access Key", "keys.py"),
    ("# checkov:skip in a Dockerfile", "checkov", "CKV_DOCKER_7", "Dockerfile"),
    ("checkov.io/skip annotations", "checkov", "CKV_K8S_19", "k8s/pod.yaml"),
    ("inline checkov:skip on privileged", "checkov", "CKV_K8S_16", "k8s/pod.yaml"),
    ("# hadolint ignore=DL3007", "hadolint", "DL3007", "Dockerfile"),
    ("# hadolint global ignore", "hadolint", "DL3002", "Dockerfile"),
    ("# shellcheck disable=SC2086", "shellcheck", "SC2086", "scripts/one.sh"),
    ("# shellcheck disable=all", "shellcheck", "SC2086", "scripts/all.sh"),
    (".shellcheckrc disable=all", "shellcheck", "SC2086", "scripts/block.sh"),
    ("# nosec # noqa on a pinned requirement", "dependencies", "CVE-2018-18074", "requirements.txt"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scan-roots") / "project"
    _plant(root)
    return root


def config(project: Path, cache: Path) -> SuiteConfig:
    return SuiteConfig.model_validate(
        {
            "role": "viewer",
            "policy": {"scan_roots": [str(project.parent)]},
            "limits": {"identity": {"rate": 1000, "burst": 1000}},
            "security_scan": {"cache_dir": str(cache)},
        }
    )


@pytest.fixture(scope="module")
async def scanned(
    project: Path, tmp_path_factory: pytest.TempPathFactory, scanners_installed: None
) -> AsyncIterator[tuple[Runtime, Client, dict[str, Any]]]:
    runtime = Runtime(config(project, tmp_path_factory.mktemp("scan-cache")))
    runtime.local_identity = Identity("alice", "viewer", "local")
    async with Client(build_server(runtime.config, runtime=runtime)) as client:
        with anyio.fail_after(900):
            result = await client.call_tool("scan_path", {"path": str(project), "scanners": SCANNERS})
        assert not result.is_error, result.content
        yield runtime, client, dict(result.structured_content or {})


async def findings(client: Client, scan_id: str) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    cursor = None
    while True:
        args: dict[str, Any] = {"scan_id": scan_id, "limit": 200, "columns": ["scanner", "rule_id", "path"]}
        if cursor:
            args["cursor"] = cursor
        page = (await client.call_tool("scan_findings", args)).structured_content or {}
        found |= {(f["scanner"], f["rule_id"], f["path"]) for f in rows(page)}
        cursor = page.get("next_cursor")
        if not cursor:
            return found


async def test_no_project_control_hides_a_finding(
    scanned: tuple[Runtime, Client, dict[str, Any]], attempt: Attempt
) -> None:
    _, client, summary = scanned
    found = await findings(client, summary["scan_id"])
    for what, scanner, rule, path in PLANTED:
        with attempt("scanned project", f"{what} ({scanner})"):
            assert (scanner, rule, path) in found, (what, sorted(f for f in found if f[0] == scanner))
    with attempt("scanned project", "its own .security-scan.toml with rule='*' path='*'"):
        assert summary["suppressed"] == 0 and summary["suppressions_ignored"] >= 1
    with attempt("scanned project", "a symlinked .py that made semgrep fail the run"):
        assert summary["complete"] is True
        assert {s["name"]: s["status"] for s in summary["scanners"]}["semgrep"] == "ran"
    with attempt("scanned project", "a symlink out of the tree to /etc/passwd"):
        assert "escape.py" in str(summary["skipped_paths"]) and "root:" not in str(found)


async def test_another_caller_gets_unknown_scan(
    scanned: tuple[Runtime, Client, dict[str, Any]], attempt: Attempt
) -> None:
    runtime, _, summary = scanned
    scan_id = summary["scan_id"]
    runtime.local_identity = Identity("mallory", "viewer", "local")
    try:
        async with Client(build_server(runtime.config, runtime=runtime)) as other:
            for tool, args in {
                "scan_findings": {"scan_id": scan_id},
                "scan_export_sarif": {"scan_id": scan_id},
                "scan_diff": {"scan_id": scan_id, "baseline": scan_id},
            }.items():
                with attempt("scan ownership", f"{tool} of another caller's scan"):
                    result = await other.call_tool(tool, args)
                    made_up = await other.call_tool(tool, {k: "0" * 16 for k in args})
                    # The same answer as for a scan that never existed: nothing says it does.
                    assert result.is_error and made_up.is_error
                    shown = str(result.content).replace(scan_id, "0" * 16)
                    assert shown == str(made_up.content) and "no scan" in shown
    finally:
        runtime.local_identity = Identity("alice", "viewer", "local")
