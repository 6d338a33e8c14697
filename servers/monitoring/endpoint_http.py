"""What the Prometheus and Alertmanager clients share: one httpx client per configured endpoint (auth,
TLS, timeout, no redirects) and a capped read of each reply."""

from __future__ import annotations

import httpx

from servers.monitoring.settings import HttpEndpoint
from shared.errors import InvalidArgument


class ReplyTooLarge(InvalidArgument):
    """The server's reply is larger than `max_response_bytes`."""


def http_client(endpoint: HttpEndpoint, *, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for `endpoint`: its credentials, TLS settings and timeout; redirects
    are never followed (a redirect would send the credentials somewhere the operator never named)."""
    auth: httpx.Auth | None = None
    headers = {"Accept": "application/json", "User-Agent": "code-mcp-monitoring"}
    if endpoint.bearer_token is not None:
        headers["Authorization"] = f"Bearer {endpoint.bearer_token.get_secret_value()}"
    elif endpoint.username is not None and endpoint.password is not None:
        auth = httpx.BasicAuth(endpoint.username, endpoint.password.get_secret_value())
    verify: bool | str = str(endpoint.ca_file) if endpoint.ca_file else endpoint.verify_tls
    return httpx.AsyncClient(
        base_url=endpoint.url,
        headers=headers,
        auth=auth,
        verify=verify,
        timeout=httpx.Timeout(endpoint.timeout_s),
        follow_redirects=False,
        transport=transport,
    )


async def read_capped(response: httpx.Response, max_bytes: int, what: str) -> bytes:
    """The body of `response`, refusing (ReplyTooLarge) past `max_bytes` without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ReplyTooLarge(
                f"{what}'s reply is larger than {max_bytes // 1024} KiB: narrow the query with label "
                "matchers, aggregate it (sum by (...)), or shorten the time range."
            )
        chunks.append(chunk)
    return b"".join(chunks)
