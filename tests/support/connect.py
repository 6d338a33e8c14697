"""One way to reach a server under test over every transport, with the official SDK client.

    async def test_echo(connect: Connector) -> None:       # runs 4 times: memory, stdio, sse, http
        async with connect("tests.support.demo_server:build_server", {"role": "viewer"}) as client:
            result = await client.call_tool("demo_echo", {"text": "hi"})

- `memory`: the server built in this process, `mcp.Client(server)`.
- `stdio`: a real `code-mcp serve <server> --transport stdio` subprocess.
- `sse` / `http`: the runner's real HTTP app (auth, edge limits, /healthz, /metrics) served by
  uvicorn on a free loopback port in this event loop; the client speaks real HTTP to it.

`server` is a `code-mcp` server name (`monitoring`, …) or a `module:factory` path; `config` is
the TOML data of the suite configuration (written to a file for the server). For the HTTP
transports, a config without `[auth]` keys is served with `allow_unauthenticated_loopback`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import tomli_w
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from servers.cli import resolve
from shared.config import load_config
from shared.runner import Mounted, build_http_app, mcp_path
from shared.runtime import Runtime
from tests.support.services import free_port

TransportName = Literal["memory", "stdio", "sse", "http"]
TRANSPORTS: tuple[TransportName, ...] = ("memory", "stdio", "sse", "http")
REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0


@dataclass
class Served:
    """A server running for a test: its runtime (in-process transports) and URL (HTTP transports)."""

    transport: TransportName
    config_file: Path
    server: MCPServer[Any] | None = None
    runtime: Runtime | None = None
    base_url: str | None = None
    url: str | None = None
    stderr_file: Path | None = None


def subprocess_env() -> dict[str, str]:
    """The environment for a server subprocess: ours, with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


@asynccontextmanager
async def serve_app(
    app: Starlette, port: int | None = None, *, host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in this event loop; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(STARTUP_TIMEOUT_S):
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await anyio.sleep(0.01)
        try:
            yield f"http://{host}:{port}"
        finally:
            server.should_exit = True


class Connector:
    """The `connect` fixture's value: `async with connect(server, config) as client: ...`."""

    def __init__(self, transport: TransportName, tmp_path: Path) -> None:
        self.transport = transport
        self.tmp_path = tmp_path
        self._count = 0

    def write_config(self, config: Mapping[str, Any]) -> Path:
        """Write TOML config data to a fresh file and return its path."""
        self._count += 1
        path = self.tmp_path / f"config-{self._count}.toml"
        path.write_text(tomli_w.dumps(dict(config)))
        return path

    def _effective(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        data = dict(config or {})
        auth = dict(data.get("auth", {}))
        if self.transport in ("sse", "http") and not auth.get("api_keys") and not auth.get("jwt"):
            auth.setdefault("allow_unauthenticated_loopback", True)
        if auth:
            data["auth"] = auth
        return data

    @asynccontextmanager
    async def serve(self, server: str, config: Mapping[str, Any] | None = None) -> AsyncIterator[Served]:
        """Start the server for this transport (stdio: only prepared; the client spawns it)."""
        config_file = self.write_config(self._effective(config))
        served = Served(self.transport, config_file)
        if self.transport == "stdio":
            served.stderr_file = self.tmp_path / f"stderr-{self._count}.log"
            yield served
            return
        runtime = Runtime.from_config(load_config(config_file))
        _, factory = resolve(server)
        served.runtime = runtime
        served.server = factory(runtime.config, runtime=runtime)
        try:
            if self.transport == "memory":
                yield served
                return
            port = free_port()
            app = build_http_app([Mounted("", served.server)], runtime, transport=self.transport, port=port)
            async with serve_app(app, port) as base_url:
                served.base_url = base_url
                served.url = base_url + mcp_path("", self.transport)
                yield served
        finally:
            await runtime.aclose()

    @asynccontextmanager
    async def client(self, served: Served, server: str, *, token: str | None = None) -> AsyncIterator[Client]:
        """An SDK client session to a served server."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with AsyncExitStack() as stack:
            if served.transport == "memory":
                assert served.server is not None
                target: Any = served.server
            elif served.transport == "stdio":
                params = StdioServerParameters(
                    command=sys.executable,
                    args=[
                        "-m",
                        "servers",
                        "serve",
                        server,
                        "--transport",
                        "stdio",
                        "--config",
                        str(served.config_file),
                    ],
                    env={"PYTHONPATH": subprocess_env()["PYTHONPATH"]},
                    cwd=REPO,
                )
                assert served.stderr_file is not None
                errlog = stack.enter_context(served.stderr_file.open("w"))
                target = stdio_client(params, errlog=errlog)
            elif served.transport == "sse":
                assert served.url is not None
                target = sse_client(served.url, headers=headers)
            else:
                assert served.url is not None
                http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
                target = streamable_http_client(served.url, http_client=http)
            client = await stack.enter_async_context(Client(target))
            yield client

    @asynccontextmanager
    async def __call__(
        self, server: str, config: Mapping[str, Any] | None = None, *, token: str | None = None
    ) -> AsyncIterator[Client]:
        """Serve `server` with `config` and connect one client to it."""
        async with self.serve(server, config) as served, self.client(served, server, token=token) as client:
            yield client
