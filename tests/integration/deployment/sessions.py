"""An in-memory MCP client session to a deployment server built from a suite configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client
from mcp_types import CallToolResult

from servers.deployment.server import build_server
from shared.runtime import Runtime
from shared.settings import SuiteConfig


@asynccontextmanager
async def deployment_session(config: Mapping[str, Any], **client: Any) -> AsyncIterator[Client]:
    """Build the server with its own runtime (audit log, limiter) and connect one client
    (`client`: the SDK `Client`'s options, e.g. `mode` or `elicitation_callback`)."""
    suite = SuiteConfig.model_validate(dict(config))
    runtime = Runtime.from_config(suite)
    try:
        async with Client(build_server(suite, runtime=runtime), **client) as session:
            yield session
    finally:
        await runtime.aclose()


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call (fails the test with the error text otherwise)."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def error_text(result: CallToolResult) -> str:
    """The message of a refused call (fails the test if the call succeeded)."""
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)
