"""Calling the monitoring server's tools from a real MCP client session, for the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp_types import CallToolResult

from tests.integration.monitoring.prom_stack import PromStack
from tests.support.connect import Connector


def suite_config(stack: PromStack, **monitoring: Any) -> dict[str, Any]:
    """A suite configuration whose `local` endpoint is the test Prometheus and `local` Alertmanager
    the test Alertmanager."""
    section: dict[str, Any] = {
        "endpoints": {"local": {"url": stack.prometheus, "retries": 1}},
        "alertmanagers": {"local": {"url": stack.alertmanager, "retries": 1}},
    }
    section.update(monitoring)
    return {"monitoring": section, "policy": {"url_allowlist": [stack.node_exporter]}}


@asynccontextmanager
async def session(tmp_path: Path, config: Mapping[str, Any]) -> AsyncIterator[Client]:
    """One in-memory client session to a monitoring server built from `config` (written to `tmp_path`)."""
    await anyio.Path(tmp_path).mkdir(parents=True, exist_ok=True)
    async with Connector("memory", tmp_path)("monitoring", config) as client:
        yield client


async def call(
    client: Client, tool: str, args: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    with anyio.fail_after(60):
        result = await client.call_tool(tool, args or {}, **kwargs)
    assert isinstance(result, CallToolResult)
    assert not result.is_error, result.content
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def error_of(client: Client, tool: str, args: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail as a tool error; its message."""
    with anyio.fail_after(60):
        result = await client.call_tool(tool, args or {})
    assert isinstance(result, CallToolResult)
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)
