"""Serve `MCPServer`s over stdio, SSE (legacy) or streamable HTTP with the suite's edge wired in.

HTTP (both transports) gets: bearer auth through the SDK (`AuthSettings` + our `TokenVerifier`:
protected-resource metadata, 401 + `WWW-Authenticate`), DNS-rebinding protection on loopback,
`/healthz`, `/metrics`, and 429 + `Retry-After` when the caller's own quota is exhausted. Several
servers can share one app (`serve suite`): each under its own prefix, all on one `Runtime`.
Nothing here writes to stdout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.auth import auth_settings, identity_from_token, require_safe_exposure
from shared.metrics import CONTENT_TYPE_LATEST
from shared.ratelimit import caller_key, retry_after_seconds
from shared.runtime import Runtime

__all__ = [
    "EdgeLimit",
    "HttpTransport",
    "Mounted",
    "build_http_app",
    "config_snippet",
    "mcp_path",
    "run_http",
    "run_stdio",
    "serve_http",
    "serve_stdio",
]

HttpTransport = Literal["http", "sse"]


@dataclass(frozen=True, slots=True)
class Mounted:
    """One server in an HTTP app, under `prefix` (`""` for a single server, `/monitoring` in a suite)."""

    prefix: str
    server: MCPServer[Any]


def mcp_path(prefix: str, transport: HttpTransport) -> str:
    """The path a client connects to: `<prefix>/mcp` (streamable HTTP) or `<prefix>/sse`."""
    return f"{prefix}/mcp" if transport == "http" else f"{prefix}/sse"


def build_http_app(
    mounts: list[Mounted],
    runtime: Runtime,
    *,
    transport: HttpTransport = "http",
    host: str = "127.0.0.1",
    port: int = 8000,
    stateless: bool = False,
) -> Starlette:
    """One Starlette app serving every mounted server, with auth, limits, health and metrics.

    Raises:
        ConfigError: no authentication is configured and the bind is not explicitly allowed.
    """
    verifier = runtime.verifier
    authenticated = verifier.configured
    require_safe_exposure(
        host,
        authenticated=authenticated,
        allow_unauthenticated_loopback=runtime.allow_unauthenticated_loopback,
    )
    # The public base URL (behind a proxy) when configured, else where we listen.
    base = (runtime.config.auth.resource_url or f"http://{_url_host(host)}:{port}").rstrip("/")
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz(mounts, runtime)),
        Route("/metrics", _metrics(runtime)),
    ]
    edge_paths: list[str] = []
    for mount in mounts:
        server = mount.server
        if authenticated:
            # The SDK reads auth from these two attributes when it builds the transport app.
            server.settings.auth = auth_settings(
                base + mcp_path(mount.prefix, transport),
                issuer=runtime.jwt_issuer,
                required_scopes=runtime.required_scopes,
            )
            server._token_verifier = verifier
        if transport == "http":
            sub = server.streamable_http_app(
                streamable_http_path=mcp_path(mount.prefix, "http"), host=host, stateless_http=stateless
            )
            edge_paths.append(mcp_path(mount.prefix, "http"))
        else:
            sub = server.sse_app(
                sse_path=f"{mount.prefix}/sse", message_path=f"{mount.prefix}/messages/", host=host
            )
            edge_paths += [f"{mount.prefix}/sse", f"{mount.prefix}/messages/"]
        routes.extend(sub.routes)

    middleware: list[Middleware] = []
    if authenticated:
        middleware += [
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
            Middleware(AuthContextMiddleware),
        ]
    middleware.append(
        Middleware(EdgeLimit, runtime=runtime, paths=tuple(edge_paths), authenticated=authenticated)
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if transport == "http":
                for mount in mounts:
                    await stack.enter_async_context(mount.server.session_manager.run())
            yield

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _healthz(mounts: list[Mounted], runtime: Runtime) -> Any:
    names = [m.server.name for m in mounts]

    async def healthz(_: Request) -> Response:
        # 200 even when degraded: a Redis outage is handled by the fail policy, not by restarting pods.
        limits = runtime.limiter.health()
        return JSONResponse({"status": limits["status"], "servers": names, "limits": limits})

    return healthz


def _metrics(runtime: Runtime) -> Any:
    async def metrics(_: Request) -> Response:
        return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics


class EdgeLimit:
    """Answer 429 + `Retry-After` before a message reaches a server when the caller's quota is spent.

    Only the caller's own quotas (global, identity) are peeked, without charging: the guard charges
    the call itself. Runs inside the auth middleware so the caller is known.
    """

    def __init__(
        self, app: ASGIApp, *, runtime: Runtime, paths: tuple[str, ...], authenticated: bool
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.paths = paths
        self.authenticated = authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in ("GET", "POST")  # new streams and messages; DELETE always passes
            or not scope["path"].startswith(self.paths)
        ):
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        if isinstance(user, AuthenticatedUser):
            identity = identity_from_token(user.access_token)
        elif self.authenticated:
            await self.app(scope, receive, send)  # the SDK answers 401
            return
        else:
            identity = self.runtime.anonymous_identity
        decision = self.runtime.limiter.peek_caller(caller_key(identity))
        if decision is None:
            await self.app(scope, receive, send)
            return
        self.runtime.metrics.observe_refusal("http", "*", "rate_limit")
        seconds = retry_after_seconds(decision.retry_after_ms)
        body = json.dumps(
            {"error": "rate_limited", "rule": decision.rule, "retry_after_ms": decision.retry_after_ms}
        ).encode()
        response = Response(
            body, status_code=429, media_type="application/json", headers={"Retry-After": str(seconds)}
        )
        await response(scope, receive, send)


async def serve_http(app: Starlette, *, host: str, port: int) -> None:
    """Run `app` with uvicorn until cancelled; uvicorn logs through the root logger (stderr)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    await uvicorn.Server(config).serve()


async def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve one server over stdin/stdout (stdout carries JSON-RPC only)."""
    await server.run_stdio_async()


def run_stdio(server: MCPServer[Any], runtime: Runtime) -> None:
    """Serve over stdio until stdin closes, then close the runtime (flushing the audit log)."""

    async def main() -> None:
        try:
            await runtime.open()
            await serve_stdio(server)
        finally:
            with anyio.CancelScope(shield=True):
                await runtime.aclose()

    anyio.run(main)


def run_http(app: Starlette, runtime: Runtime, *, host: str, port: int) -> None:
    """Serve HTTP until interrupted, then close the runtime (flushing the audit log)."""

    async def main() -> None:
        try:
            await runtime.open()
            await serve_http(app, host=host, port=port)
        finally:
            with anyio.CancelScope(shield=True):
                await runtime.aclose()

    anyio.run(main)


def config_snippet(
    base_url: str, names: Mapping[str, str], token: str | None, *, transport: HttpTransport = "http"
) -> str:
    """The MCP client config (`mcpServers`) for servers at `base_url + path`, with the bearer header."""
    servers: dict[str, Any] = {}
    for name, path in names.items():
        entry: dict[str, Any] = {"type": transport, "url": base_url + path}
        if token is not None:
            entry["headers"] = {"Authorization": f"Bearer {token}"}
        servers[f"code-{name}"] = entry
    return json.dumps({"mcpServers": servers}, indent=2)
