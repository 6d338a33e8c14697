"""PrometheusClient's error mapping and retries, against a fake Prometheus.

The fake (an `httpx.MockTransport`) stands in only for what the real Prometheus in the integration
tests cannot be made to do on demand: answer 502 like a broken proxy, send HTML, or check a bearer
token (Prometheus itself only supports basic auth, which the integration tests cover for real).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import PrometheusEndpoint
from shared.errors import InvalidArgument, UpstreamUnavailable

pytestmark = pytest.mark.anyio

OK = {"status": "success", "data": {"resultType": "vector", "result": []}, "warnings": ["w1"]}


class FakePrometheus:
    """Answers from a list of (status, body) replies, recording the requests it saw."""

    def __init__(self, *replies: tuple[int, object]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content)


def client_of(fake: Callable[[httpx.Request], httpx.Response], **endpoint: object) -> PrometheusClient:
    settings = PrometheusEndpoint.model_validate({"url": "http://prometheus.test:9090", **endpoint})
    return PrometheusClient("fake", settings, max_response_bytes=2**20, transport=httpx.MockTransport(fake))


async def test_bearer_token_is_sent_and_warnings_kept() -> None:
    fake = FakePrometheus((200, OK))
    client = client_of(fake, bearer_token="tok-123")
    reply = await client.api("query", {"query": "up"}, expr="up")
    await client.aclose()
    assert fake.requests[0].headers["authorization"] == "Bearer tok-123"
    assert fake.requests[0].method == "POST" and fake.requests[0].url.path == "/api/v1/query"
    assert reply.warnings == ["w1"]


async def test_basic_auth_is_sent() -> None:
    fake = FakePrometheus((200, OK))
    client = client_of(fake, username="u", password="p")
    await client.api("labels", [("match[]", "up"), ("match[]", "node_load1")])
    await client.aclose()
    request = fake.requests[0]
    assert request.headers["authorization"].startswith("Basic ")
    assert request.method == "GET" and request.url.params.get_list("match[]") == ["up", "node_load1"]


async def test_proxy_errors_are_retried_then_succeed() -> None:
    fake = FakePrometheus((502, b"<html>bad gateway</html>"), (502, b"<html>bad gateway</html>"), (200, OK))
    client = client_of(fake, retries=2)
    reply = await client.api("query", {"query": "up"}, expr="up")
    await client.aclose()
    assert len(fake.requests) == 3 and reply.data == OK["data"]


async def test_retries_are_bounded() -> None:
    fake = FakePrometheus((503, b"Service Unavailable"))
    client = client_of(fake, retries=1)
    with pytest.raises(UpstreamUnavailable, match=r"failed after 2 attempt\(s\): HTTP 503"):
        await client.api("alerts")
    await client.aclose()
    assert len(fake.requests) == 2


async def test_prometheus_errors_are_not_retried() -> None:
    fake = FakePrometheus((503, {"status": "error", "errorType": "timeout", "error": "query timed out"}))
    client = client_of(fake, retries=3)
    with pytest.raises(UpstreamUnavailable, match="gave up evaluating the query"):
        await client.api("query", {"query": "up"}, expr="up")
    await client.aclose()
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (401, b"Unauthorized", UpstreamUnavailable, "refused our credentials"),
        (200, b"<html>not prometheus</html>", UpstreamUnavailable, "not JSON"),
        (200, b"[1, 2]", UpstreamUnavailable, "unexpected reply"),
        (
            422,
            {"status": "error", "errorType": "execution", "error": "too many samples"},
            InvalidArgument,
            "many",
        ),
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": "bad matcher"},
            InvalidArgument,
            "refused",
        ),
        (500, {"status": "error", "errorType": "internal", "error": "boom"}, UpstreamUnavailable, "boom"),
    ],
)
async def test_error_mapping(status: int, body: object, error: type[Exception], match: str) -> None:
    client = client_of(FakePrometheus((status, body)), retries=0)
    with pytest.raises(error, match=match):
        await client.api("series", {"match[]": "up"})
    await client.aclose()


async def test_oversized_reply_is_cut() -> None:
    big = {"status": "success", "data": ["x" * 100] * 20_000}
    client = client_of(FakePrometheus((200, big)))
    with pytest.raises(InvalidArgument, match="larger than 1024 KiB"):
        await client.api("labels")
    await client.aclose()
