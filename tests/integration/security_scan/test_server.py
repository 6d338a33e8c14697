"""The security-scan server through real MCP client sessions (memory, stdio, SSE, streamable HTTP)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest

from tests.integration.security_scan.conftest import FIXTURES, VULNERABLE
from tests.support.connect import Connector
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
FAST = ["bandit", "hadolint", "shellcheck"]
TOOLS = {
    "scan_path", "scan_findings", "scan_finding", "scan_diff", "scan_export_sarif", "scan_dependencies",
    "scan_sbom", "scan_scanners_available", "scan_with_rule", "scan_licenses",
}  # fmt: skip


def _config(cache: Path, *roots: Path) -> dict[str, Any]:
    return {
        "policy": {"scan_roots": [str(r) for r in (FIXTURES, *roots)]},
        "security_scan": {"cache_dir": str(cache)},
    }


async def test_tools_are_read_only_titled_and_prefixed(connect: Connector, shared_cache: Path) -> None:
    async with connect("security-scan", _config(shared_cache)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations is not None
        assert tool.annotations.title
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema is not None
    assert tools["scan_path"].annotations.idempotent_hint is False  # type: ignore[union-attr]


async def test_scan_then_page_through_findings(
    connect: Connector, shared_cache: Path, scanners_installed: None
) -> None:
    async with connect("security-scan", _config(shared_cache)) as client:
        with anyio.fail_after(300):
            scan = await client.call_tool("scan_path", {"path": "vulnerable_project", "scanners": FAST})
        assert not scan.is_error, scan.content
        summary = scan.structured_content
        assert summary is not None
        assert [s["status"] for s in summary["scanners"]] in (["ran"] * 3, ["cached"] * 3)
        assert summary["root"] == str(VULNERABLE)

        first = await client.call_tool("scan_findings", {"scan_id": summary["scan_id"], "limit": 3})
        page = first.structured_content
        assert page is not None
        assert len(rows(page)) == 3
        assert page["total"] == summary["total"]
        assert page["next_cursor"] and page["truncated"]
        rest = await client.call_tool(
            "scan_findings", {"scan_id": summary["scan_id"], "limit": 200, "cursor": page["next_cursor"]}
        )
        assert rest.structured_content is not None
        ids = [f["id"] for f in rows(page) + rows(rest.structured_content)]
        assert len(ids) == len(set(ids)) == summary["total"]
        assert rest.structured_content["next_cursor"] is None

        high = await client.call_tool(
            "scan_findings", {"scan_id": summary["scan_id"], "min_severity": "high", "scanner": "bandit"}
        )
        assert high.structured_content is not None
        assert {f["rule_id"] for f in rows(high.structured_content)} == {"B602", "B307", "B301"}

        one = await client.call_tool("scan_finding", {"finding_id": ids[0]})
        assert one.structured_content is not None
        assert one.structured_content["id"] == ids[0]


async def test_progress_is_reported_per_scanner(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    connect = Connector("memory", tmp_path)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect("security-scan", _config(shared_cache)) as client:
        result = await client.call_tool(
            "scan_path", {"path": str(VULNERABLE), "scanners": FAST}, progress_callback=on_progress
        )
    assert not result.is_error
    assert sorted(p for p, _, _ in seen) == [1, 2, 3]
    assert all(total == 3 for _, total, _ in seen)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "outside the allowed roots"),
        ("../../../../etc", "outside the allowed roots"),
        ("/dev/null", "outside the allowed roots"),
        ("vulnerable_project/\x00x", "NUL"),
        ("escape", "outside the allowed roots"),
        ("pipe", "FIFO"),
        ("missing-dir", "does not exist"),
    ],
)
async def test_hostile_paths_are_refused(tmp_path: Path, shared_cache: Path, path: str, message: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(root / "pipe")
    connect = Connector("memory", tmp_path)
    async with connect(
        "security-scan", {**_config(shared_cache), "policy": {"scan_roots": [str(root)]}}
    ) as client:
        result = await client.call_tool("scan_path", {"path": path, "scanners": ["bandit"]})
        deps = await client.call_tool("scan_dependencies", {"path": path})
    assert result.is_error
    assert message.lower() in str(result.content).lower(), result.content
    assert deps.is_error


async def test_sarif_export_validates_and_unknown_ids_say_what_to_do(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    connect = Connector("memory", tmp_path)
    schema = json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text())
    async with connect("security-scan", _config(shared_cache, tmp_path)) as client:
        scan = await client.call_tool("scan_path", {"path": str(VULNERABLE), "scanners": FAST})
        assert scan.structured_content is not None
        scan_id = scan.structured_content["scan_id"]
        pages: list[dict[str, Any]] = []
        cursor = None
        while not pages or cursor is not None:
            arguments = {"scan_id": scan_id} if cursor is None else {"scan_id": scan_id, "cursor": cursor}
            exported = await client.call_tool("scan_export_sarif", arguments)
            assert exported.structured_content is not None, exported.content
            jsonschema.validate(exported.structured_content["sarif"], schema)
            pages.append(exported.structured_content["sarif"])
            cursor = exported.structured_content["next_cursor"]
        baseline = tmp_path / "baseline.sarif"
        baseline.write_text(json.dumps(pages))
        diff = await client.call_tool("scan_diff", {"scan_id": scan_id, "baseline": str(baseline)})
        assert diff.structured_content is not None
        assert (diff.structured_content["new_total"], diff.structured_content["fixed_total"]) == (0, 0)
        outside = await client.call_tool("scan_diff", {"scan_id": scan_id, "baseline": "/etc/passwd"})
        assert outside.is_error
        unknown = await client.call_tool("scan_findings", {"scan_id": "nope"})
        assert unknown.is_error
        assert "run scan_path first" in str(unknown.content)
        bad_cursor = await client.call_tool("scan_findings", {"scan_id": scan_id, "cursor": "garbage"})
        assert bad_cursor.is_error


async def test_dependencies_sbom_and_scanner_list(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    connect = Connector("memory", tmp_path)
    async with connect("security-scan", _config(shared_cache)) as client:
        deps = await client.call_tool("scan_dependencies", {"path": "vulnerable_project"})
        sbom = await client.call_tool("scan_sbom", {"path": "vulnerable_project"})
        scanners = await client.call_tool("scan_scanners_available", {})
    assert deps.structured_content is not None
    assert {a["package"] for a in deps.structured_content["advisories"]} == {"jinja2", "requests"}
    assert sbom.structured_content is not None
    assert sbom.structured_content["components"] == 2
    assert sbom.structured_content["bom"]["bomFormat"] == "CycloneDX"
    assert scanners.structured_content is not None
    listed = {s["name"]: s for s in scanners.structured_content["scanners"]}
    assert set(listed) == {"bandit", "semgrep", "detect-secrets", "checkov", "hadolint", "shellcheck"}
    assert all(s["available"] and s["version"] for s in listed.values())
