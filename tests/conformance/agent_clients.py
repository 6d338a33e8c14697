"""Agent frameworks as MCP clients of one server, run in their own virtualenv ($CODE_MCP_CACHE/agents).

    $CODE_MCP_CACHE/agents/bin/python tests/conformance/agent_clients.py SPEC.json

SPEC: {"frameworks": ["pydantic-ai", "openai-agents", "langchain-mcp-adapters"] (those installed here),
       "targets": [{"server": "...", "tool": "...", "arguments": {...},
                    "urls": {"sse": "http://…/sse", "http": "http://…/mcp"}}, …]}
For each framework, server and transport: list the server's tools and call the read-only tool the way that
framework's users do — a pydantic-ai `Agent` driven by its deterministic `TestModel` (which calls the
tool it is given), LangChain's `langchain-mcp-adapters` tools, the OpenAI Agents SDK's MCP servers.
Prints one JSON report per (framework, transport) on stdout; the test checks the results.
Not imported by pytest: the frameworks live outside the project's virtualenv.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

Report = dict[str, Any]


def _as_json(value: Any) -> Any:
    """A tool result (a dict, a JSON string or a list of text blocks) as JSON data."""
    if isinstance(value, dict | list) and not (
        isinstance(value, list) and value and isinstance(value[0], dict)
    ):
        return value
    if isinstance(value, list):  # LangChain content blocks: [{"type": "text", "text": "…"}]
        value = "".join(str(block.get("text", "")) for block in value)
    if isinstance(value, str):
        return json.loads(value)
    return value


async def pydantic_ai(url: str, tool: str, arguments: dict[str, Any]) -> Report:
    from pydantic_ai import Agent  # type: ignore[import-not-found]  # only in the agents venv
    from pydantic_ai.mcp import MCPToolset  # type: ignore[import-not-found]  # only in the agents venv
    from pydantic_ai.messages import ToolReturnPart  # type: ignore[import-not-found]  # only in the agents venv
    from pydantic_ai.models.test import TestModel  # type: ignore[import-not-found]  # only in the agents venv

    toolset: MCPToolset[None] = MCPToolset(url, tool_error_behavior="error")
    async with toolset:
        listed = await toolset.client.list_tools()
        agent = Agent(TestModel(call_tools=[tool]), toolsets=[toolset])
        result = await agent.run(f"Use {tool}.")
    returns = [
        part
        for message in result.all_messages()
        for part in getattr(message, "parts", [])
        if isinstance(part, ToolReturnPart) and part.tool_name == tool
    ]
    assert returns, f"the TestModel did not call {tool}"
    return {"tools": [t.name for t in listed], "result": _as_json(returns[0].content)}


async def langchain(url: str, tool: str, arguments: dict[str, Any], transport: str) -> Report:
    from langchain_mcp_adapters.client import MultiServerMCPClient  # type: ignore[import-not-found]  # only in the agents venv

    kind = "sse" if transport == "sse" else "streamable_http"
    client = MultiServerMCPClient({"code": {"url": url, "transport": kind}})
    tools = await client.get_tools()
    by_name = {t.name: t for t in tools}
    content = await by_name[tool].ainvoke(arguments)
    return {"tools": sorted(by_name), "result": _as_json(content)}


async def openai_agents(url: str, tool: str, arguments: dict[str, Any], transport: str) -> Report:
    from agents.mcp import MCPServerSse, MCPServerStreamableHttp  # type: ignore[import-not-found]  # only in the agents venv

    server = (
        MCPServerSse(params={"url": url}, name="code")
        if transport == "sse"
        else MCPServerStreamableHttp(params={"url": url}, name="code")
    )
    async with server:
        listed = await server.list_tools()
        result = await server.call_tool(tool, arguments)
    # The field names of the installed MCP SDK: snake_case in mcp 2.x, camelCase in 1.x.
    v2 = "is_error" in type(result).model_fields
    assert not (result.is_error if v2 else result.isError), result.content
    data = result.structured_content if v2 else result.structuredContent
    if data is None:
        data = _as_json(result.content[0].text)
    return {"tools": [t.name for t in listed], "result": data}


Client = Callable[[str, str, str, dict[str, Any]], Awaitable[Report]]
CLIENTS: dict[str, Client] = {
    "pydantic-ai": lambda url, _transport, tool, arguments: pydantic_ai(url, tool, arguments),
    "langchain-mcp-adapters": lambda url, transport, tool, arguments: langchain(
        url, tool, arguments, transport
    ),
    "openai-agents": lambda url, transport, tool, arguments: openai_agents(url, tool, arguments, transport),
}


async def main(spec: dict[str, Any]) -> int:
    reports = []
    for framework in spec["frameworks"]:
        for target in spec["targets"]:
            for transport, url in target["urls"].items():
                report: Report = {
                    "framework": framework,
                    "server": target["server"],
                    "transport": transport,
                    "ok": False,
                }
                try:
                    with anyio.fail_after(60):
                        report.update(
                            await CLIENTS[framework](url, transport, target["tool"], target["arguments"])
                        )
                    report["ok"] = True
                except Exception:
                    report["error"] = traceback.format_exc()[-3000:]
                reports.append(report)
    sys.stdout.write(json.dumps(reports, indent=2) + "\n")
    return 0 if all(r["ok"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(anyio.run(main, json.loads(Path(sys.argv[1]).read_text())))
