"""`code-mcp serve security-scan --root DIR`: a scan of the open workspace with no config file.

The server is a real stdio subprocess started the way an IDE starts it (`${workspaceFolder}` in the
args) and driven by the official SDK client; no `CODE_MCP_CONFIG`, no `[policy] scan_roots`.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.connect import REPO, subprocess_env

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@asynccontextmanager
async def _serve(tmp_path: Path, *extra: str) -> AsyncIterator[Client]:
    env = {k: v for k, v in subprocess_env().items() if not k.startswith("CODE_MCP_")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "servers", "serve", "security-scan", "--transport", "stdio", *extra],
        env=env,
        cwd=REPO,
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            yield client


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "app.py").write_text("def handler(x):\n    return eval(x)\n")
    return workspace


async def test_a_root_on_the_command_line_opens_the_workspace_to_the_scanners(
    tmp_path: Path, scanners_installed: None
) -> None:
    workspace = _workspace(tmp_path)
    async with _serve(tmp_path, "--root", str(workspace)) as client:
        result = await client.call_tool("scan_path", {"path": ".", "scanners": ["bandit"]})
        assert not result.is_error, result.content
        summary = result.structured_content
        assert summary is not None
        assert summary["complete"], summary
        assert summary["total"] >= 1 and summary["root"] == str(workspace.resolve()), summary
        outside = await client.call_tool("scan_path", {"path": str(REPO / "servers"), "scanners": ["bandit"]})
        assert outside.is_error  # only the folder given is open, nothing else
        assert "outside" in " ".join(getattr(b, "text", "") for b in outside.content)


async def test_without_a_root_the_refusal_says_how_to_open_a_folder(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    async with _serve(tmp_path) as client:
        result = await client.call_tool("scan_path", {"path": str(workspace), "scanners": ["bandit"]})
    assert result.is_error
    assert "--root DIR" in " ".join(getattr(b, "text", "") for b in result.content)


def test_a_root_that_is_not_a_folder_stops_the_server_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from servers.cli import main

    missing = tmp_path / "nowhere"
    assert main(["serve", "security-scan", "--root", str(missing)]) == 2
    assert f"--root {str(missing)!r}: not an existing folder" in capsys.readouterr().err
