"""`@modelcontextprotocol/inspector-cli --cli` against each server over stdio, the way people check
servers in CI: `tools/list`, then one read-only `tools/call`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.conformance.targets import CLIENT_DIR, READ_CALLS, SERVER_NAMES, node_env, node_tool, stdio_command
from tests.conformance.targets import suite_config as make_config

pytestmark = [pytest.mark.conformance]

TIMEOUT_S = 120
# inspector-cli 1.0.3 finds its own package.json by a path relative to the working directory
# (`../package.json`), so it runs from its build folder.
INSPECTOR_CWD = CLIENT_DIR / "node_modules" / "@modelcontextprotocol" / "inspector-cli" / "build"


def inspect(server: str, tmp_path: Path, *method_args: str) -> dict[str, Any]:
    """Run `mcp-inspector-cli --cli <method args> -- <our stdio server>`; its stdout is JSON."""
    cli = node_tool("mcp-inspector-cli")
    config_file = tmp_path / "config.toml"
    config_file.write_text(tomli_w.dumps(make_config(tmp_path)))
    proc = subprocess.run(
        [str(cli), "--cli", *method_args, "--", *stdio_command(server, config_file)],
        cwd=INSPECTOR_CWD,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"inspector-cli failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize("server", SERVER_NAMES)
def test_inspector_lists_tools_with_titles_and_annotations(server: str, tmp_path: Path) -> None:
    listed = inspect(server, tmp_path, "--method", "tools/list")
    tools = {t["name"]: t for t in listed["tools"]}
    call = READ_CALLS[server]
    assert call.tool in tools
    for name, tool in tools.items():
        assert tool.get("title") and tool.get("outputSchema"), name
        assert isinstance(tool["annotations"]["readOnlyHint"], bool), name


@pytest.mark.parametrize("server", SERVER_NAMES)
def test_inspector_calls_a_read_only_tool(server: str, tmp_path: Path) -> None:
    call = READ_CALLS[server]
    args = [f"{key}={value}" for key, value in call.arguments.items()]
    result = inspect(
        server,
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        call.tool,
        *(["--tool-arg", *args] if args else []),
    )
    assert result.get("isError") is False, result
    call.check(result["structuredContent"])
    # The text block mirrors the structured result for clients that only read text.
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
