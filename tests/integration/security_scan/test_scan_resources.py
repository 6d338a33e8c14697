"""A scan as SARIF and its folder's SBOM as resources, the review prompt and scan-id completion,
through a real MCP session on a real bandit scan (the "write SARIF to a file" answer: the host
reads `scan://{id}/sarif` and saves it; the server needs no write tool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference, TextResourceContents

from tests.integration.security_scan.test_sarif_export import FUNCTIONS, VALIDATOR, _call, _config, _plant
from tests.support.connect import Connector

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _json(result: Any) -> Any:
    content = result.contents[0]
    assert isinstance(content, TextResourceContents) and content.mime_type == "application/json"
    return json.loads(content.text)


async def test_a_scan_reads_as_one_valid_sarif_log_and_an_sbom(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    project = _plant(tmp_path)
    (project / "requirements.txt").write_text("requests==2.19.0\n")
    connect = Connector("memory", tmp_path)
    async with connect("security-scan", _config(shared_cache, tmp_path)) as client:
        with anyio.fail_after(300):
            summary = await _call(client, "scan_path", {"path": str(project), "scanners": ["bandit"]})
        scan_id = summary["scan_id"]
        sarif = _json(await client.read_resource(f"scan://{scan_id}/sarif"))
        sbom = _json(await client.read_resource(f"scan://{scan_id}/sbom"))
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("scan://0123456789abcdef/sarif")
        ref = ResourceTemplateReference(type="ref/resource", uri="scan://{scan_id}/sarif")
        ids = await client.complete(ref, {"name": "scan_id", "value": scan_id[:3]})
        review = await client.get_prompt("security_review", {"path": str(project)})
        folders = await client.complete(
            PromptReference(type="ref/prompt", name="security_review"),
            {"name": "path", "value": str(tmp_path)},
        )
    assert not list(VALIDATOR.iter_errors(sarif)), "not valid SARIF 2.1.0"
    results = [r for run in sarif["runs"] for r in run["results"]]
    assert len(results) == 2 * FUNCTIONS + 1  # every finding, the suppressed one marked
    assert sum(1 for r in results if r.get("suppressions")) == 1
    assert sbom["bomFormat"] == "CycloneDX"
    assert [c["purl"] for c in sbom["components"]] == ["pkg:pypi/requests@2.19.0"]
    assert "no scan" in str(unknown.value)
    assert ids.completion.values == [scan_id]
    assert "scan_path" in str(review.messages[0].content)
    assert str(project) in folders.completion.values
