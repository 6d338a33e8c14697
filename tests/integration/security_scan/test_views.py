"""The findings table (MCP Apps), drawn from a real scan in headless Chromium: highest severity
first, sortable, and a hostile project's file name shows as text, never as markup."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest

from tests.integration.security_scan.test_sarif_export import _config
from tests.support.browser import render_view, view_of, wire
from tests.support.connect import Connector

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

HOSTILE = "<img src=x onerror=document.title='owned'>.py"  # a valid file name
HIGH_RED = "#c62828"
RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def _cells(dom: str, column: int) -> list[str]:
    rows = re.findall(r'<tr class="finding">(.*?)</tr>', dom)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row)[column] for row in rows]


async def test_the_table_draws_a_real_scan_and_keeps_hostile_names_as_text(
    tmp_path: Path, shared_cache: Path, scanners_installed: None
) -> None:
    project = tmp_path / "hostile"
    project.mkdir()
    (project / HOSTILE).write_text("import subprocess\n\ndef run(x):\n    eval(x)\n")
    (project / "app.py").write_text("import hashlib\n\ndef h(x):\n    return hashlib.md5(x)\n")
    async with Connector("memory", tmp_path)("security-scan", _config(shared_cache, tmp_path)) as client:
        html = await view_of(client, "scan_findings")
        with anyio.fail_after(300):
            scan = await client.call_tool("scan_path", {"path": str(project), "scanners": ["bandit"]})
        scan_id = (scan.structured_content or {})["scan_id"]
        result = await client.call_tool("scan_findings", {"scan_id": scan_id})
    assert not result.is_error, result.content
    rows = (result.structured_content or {})["rows"]
    assert len(rows) >= 3
    drawn = render_view(html, wire(result), tmp_path, name="findings-table")
    click = "document.querySelector('th[data-key=line]').click();"
    click = f"<script>setTimeout(function () {{ {click} }}, 200);</script>"
    by_line = render_view(html, wire(result), tmp_path, name="findings-by-line", extra=click)

    assert drawn.dom.count('<tr class="finding">') == len(rows)
    severities = _cells(drawn.dom, 0)
    assert [RANK[s] for s in severities] == sorted((RANK[s] for s in severities), reverse=True)
    lines = [int(n) for n in _cells(by_line.dom, 3)]
    assert lines == sorted(lines) and 'aria-sort="ascending"' in by_line.dom  # the click sorted by line
    assert "&lt;img src=x onerror=document.title='owned'&gt;.py" in drawn.dom  # shown as text...
    shown = drawn.dom.split('<div id="view">', 1)[1].split("<script", 1)[0]
    assert "<img" not in shown and "<title>Scan findings</title>" in drawn.dom  # ...never run
    assert "high" in severities and drawn.pixels_like(HIGH_RED) > 50  # eval(): bandit B307 is high
