"""Attacks on the HTTP edge (streamable HTTP and SSE, real uvicorn on loopback): DNS rebinding on
every bind, forged and guessed credentials, a credential used beyond its servers, the metrics and
health endpoints, and calls to tools that do not exist."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest

from shared.auth import hash_api_key
from shared.runner import HttpTransport, Mounted, build_http_app, mcp_path
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.hostile.conftest import Attempt
from tests.support.connect import serve_app
from tests.support.demo_server import build_server
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SECRET = "s" * 40
KEY = "cmk_hostile_edge_0123456789"
ONE_ONLY = "cmk_hostile_one_only_0123456789"
TRANSPORTS: tuple[HttpTransport, ...] = ("http", "sse")


def keys() -> list[dict[str, Any]]:
    return [
        {"id": "ops", "sha256": hash_api_key(KEY), "role": "operator"},
        {"id": "one-only", "sha256": hash_api_key(ONE_ONLY), "role": "viewer", "servers": ["one"]},
    ]


@asynccontextmanager
async def edge(
    transport: HttpTransport, *, host: str = "127.0.0.1", authenticated: bool = True, **config: Any
) -> AsyncIterator[str]:
    auth: dict[str, Any] = {"allow_unauthenticated_loopback": True}
    if authenticated:
        auth = {
            "api_keys": keys(),
            "jwt": {"issuer": "https://iss", "audience": "code", "algorithms": ["HS256"], "secret": SECRET},
            "failures": {"rate": 0.001, "burst": 5},
        }
    suite = SuiteConfig.model_validate({"auth": auth, **config})
    runtime = Runtime(suite)
    mounts = [Mounted(f"/{name}", build_server(suite, runtime=runtime, name=name)) for name in ("one", "two")]
    port = free_port()
    app = build_http_app(mounts, runtime, transport=transport, host=host, port=port)
    try:
        async with serve_app(app, port, host=host) as base:
            yield base
    finally:
        await runtime.aclose()


async def first_message(
    base: str, transport: HttpTransport, *, prefix: str = "/one", headers: dict[str, str] | None = None
) -> httpx.Response:
    url = base + mcp_path(prefix, transport)
    async with httpx.AsyncClient(timeout=10) as http:
        if transport == "sse":
            async with http.stream("GET", url, headers=headers or {}) as response:
                return response
        params = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "x", "version": "1"},
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
        sent = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        return await http.post(url, json=body, headers=sent | (headers or {}))


def token(**claims: Any) -> str:
    key = claims.pop("key", SECRET)
    algorithm = claims.pop("alg", "HS256")
    now = int(time.time())
    body = {
        "iss": "https://iss",
        "aud": "code",
        "sub": "alice",
        "exp": now + 300,
        "nbf": now - 5,
        "role": "viewer",
    }
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm)


REBINDING_HOSTS = [
    "rebind.evil.example",
    "evil.example:{port}",
    "127.0.0.2.evil.example:{port}",
    "localhost.evil.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "0x7f000002:{port}",
    "2130706434:{port}",
    "[::ffff:127.0.0.2]:{port}",
    "127.0.0.2:{other}",
    "",
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("host_header", REBINDING_HOSTS)
async def test_dns_rebinding_is_refused_on_a_loopback_bind_that_is_not_127_0_0_1(
    attempt: Attempt, transport: HttpTransport, host_header: str
) -> None:
    """Bound to 127.0.0.2 with unauthenticated loopback allowed: only that address is a valid Host."""
    async with edge(transport, host="127.0.0.2", authenticated=False) as base:
        port = int(base.rsplit(":", 1)[1])
        forged = host_header.format(port=port, other=port + 1)
        with attempt("http edge", f"DNS rebinding Host {forged!r} ({transport})"):
            response = await first_message(base, transport, headers={"Host": forged})
            assert response.status_code in (400, 403, 421), (forged, response.status_code)
        honest = await first_message(base, transport)
    assert honest.status_code == 200


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "http://127.0.0.2.evil.example", "file://"]
)
async def test_a_foreign_origin_is_refused(attempt: Attempt, transport: HttpTransport, origin: str) -> None:
    async with edge(transport, host="127.0.0.2", authenticated=False) as base:
        with attempt("http edge", f"foreign Origin {origin!r} ({transport})"):
            response = await first_message(base, transport, headers={"Origin": origin})
            assert response.status_code == 403


BAD_CREDENTIALS = [
    ("unknown api key", "cmk_not_a_key"),
    ("api key with a suffix", KEY + "0"),
    ("api key in upper case", KEY.upper()),
    ("api key prefix", KEY[:-1]),
    ("jwt signed with another key", token(key="x" * 40)),
    (
        "jwt with alg none",
        jwt.encode(
            {"iss": "https://iss", "aud": "code", "sub": "a", "role": "admin"}, None, algorithm="none"
        ),
    ),
    ("expired jwt", token(exp=int(time.time()) - 60)),
    ("jwt not valid yet", token(nbf=int(time.time()) + 600)),
    ("jwt of another issuer", token(iss="https://evil")),
    ("jwt for another audience", token(aud="other")),
    ("jwt without a subject", token(sub=None)),
    ("jwt without expiry", token(exp=None)),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("what", "bearer"), BAD_CREDENTIALS, ids=[b[0] for b in BAD_CREDENTIALS])
async def test_forged_and_guessed_credentials_get_401(
    attempt: Attempt, transport: HttpTransport, what: str, bearer: str
) -> None:
    async with edge(transport) as base:
        with attempt("http edge", f"{what} ({transport})"):
            response = await first_message(base, transport, headers={"Authorization": f"Bearer {bearer}"})
            assert response.status_code == 401


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_guessing_credentials_is_throttled_per_address(
    attempt: Attempt, transport: HttpTransport
) -> None:
    async with edge(transport) as base:
        statuses = []
        for i in range(8):
            response = await first_message(
                base, transport, headers={"Authorization": f"Bearer cmk_guess_{i}"}
            )
            statuses.append(response.status_code)
        with attempt("http edge", f"credential guessing past the burst ({transport})"):
            assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3
            assert "retry-after" in {k.lower() for k in response.headers}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("path", ["/two", "/two/", "/./two", "/one/../two"])
async def test_a_credential_limited_to_one_server_opens_no_other(
    attempt: Attempt, transport: HttpTransport, path: str
) -> None:
    async with edge(transport) as base:
        with attempt("http edge", f"credential for /one used on {path} ({transport})"):
            response = await first_message(
                base, transport, prefix=path.rstrip("/"), headers={"Authorization": f"Bearer {ONE_ONLY}"}
            )
            assert response.status_code in (403, 404), response.status_code
        allowed = await first_message(base, transport, headers={"Authorization": f"Bearer {ONE_ONLY}"})
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    ("what", "headers"),
    [
        ("no credential", {}),
        ("a bad credential", {"Authorization": "Bearer cmk_nope"}),
        (
            "a credential whose role may not read monitoring",
            {"Authorization": f"Bearer {token(role='nobody')}"},
        ),
    ],
)
async def test_metrics_stay_behind_a_credential(attempt: Attempt, what: str, headers: dict[str, str]) -> None:
    config = {"policy": {"roles": {"nobody": ["experts:ask"]}}}
    async with edge("http", **config) as base, httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{base}/metrics", headers=headers)
        health = await http.get(f"{base}/healthz")
    with attempt("http edge", f"/metrics with {what}"):
        assert response.status_code in (401, 403)
        assert "code_mcp_tool_calls" not in response.text
    with attempt("http edge", f"/healthz telling more than up/down (asked after {what})"):
        assert health.json() == {"status": "up"}
