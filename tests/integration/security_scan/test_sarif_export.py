"""scan_export_sarif in pages through real MCP sessions, on a real bandit scan of hundreds of findings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp import Client

from servers.security_scan.sarif_ops import FINGERPRINT_KEY
from shared.paging import CursorCodec
from tests.integration.security_scan.conftest import FIXTURES
from tests.support.connect import Connector
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
SCHEMA = json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
FUNCTIONS = 150  # each plants eval (B307) and shell=True (B602), both high
MAX_CHARS = 6_000


def _plant(root: Path) -> Path:
    """A project with 2 * FUNCTIONS + 1 bandit findings; the `import subprocess` one (B404) is suppressed."""
    project = root / "many"
    project.mkdir()
    body = [
        f"def handler_{i}(x):\n    eval(x)\n    subprocess.call(x, shell=True)\n\n\n"
        for i in range(FUNCTIONS)
    ]
    (project / "app.py").write_text("import subprocess\n\n\n" + "".join(body))
    (project / ".security-scan.toml").write_text('[[suppress]]\nrule = "B404"\nreason = "planted"\n')
    return project


def _config(cache: Path, root: Path, **output: int) -> dict[str, Any]:
    return {
        "policy": {"scan_roots": [str(root)]},
        # trusted, so the planted project's own .security-scan.toml (B404) applies
        "security_scan": {"cache_dir": str(cache), "trusted_roots": [str(root)]},
        "output": {"max_items": 50, "max_chars": MAX_CHARS, **output},
        # Paging a large export is many quick calls; the default 20/s identity quota is not under test here.
        "limits": {"identity": {"rate": 1000, "burst": 1000}},
    }


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def _scan(client: Client, project: Path) -> str:
    with anyio.fail_after(300):
        summary = await _call(client, "scan_path", {"path": str(project), "scanners": ["bandit"]})
    assert summary["total"] == 2 * FUNCTIONS and summary["suppressed"] == 1, summary
    return str(summary["scan_id"])


async def _export(client: Client, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [await _call(client, "scan_export_sarif", arguments)]
    while pages[-1]["next_cursor"] is not None:
        assert len(pages) <= 2 * FUNCTIONS, "paging does not end"
        pages.append(
            await _call(client, "scan_export_sarif", {**arguments, "cursor": pages[-1]["next_cursor"]})
        )
    return pages


def _fingerprints(page: dict[str, Any]) -> list[str]:
    return [
        r["partialFingerprints"][FINGERPRINT_KEY] for run in page["sarif"]["runs"] for r in run["results"]
    ]


async def test_paging_exports_every_finding_once_in_valid_pages_within_the_budget(
    connect: Connector, tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    project = _plant(tmp_path)
    async with connect("security-scan", _config(shared_cache, tmp_path)) as client:
        scan_id = await _scan(client, project)
        pages = await _export(client, {"scan_id": scan_id})
        listed = await _call(
            client, "scan_findings", {"scan_id": scan_id, "include_suppressed": True, "limit": 200}
        )
        while listed["next_cursor"]:
            arguments = {"scan_id": scan_id, "include_suppressed": True, "limit": 200}
            more = await _call(client, "scan_findings", {**arguments, "cursor": listed["next_cursor"]})
            listed = {**more, "rows": listed["rows"] + more["rows"]}

    exported = [fp for page in pages for fp in _fingerprints(page)]
    assert len(exported) == len(set(exported)) == 2 * FUNCTIONS + 1
    assert set(exported) == {f["id"] for f in rows(listed)}
    assert len(pages) > 5  # the whole log is far over the budget
    for page in pages:
        VALIDATOR.validate(page["sarif"])
        assert len(json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode()) <= MAX_CHARS
        assert page["total_results"] == 2 * FUNCTIONS + 1
        assert page["sarif"]["properties"]["nextCursor"] == page["next_cursor"]
    suppressed = [
        r for p in pages for run in p["sarif"]["runs"] for r in run["results"] if "suppressions" in r
    ]
    assert [(r["ruleId"], r["suppressions"][0]["justification"]) for r in suppressed] == [("B404", "planted")]
    assert all("character budget" in p["note"] for p in pages[:-1])


async def test_all_pages_saved_together_are_a_scan_diff_baseline_and_one_page_is_refused(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    project = _plant(tmp_path)
    connect = Connector("memory", tmp_path)
    async with connect("security-scan", _config(shared_cache, tmp_path)) as client:
        scan_id = await _scan(client, project)
        pages = await _export(client, {"scan_id": scan_id})
        baseline = tmp_path / "baseline.sarif"
        baseline.write_text(json.dumps([page["sarif"] for page in pages]))
        diff = await _call(client, "scan_diff", {"scan_id": scan_id, "baseline": str(baseline)})
        assert (diff["new_total"], diff["fixed_total"], diff["unchanged_total"]) == (0, 0, 2 * FUNCTIONS)

        (project / "app.py").write_text((project / "app.py").read_text() + "def late(x):\n    eval(x)\n")
        rescan = await _scan_again(client, project)
        diff = await _call(client, "scan_diff", {"scan_id": rescan, "baseline": str(baseline)})
        assert (diff["new_total"], diff["fixed_total"]) == (1, 0)
        assert diff["new"][0]["rule_id"] == "B307"

        baseline.write_text(json.dumps(pages[0]["sarif"]))
        partial = await client.call_tool("scan_diff", {"scan_id": scan_id, "baseline": str(baseline)})
        assert partial.is_error
        assert f"of the {2 * FUNCTIONS + 1} results" in str(partial.content)
        baseline.write_text(json.dumps(pages[0]))  # the whole tool result, not its `sarif`
        wrapped = await client.call_tool("scan_diff", {"scan_id": scan_id, "baseline": str(baseline)})
        assert wrapped.is_error
        assert "not a SARIF 2.1.0 log" in str(wrapped.content)
        os.truncate(baseline, 65 * 2**20)  # sparse: refused by its size before it is read
        huge = await client.call_tool("scan_diff", {"scan_id": scan_id, "baseline": str(baseline)})
        assert huge.is_error
        assert "larger than 64 MiB" in str(huge.content)


async def _scan_again(client: Client, project: Path) -> str:
    with anyio.fail_after(300):
        summary = await _call(client, "scan_path", {"path": str(project), "scanners": ["bandit"]})
    return str(summary["scan_id"])


async def test_min_severity_and_limit_shape_the_pages(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    project = _plant(tmp_path)
    connect = Connector("memory", tmp_path)
    async with connect("security-scan", _config(shared_cache, tmp_path, max_chars=1_000_000)) as client:
        scan_id = await _scan(client, project)
        three = await _call(client, "scan_export_sarif", {"scan_id": scan_id, "limit": 3})
        assert three["results"] == 3 and three["next_cursor"]
        capped = await _call(client, "scan_export_sarif", {"scan_id": scan_id, "limit": 200})
        assert capped["results"] == 50  # [output] max_items bounds any limit
        assert "limit of 50 results" in capped["note"]
        high = await _export(client, {"scan_id": scan_id, "min_severity": "high", "limit": 200})
    levels = {r["properties"]["severity"] for p in high for run in p["sarif"]["runs"] for r in run["results"]}
    assert levels == {"high"}  # eval and shell=True normalise to high; the low B404 is left out
    assert sum(p["results"] for p in high) == high[0]["total_results"] == 2 * FUNCTIONS


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"cursor": "garbage"}, "cursor is invalid"),
        ({"cursor": "x" * 300}, "cursor"),
        ({"cursor": CursorCodec().encode(3, "another query")}, "belongs to another query"),
        ({"cursor": CursorCodec().encode(0, "")}, "cursor is invalid"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "3; rm -rf /"}, "limit"),
        ({"min_severity": "catastrophic"}, "min_severity"),
    ],
)
async def test_hostile_cursors_and_limits_are_refused(
    tmp_path: Path, shared_cache: Path, scanners_installed: None, arguments: dict[str, Any], message: str
) -> None:
    project = _plant(tmp_path)
    connect = Connector("memory", tmp_path)
    async with connect("security-scan", _config(shared_cache, tmp_path)) as client:
        scan_id = await _scan(client, project)
        result = await client.call_tool("scan_export_sarif", {"scan_id": scan_id, **arguments})
    assert result.is_error
    assert message in str(result.content), result.content


async def test_cursors_of_another_listing_scan_or_filter_are_refused(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    project = _plant(tmp_path)
    connect = Connector("memory", tmp_path)
    async with connect("security-scan", _config(shared_cache, tmp_path)) as client:
        scan_id = await _scan(client, project)
        other_scan = await _scan_again(client, project)
        findings_cursor = (await _call(client, "scan_findings", {"scan_id": scan_id, "limit": 1}))[
            "next_cursor"
        ]
        export_cursor = (await _call(client, "scan_export_sarif", {"scan_id": scan_id}))["next_cursor"]
        high_cursor = (
            await _call(client, "scan_export_sarif", {"scan_id": scan_id, "min_severity": "high"})
        )["next_cursor"]
        past_end = CursorCodec().encode(10**6, "forged: another key cannot sign a cursor of this server")
        attempts = {
            "a scan_findings cursor": {"scan_id": scan_id, "cursor": findings_cursor},
            "another scan's cursor": {"scan_id": other_scan, "cursor": export_cursor},
            "another filter's cursor": {"scan_id": scan_id, "cursor": high_cursor},
            "a forged cursor past the end": {"scan_id": scan_id, "cursor": past_end},
        }
        results = {what: await client.call_tool("scan_export_sarif", args) for what, args in attempts.items()}
        again = await _call(client, "scan_export_sarif", {"scan_id": scan_id, "cursor": export_cursor})
    for what, result in results.items():
        assert result.is_error, what
        assert "call again without a cursor" in str(result.content), (what, result.content)
    assert again["first_result"] > 1  # the right cursor still works


async def test_a_cursor_still_continues_after_its_export_left_the_engine_cache(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    project = _plant(tmp_path)
    connect = Connector("memory", tmp_path)
    async with connect("security-scan", _config(shared_cache, tmp_path)) as client:
        scans = [await _scan(client, project), await _scan_again(client, project)]
        first = await _call(client, "scan_export_sarif", {"scan_id": scans[0]})
        for scan_id in scans:  # ten other exports: more than the engine keeps prepared
            for severity in ("info", "low", "medium", "high", "critical"):
                await _call(client, "scan_export_sarif", {"scan_id": scan_id, "min_severity": severity})
        rest = await _export(client, {"scan_id": scans[0], "cursor": first["next_cursor"]})
    assert rest[0]["first_result"] == first["results"] + 1
    exported = _fingerprints(first) + [fp for page in rest for fp in _fingerprints(page)]
    assert len(exported) == len(set(exported)) == 2 * FUNCTIONS + 1
