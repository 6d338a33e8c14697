"""Serve `MCPServer`s over stdio, SSE (legacy) or streamable HTTP with the suite's edge wired in.

HTTP (both transports) gets: bearer auth through the SDK (`AuthSettings` + our `TokenVerifier`:
protected-resource metadata, 401 + `WWW-Authenticate`), a throttle on failed authentication per
client address, DNS-rebinding protection (Host/Origin) on every bind, a 403 for a credential that
does not open the server it calls, `/healthz` (up or down, nothing else), `/metrics` (behind a
credential), and 429 + `Retry-After` when the caller's own quota is exhausted. Several
servers can share one app (`serve suite`): each under its own prefix, all on one `Runtime`.
Nothing here writes to stdout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

import anyio
import structlog
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.auth import auth_settings, identity_from_token, is_loopback, require_safe_exposure
from shared.auth_settings import AuthSettings
from shared.metrics import CONTENT_TYPE_LATEST
from shared.ratelimit import FailureThrottle, caller_key, retry_after_seconds
from shared.runtime import Runtime

__all__ = [
    "AuthThrottle",
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
    "transport_security",
]

log = structlog.get_logger("code_mcp.runner")

HttpTransport = Literal["http", "sse"]


@dataclass(frozen=True, slots=True)
class Mounted:
    """One server in an HTTP app, under `prefix` (`""` for a single server, `/monitoring` in a suite)."""

    prefix: str
    server: MCPServer[Any]


def mcp_path(prefix: str, transport: HttpTransport) -> str:
    """The path a client connects to: `<prefix>/mcp` (streamable HTTP) or `<prefix>/sse`."""
    return f"{prefix}/mcp" if transport == "http" else f"{prefix}/sse"


def transport_security(host: str, port: int, auth: AuthSettings) -> TransportSecuritySettings:
    """DNS-rebinding protection for every bind: the Host and Origin headers a request may carry.

    Allowed hosts are the bind address itself, the loopback names when bound to loopback, and the
    names configured in `[auth] allowed_hosts`; a 0.0.0.0 bind admits only configured names (and
    loopback, for probes on the same machine).
    """
    hosts = [*auth.allowed_hosts, f"{_url_host(host)}:{port}"]
    origins = list(auth.allowed_origins)
    if is_loopback(host) or host in _WILDCARD_BINDS:
        hosts += [f"{name}:{port}" for name in _LOOPBACK_NAMES]
        origins += [f"http://{name}:{port}" for name in _LOOPBACK_NAMES]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


_LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_BINDS: Final = ("0.0.0.0", "::")  # noqa: S104 - names of binds, compared, never bound here


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
    auth = runtime.config.auth
    if host in _WILDCARD_BINDS and not auth.allowed_hosts:
        log.warning(
            "bound to every address but [auth] allowed_hosts is empty: only loopback Host headers are "
            "accepted; list the names clients use",
            host=host,
        )
    security = transport_security(host, port, auth)
    # The public base URL (behind a proxy) when configured, else where we listen.
    base = (auth.resource_url or f"http://{_url_host(host)}:{port}").rstrip("/")
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz(runtime)),
        Route("/metrics", _metrics(runtime, authenticated=authenticated)),
    ]
    edge: dict[str, str] = {}  # path -> the server behind it
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
                streamable_http_path=mcp_path(mount.prefix, "http"),
                host=host,
                stateless_http=stateless,
                transport_security=security,
            )
            edge[mcp_path(mount.prefix, "http")] = server.name
        else:
            sub = server.sse_app(
                sse_path=f"{mount.prefix}/sse",
                message_path=f"{mount.prefix}/messages/",
                host=host,
                transport_security=security,
            )
            edge[f"{mount.prefix}/sse"] = edge[f"{mount.prefix}/messages/"] = server.name
        routes.extend(sub.routes)

    middleware: list[Middleware] = []
    if authenticated:
        middleware += [
            Middleware(AuthThrottle, throttle=FailureThrottle(auth.failures), runtime=runtime),
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
            Middleware(AuthContextMiddleware),
        ]
    middleware.append(Middleware(EdgeLimit, runtime=runtime, paths=edge, authenticated=authenticated))

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


def _json(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _healthz(runtime: Runtime) -> Any:
    async def healthz(_: Request) -> Response:
        # Up while calls can be served: a Redis outage under `fail = "open"` still serves (with local
        # limits); under `fail = "closed"` every call would be refused, so the replica is down.
        health = runtime.limiter.health()
        down = health.get("status") != "ok" and runtime.config.limits.fail == "closed"
        return _json(503 if down else 200, {"status": "down" if down else "up"})

    return healthz


def _metrics(runtime: Runtime, *, authenticated: bool) -> Any:
    public = runtime.config.auth.metrics_public or not authenticated

    async def metrics(request: Request) -> Response:
        if not public:
            user = request.scope.get("user")
            if not isinstance(user, AuthenticatedUser):
                return _json(
                    401,
                    {"error": "unauthenticated", "message": "/metrics needs a bearer token"},
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            if not runtime.permits(identity_from_token(user.access_token), "monitoring:read"):
                return _json(403, {"error": "forbidden", "message": "/metrics needs monitoring:read"})
        return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics


class AuthThrottle:
    """Answer 429 to a client address that keeps presenting bad bearer tokens.

    Runs outside the auth middleware: a request with a bearer token from an address whose failure
    quota is spent is refused before its token is even checked; a token that then fails to verify
    is charged to the address.
    """

    def __init__(self, app: ASGIApp, *, throttle: FailureThrottle, runtime: Runtime) -> None:
        self.app = app
        self.throttle = throttle
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_bearer(scope):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        decision = self.throttle.peek(address)
        if decision is not None:
            self.runtime.metrics.observe_refusal("http", "*", "auth_failures")
            seconds = retry_after_seconds(decision.retry_after_ms)
            body: dict[str, Any] = {
                "error": "too_many_failed_authentications",
                "retry_after_ms": decision.retry_after_ms,
            }
            await _json(429, body, {"Retry-After": str(seconds)})(scope, receive, send)
            return
        await self.app(scope, receive, send)
        if not isinstance(scope.get("user"), AuthenticatedUser):
            self.throttle.fail(address)


def _has_bearer(scope: Scope) -> bool:
    for key, value in scope.get("headers") or ():
        if key.lower() == b"authorization":
            return bytes(value[:7]).lower() == b"bearer "
    return False


class EdgeLimit:
    """Before a message reaches a server: 403 when the credential does not open that server, and
    429 + `Retry-After` when the caller's own quota is spent.

    Only the caller's own quotas (global, identity) are peeked, without charging: the guard charges
    the call itself. Runs inside the auth middleware so the caller is known.
    """

    def __init__(
        self, app: ASGIApp, *, runtime: Runtime, paths: Mapping[str, str], authenticated: bool
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.paths = dict(paths)
        self.prefixes = tuple(paths)
        self.authenticated = authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
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
        server = next(name for path, name in self.paths.items() if scope["path"].startswith(path))
        if not identity.may_use(server):
            message = f"this credential does not open the {server} server"
            await _json(403, {"error": "forbidden", "message": message})(scope, receive, send)
            return
        if scope.get("method") not in ("GET", "POST"):  # DELETE (end of session) always passes
            await self.app(scope, receive, send)
            return
        decision = await self.runtime.limiter.peek_caller(caller_key(identity))
        if decision is None:
            await self.app(scope, receive, send)
            return
        self.runtime.metrics.observe_refusal("http", "*", "rate_limit")
        seconds = retry_after_seconds(decision.retry_after_ms)
        body: dict[str, Any] = {
            "error": "rate_limited",
            "rule": decision.rule,
            "retry_after_ms": decision.retry_after_ms,
        }
        await _json(429, body, {"Retry-After": str(seconds)})(scope, receive, send)


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
