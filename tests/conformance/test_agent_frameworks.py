"""Agent frameworks as their users connect, over SSE and streamable HTTP: a pydantic-ai `Agent` with
its deterministic `TestModel` (which calls the tool it is given), LangChain's `langchain-mcp-adapters`,
and the OpenAI Agents SDK's MCP client. Each lists the tools and gets a correct read-only result.

The frameworks live in their own virtualenvs under $CODE_MCP_CACHE (scripts/setup.d/80-conformance.sh):
their MCP SDK pins differ from ours. tests/conformance/agent_clients.py runs inside them.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conformance.targets import READ_CALLS, SERVER_NAMES, SETUP_HINT, stdio_env, suite_config
from tests.support.connect import REPO, Connector
from tests.support.services import cache_dir, unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

TIMEOUT_S = 180.0
SCRIPT = Path(__file__).resolve().parent / "agent_clients.py"
VENVS = {
    "agents": ("pydantic-ai", "openai-agents"),
    "agents-langchain": ("langchain-mcp-adapters",),
}


def venv_python(name: str) -> Path:
    cache = cache_dir()
    python = cache / name / "bin" / "python"
    if not python.is_file():
        unavailable(f"{python} is missing ({SETUP_HINT})")
    return python


async def run_agents(python: Path, spec: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    spec_file = tmp_path / f"spec-{python.parent.parent.name}.json"
    spec_file.write_text(json.dumps(spec))
    env = {k: v for k, v in stdio_env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with anyio.fail_after(TIMEOUT_S):
        proc = await anyio.run_process(
            [str(python), str(SCRIPT), str(spec_file)], env=env, cwd=REPO, check=False
        )
    try:
        reports: list[dict[str, Any]] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"{SCRIPT.name} printed no report ({proc.returncode}):\n{proc.stderr.decode()[-3000:]}")
    return reports


async def test_agent_frameworks_list_tools_and_get_a_read_only_result(tmp_path: Path) -> None:
    """Every framework, against every server, over SSE and streamable HTTP (one process per virtualenv)."""
    pythons = {name: venv_python(name) for name in VENVS}
    reports: list[dict[str, Any]] = []
    async with AsyncExitStack() as stack:
        targets = []
        for server in SERVER_NAMES:
            urls = {}
            for transport in ("sse", "http"):
                folder = tmp_path / server / transport
                folder.mkdir(parents=True)
                config = suite_config(folder)
                served = await stack.enter_async_context(Connector(transport, folder).serve(server, config))
                urls[transport] = served.url
            call = READ_CALLS[server]
            targets.append({"server": server, "tool": call.tool, "arguments": call.arguments, "urls": urls})
        for name, frameworks in VENVS.items():
            spec = {"frameworks": frameworks, "targets": targets}
            reports += await run_agents(pythons[name], spec, tmp_path)
    failed = [r for r in reports if not r["ok"]]
    assert not failed, json.dumps(failed, indent=2)[:6000]
    assert sorted((r["framework"], r["server"], r["transport"]) for r in reports) == sorted(
        (f, s, t) for fs in VENVS.values() for f in fs for s in SERVER_NAMES for t in ("sse", "http")
    )
    for report in reports:
        call = READ_CALLS[report["server"]]
        assert call.tool in report["tools"], report["framework"]
        call.check(report["result"])
