"""Both protocol eras against every server: a 2025-era client (initialize handshake) and a
2026-07-28 client (`server/discover`, stateless), with the official SDK client over real transports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from tests.conformance.targets import READ_CALLS, SERVER_NAMES, stdio_command, suite_config
from tests.support.connect import REPO, Connector, TransportName, subprocess_env

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

Era = Literal["2025", "2026-07-28"]
CALL_TIMEOUT_S = 60.0

# HTTP+SSE is a 2025-era transport: the 2026-07-28 revision is served over stdio and streamable HTTP.
CASES = [
    pytest.param(server, era, transport, id=f"{server}-{era}-{transport}")
    for server in SERVER_NAMES
    for era, transports in (("2025", ("stdio", "sse", "http")), ("2026-07-28", ("stdio", "http")))
    for transport in transports
]


@asynccontextmanager
async def era_client(
    connector: Connector, server: str, config: dict[str, Any], mode: str, session_ids: list[str]
) -> AsyncIterator[Client]:
    """A client in `mode` connected to `server` over the connector's transport."""
    async with AsyncExitStack() as stack:
        served = await stack.enter_async_context(connector.serve(server, config))
        if connector.transport == "stdio":
            command = stdio_command(server, served.config_file)
            params = StdioServerParameters(
                command=command[0],
                args=command[1:],
                env={"PYTHONPATH": subprocess_env()["PYTHONPATH"]},
                cwd=REPO,
            )
            errlog = stack.enter_context((connector.tmp_path / "stderr.log").open("w"))
            target: Any = stdio_client(params, errlog=errlog)
        elif connector.transport == "sse":
            assert served.url is not None
            target = sse_client(served.url)
        else:
            assert served.url is not None

            async def remember_session(response: httpx2.Response) -> None:
                if sid := response.headers.get("mcp-session-id"):
                    session_ids.append(sid)

            http = await stack.enter_async_context(
                httpx2.AsyncClient(timeout=30, event_hooks={"response": [remember_session]})
            )
            target = streamable_http_client(served.url, http_client=http)
        yield await stack.enter_async_context(Client(target, mode=mode))


@pytest.mark.parametrize(("server", "era", "transport"), CASES)
async def test_era_lists_tools_and_calls_a_read_only_tool(
    server: str, era: Era, transport: TransportName, tmp_path: Path
) -> None:
    connector = Connector(transport, tmp_path)
    call = READ_CALLS[server]
    session_ids: list[str] = []
    mode = "legacy" if era == "2025" else "auto"  # auto: probe server/discover first
    with anyio.fail_after(CALL_TIMEOUT_S):
        async with era_client(connector, server, suite_config(tmp_path), mode, session_ids) as client:
            session = client.session
            if era == "2025":
                assert session.initialize_result is not None and session.discover_result is None
                assert client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
                assert client.server_info is not None and client.server_info.name == server
            else:
                # The server answered server/discover: no initialize handshake, no fallback.
                assert session.discover_result is not None and session.initialize_result is None
                assert client.protocol_version == "2026-07-28"
                assert "2026-07-28" in session.discover_result.supported_versions
            assert client.server_capabilities.tools is not None
            tools = {t.name: t for t in (await client.list_tools()).tools}
            annotations = tools[call.tool].annotations
            assert annotations is not None and annotations.read_only_hint is True
            result = await client.call_tool(call.tool, call.arguments)
            assert not result.is_error, result.content
            assert isinstance(result.structured_content, dict)
            call.check(result.structured_content)
            missing = await client.call_tool(f"{call.tool}_does_not_exist", {})
            assert missing.is_error
    if transport == "http":
        if era == "2025":
            assert session_ids, "a 2025-era streamable HTTP connection has an Mcp-Session-Id"
        else:
            assert not session_ids, f"2026-07-28 is stateless, yet the server set session ids {session_ids}"
