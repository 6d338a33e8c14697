"""The HTTP edge on SSE and streamable HTTP: bearer auth, 401/403 challenges, 429, /healthz, /metrics."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from shared.auth import hash_api_key
from tests.support.connect import Connector, Served

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

DEMO = "tests.support.demo_server:build_server"
SECRET = "k" * 40
ISS = "https://issuer.example"
AUD = "code-mcp-tests"
API_KEY = "cmk_test_key_0123456789"


def auth_config(**extra: Any) -> dict[str, Any]:
    jwt_rules: dict[str, Any] = {"issuer": ISS, "audience": AUD, "algorithms": ["HS256"], "secret": SECRET}
    jwt_rules.update(extra.pop("jwt", {}))
    config: dict[str, Any] = {
        "auth": {
            "api_keys": [{"id": "ci-bot", "sha256": hash_api_key(API_KEY), "role": "operator"}],
            "jwt": jwt_rules,
        }
    }
    config.update(extra)
    return config


def token(**overrides: Any) -> str:
    key = overrides.pop("key", SECRET)
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "alice", "exp": now + 300, "nbf": now - 5}
    claims.update({"role": "viewer", "scope": "mcp"})
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="HS256")


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url)


async def endpoint_request(
    served: Served, bearer: str | None, *, extra: dict[str, str] | None = None
) -> httpx.Response:
    """A client's first message on each transport, with or without a token (the server runs in this loop)."""
    assert served.url is not None
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    headers |= extra or {}
    async with httpx.AsyncClient(timeout=10) as http:
        if served.transport == "sse":
            async with http.stream("GET", served.url, headers=headers) as response:
                return response  # the status line and headers are enough
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers |= {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        return await http.post(served.url, json=body, headers=headers)


@pytest.mark.parametrize(
    ("case", "bearer"),
    [
        ("no token", None),
        ("unknown api key", "cmk_wrong"),
        ("bad signature", token(key="x" * 40)),
        ("expired", token(exp=int(time.time()) - 60)),
        ("wrong audience", token(aud="someone-else")),
    ],
)
async def test_bad_credentials_get_401_with_a_challenge(
    http_connect: Connector, case: str, bearer: str | None
) -> None:
    async with http_connect.serve(DEMO, auth_config()) as served:
        response = await endpoint_request(served, bearer)
        metadata = await get(f"{served.base_url}/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 401, case
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge
    if http_connect.transport == "http":
        assert metadata.status_code == 200
        assert metadata.json()["resource"] == served.url


async def test_missing_scope_gets_403_insufficient_scope(http_connect: Connector) -> None:
    config = auth_config(jwt={"required_scopes": ["mcp:tools"]})
    async with http_connect.serve(DEMO, config) as served:
        response = await endpoint_request(served, token(scope="mcp"))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_valid_api_key_is_admitted_as_its_id_and_role(http_connect: Connector) -> None:
    async with (
        http_connect.serve(DEMO, auth_config()) as served,
        http_connect.client(served, DEMO, token=API_KEY) as client,
    ):
        result = await client.call_tool("demo_whoami", {})
    assert result.structured_content == {
        "subject": "ci-bot",
        "role": "operator",
        "method": "api_key",
        "scopes": [],
    }


async def test_valid_jwt_is_admitted_with_its_claims(http_connect: Connector) -> None:
    async with (
        http_connect.serve(DEMO, auth_config()) as served,
        http_connect.client(served, DEMO, token=token(scope="mcp extra")) as client,
    ):
        result = await client.call_tool("demo_whoami", {})
    assert result.structured_content == {
        "subject": "alice",
        "role": "viewer",
        "method": "jwt",
        "scopes": ["extra", "mcp"],
    }


async def test_exhausted_identity_quota_gets_429_with_retry_after(http_connect: Connector) -> None:
    """Once the caller's identity quota is spent, the edge answers 429 before the server sees the message."""
    config = auth_config(limits={"identity": {"rate": 3, "burst": 3, "period_s": 60}})
    async with http_connect.serve(DEMO, config) as served:
        async with http_connect.client(served, DEMO, token=API_KEY) as client:
            results = [await client.call_tool("demo_echo", {"text": str(i)}) for i in range(3)]
        refused = await endpoint_request(served, API_KEY)
        other_caller = await endpoint_request(served, token())
    assert not any(r.is_error for r in results)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert other_caller.status_code != 429


async def get_with(url: str, bearer: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url, headers=headers)


async def test_healthz_says_up_and_nothing_else(http_connect: Connector) -> None:
    async with http_connect.serve(DEMO, auth_config()) as served:
        health = await get(f"{served.base_url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "up"}


async def test_metrics_need_a_credential_with_monitoring_read(http_connect: Connector) -> None:
    """/metrics counts calls and refusals, for a caller whose role may read monitoring data only."""
    config = auth_config(
        role="viewer", policy={"tiers": {"demo": "write"}, "roles": {"nobody": ["experts:ask"]}},
        jwt={"role_claim": "role"},
    )  # fmt: skip
    async with http_connect.serve(DEMO, config) as served:
        async with http_connect.client(served, DEMO, token=token()) as client:
            await client.call_tool("demo_echo", {"text": "x"})
            await client.call_tool("demo_write", {"value": "x"})  # viewer: refused
        anonymous = await get(f"{served.base_url}/metrics")
        outsider = await get_with(f"{served.base_url}/metrics", token(role="nobody"))
        metrics = (await get_with(f"{served.base_url}/metrics", token())).text
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert outsider.status_code == 403
    assert 'code_mcp_tool_calls_total{outcome="ok",server="demo",tool="demo_echo"} 1.0' in metrics
    assert 'code_mcp_tool_refusals_total{reason="permission",server="demo",tool="demo_write"} 1.0' in metrics
    assert "code_mcp_tool_latency_seconds_bucket" in metrics


async def test_failed_authentication_is_throttled_per_address(http_connect: Connector) -> None:
    config = auth_config(auth_failures={"rate": 0.01, "burst": 3})
    config["auth"]["failures"] = config.pop("auth_failures")
    async with http_connect.serve(DEMO, config) as served:
        statuses = [(await endpoint_request(served, f"cmk_guess_{i}")).status_code for i in range(5)]
        good_key_now = await endpoint_request(served, API_KEY)
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
    assert good_key_now.status_code == 429  # the address is throttled whatever it sends next


async def test_dns_rebinding_is_refused_on_loopback(http_connect: Connector) -> None:
    """A request whose Host is not loopback (a rebinding attack) is refused by the SDK's protection."""
    async with http_connect.serve(DEMO, {}) as served:
        response = await endpoint_request(served, None, extra={"Host": "evil.example"})
    assert response.status_code in (400, 421)
