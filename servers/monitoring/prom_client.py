"""A small async client for the Prometheus HTTP API (`/api/v1/...`).

Every call is bounded: a per-request timeout, a few retries with backoff (tenacity) on connection
errors and 5xx replies only, and a cap on the bytes read. Prometheus's own errors are translated in
one place, `_raise_for_reply`, into the suite's tool errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
from servers.monitoring.settings import PrometheusEndpoint
from shared.errors import InvalidArgument, UpstreamUnavailable

_POSITION = re.compile(r"(\d+):(\d+):\s*parse error:\s*(.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Reply:
    """The `data` of a successful Prometheus reply and the warnings Prometheus attached."""

    data: Any
    warnings: list[str] = field(default_factory=list)


class _Retryable(Exception):
    """A failure worth one more attempt: the connection failed or Prometheus answered 5xx."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def describe_parse_error(expr: str, message: str) -> str:
    """Prometheus's parse error with its position spelled out and a caret under the expression.

    Prometheus reports `invalid parameter "query": 1:15: parse error: unexpected …` (line:column,
    1-based); a message without a position is passed through untouched.
    """
    match = _POSITION.search(message)
    if not match:
        return f"PromQL error: {message}"
    line, column, detail = int(match.group(1)), int(match.group(2)), match.group(3)
    lines = expr.splitlines() or [""]
    shown = lines[line - 1] if 0 < line <= len(lines) else expr
    caret = " " * max(column - 1, 0) + "^"
    return (
        f"PromQL parse error at line {line}, column {column}: {detail}\n  {shown}\n  {caret}\n"
        "Fix the expression and call again."
    )


class PrometheusClient:
    """One configured Prometheus endpoint, spoken to over `httpx.AsyncClient`."""

    def __init__(
        self,
        name: str,
        endpoint: PrometheusEndpoint,
        *,
        max_response_bytes: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.url = endpoint.url
        self._endpoint = endpoint
        self._max_bytes = max_response_bytes
        self._http = http_client(endpoint, transport=transport)
        #: (scrape_interval_s, evaluation_interval_s) of this Prometheus, once the cost guard read them.
        self.intervals: tuple[float, float] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def api(
        self,
        path: str,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        *,
        expr: str | None = None,
    ) -> Reply:
        """The `data` (and warnings) of a successful `/api/v1/<path>` reply.

        Queries (`expr` given) are POSTed as a form so long expressions never hit URL limits.

        Raises:
            InvalidArgument: Prometheus refused the request (bad PromQL, bad matcher, too many samples).
            UpstreamUnavailable: unreachable, timing out, 5xx after the retries, or credentials refused.
        """
        pairs = tuple(params.items()) if isinstance(params, Mapping) else tuple(params or ())
        attempts = self._endpoint.retries + 1
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(attempts) | stop_after_delay(self._endpoint.timeout_s * attempts),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    status, body = await self._fetch(path, pairs, post=expr is not None)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            detail = last.detail if isinstance(last, _Retryable) else repr(last)
            raise UpstreamUnavailable(
                f"Prometheus endpoint {self.name!r} ({self.url}) failed after {attempts} attempt(s): "
                f"{detail}. Check that it is up, or query another endpoint."
            ) from None
        return self._raise_for_reply(status, body, expr)

    async def _fetch(
        self, path: str, params: tuple[tuple[str, str], ...], *, post: bool
    ) -> tuple[int, bytes]:
        url = f"/api/v1/{path}"
        try:
            if post:
                request = self._http.build_request("POST", url, data=dict(params))
            else:
                request = self._http.build_request("GET", url, params=params)
            response = await self._http.send(request, stream=True)
            try:
                body = await read_capped(response, self._max_bytes, "Prometheus")
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {self._endpoint.timeout_s:g}s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        # 5xx without Prometheus's JSON error (a proxy, or Prometheus still starting) is transient;
        # a JSON error (query timeout, internal error) would only repeat, so it is reported at once.
        if response.status_code >= 500 and not _has_prometheus_error(body):
            raise _Retryable(f"HTTP {response.status_code}")
        return response.status_code, body

    def _raise_for_reply(self, status: int, body: bytes, expr: str | None) -> Reply:
        if status in (401, 403):
            raise UpstreamUnavailable(
                f"Prometheus endpoint {self.name!r} refused our credentials (HTTP {status}); "
                "the operator must fix its bearer_token or username/password in the configuration."
            )
        try:
            reply = json.loads(body)
        except ValueError:
            raise UpstreamUnavailable(
                f"Prometheus endpoint {self.name!r} answered HTTP {status} with a body that is not JSON; "
                "is the URL really a Prometheus server?"
            ) from None
        if not isinstance(reply, dict):
            raise UpstreamUnavailable(f"Prometheus endpoint {self.name!r} sent an unexpected reply")
        if reply.get("status") == "success" and status < 300:
            return Reply(reply.get("data"), [str(w) for w in reply.get("warnings") or []])
        error_type = str(reply.get("errorType", ""))
        message = str(reply.get("error", f"HTTP {status}"))
        if error_type == "bad_data" and expr is not None:
            raise InvalidArgument(describe_parse_error(expr, message))
        if error_type in ("bad_data", "execution"):
            raise InvalidArgument(f"Prometheus refused the request: {message}")
        if error_type in ("timeout", "canceled"):
            raise UpstreamUnavailable(
                f"Prometheus endpoint {self.name!r} gave up evaluating the query ({message}); "
                "narrow it or shorten the time range."
            )
        raise UpstreamUnavailable(f"Prometheus endpoint {self.name!r} failed: HTTP {status}: {message}")


def _has_prometheus_error(body: bytes) -> bool:
    try:
        reply = json.loads(body)
    except ValueError:
        return False
    return isinstance(reply, dict) and reply.get("status") == "error"
