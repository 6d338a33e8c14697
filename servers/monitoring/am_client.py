"""A small async client for the Alertmanager API v2 (`/api/v2/...`).

Bounded like the Prometheus client: a per-request timeout, a capped read, and retries with backoff
(tenacity) on connection errors and 5xx replies — for reads and for DELETE (expiring a silence twice
is harmless), never for POST: a silence whose reply was lost may exist, and creating it again would
leave one the server does not know it made. Alertmanager's errors are translated in one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from servers.monitoring.endpoint_http import http_client, read_capped
from servers.monitoring.settings import AlertmanagerEndpoint
from shared.errors import InvalidArgument, NotFound, UpstreamUnavailable

Params = Sequence[tuple[str, str]]


class _Retryable(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class AlertmanagerClient:
    """One configured Alertmanager, spoken to over `httpx.AsyncClient`."""

    def __init__(
        self,
        name: str,
        endpoint: AlertmanagerEndpoint,
        *,
        max_response_bytes: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.url = endpoint.url
        self._endpoint = endpoint
        self._max_bytes = max_response_bytes
        self._http = http_client(endpoint, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: Params = ()) -> Any:
        """The decoded JSON of `GET /api/v2/<path>`."""
        return await self._call("GET", path, params=params, retry=True)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The decoded JSON of `POST /api/v2/<path>` (never retried)."""
        return await self._call("POST", path, body=body, retry=False)

    async def delete(self, path: str) -> Any:
        """`DELETE /api/v2/<path>` (retried: deleting twice is harmless)."""
        return await self._call("DELETE", path, retry=True)

    async def _call(
        self, method: str, path: str, *, params: Params = (), body: dict[str, Any] | None = None, retry: bool
    ) -> Any:
        attempts = self._endpoint.retries + 1 if retry else 1
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(attempts) | stop_after_delay(self._endpoint.timeout_s * attempts),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    status, raw = await self._fetch(method, path, params, body)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            detail = last.detail if isinstance(last, _Retryable) else repr(last)
            raise UpstreamUnavailable(
                f"Alertmanager {self.name!r} ({self.url}) failed after {attempts} attempt(s): {detail}. "
                "Check that it is up, or ask another Alertmanager."
            ) from None
        return self._decode(status, raw)

    async def _fetch(
        self, method: str, path: str, params: Params, body: dict[str, Any] | None
    ) -> tuple[int, bytes]:
        try:
            request = self._http.build_request(method, f"/api/v2/{path}", params=list(params), json=body)
            response = await self._http.send(request, stream=True)
            try:
                raw = await read_capped(response, self._max_bytes, f"Alertmanager {self.name!r}")
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {self._endpoint.timeout_s:g}s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}: {_text(raw)}")
        return response.status_code, raw

    def _decode(self, status: int, raw: bytes) -> Any:
        if status in (401, 403):
            raise UpstreamUnavailable(
                f"Alertmanager {self.name!r} refused our credentials (HTTP {status}); the operator must "
                "fix its bearer_token or username/password in the configuration."
            )
        if status == 404:
            raise NotFound(f"Alertmanager {self.name!r}: not found ({_text(raw)})")
        if status >= 400:
            raise InvalidArgument(f"Alertmanager {self.name!r} refused the request: {_text(raw)}")
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise UpstreamUnavailable(
                f"Alertmanager {self.name!r} answered HTTP {status} with a body that is not JSON; "
                "is the URL really an Alertmanager?"
            ) from None


def _text(raw: bytes) -> str:
    """An error body, short: Alertmanager sends a JSON string or plain text."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = text
    shown = decoded if isinstance(decoded, str) else json.dumps(decoded)
    return shown[:500]
