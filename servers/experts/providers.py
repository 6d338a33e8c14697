"""Provider clients: one pooled `httpx.AsyncClient` per provider, with retries, a breaker and limits.

A call goes: circuit breaker → outbound rate limit → HTTP (retried on 429/5xx and connection
errors, honouring Retry-After) → parsed completion. The caller bounds the whole call with its
per-expert timeout; cancelling the caller cancels the HTTP request in flight.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from servers.experts.breaker import BreakerOpen, CircuitBreaker
from servers.experts.settings import ProviderKind, ProviderSettings
from servers.experts.wire_formats import (
    Completion,
    MalformedResponse,
    Prompt,
    WireRequest,
    build_chat_request,
    build_embeddings_request,
    parse_chat_response,
    parse_embeddings_response,
)

log = logging.getLogger(__name__)

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class Limiter(Protocol):
    """What the provider needs from `shared.ratelimit.OutboundLimiter`."""

    async def acquire(self, key: str, cost: int = 1) -> None: ...


class ProviderError(Exception):
    """A provider call failed. The message never contains the API key."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(slots=True)
class ProviderHealth:
    """What `experts_list` shows about a provider."""

    breaker: str
    consecutive_failures: int
    calls: int
    failures: int
    last_error: str | None
    last_latency_ms: float | None


class ProviderClient:
    """Talks to one provider. Create once per server; `aclose()` on shutdown."""

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        api_key: str | None,
        limiter: Limiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._key = api_key
        self._limiter = limiter
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s)
        self._transport = transport
        self._http = self._new_http()
        self._calls = 0
        self._failures = 0
        self._last_error: str | None = None
        self._last_latency_ms: float | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def kind(self) -> ProviderKind:
        return self.settings.kind

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def health(self) -> ProviderHealth:
        return ProviderHealth(
            breaker=self.breaker.state.value,
            consecutive_failures=self.breaker.consecutive_failures,
            calls=self._calls,
            failures=self._failures,
            last_error=self._last_error,
            last_latency_ms=self._last_latency_ms,
        )

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.settings.url,
            limits=httpx.Limits(
                max_connections=self.settings.max_connections,
                max_keepalive_connections=self.settings.max_connections,
            ),
            # The caller's per-expert deadline bounds the call; this only guards a stuck connect.
            timeout=httpx.Timeout(None, connect=10.0),
            transport=self._transport,
            headers={"user-agent": "code-mcp-experts/0.1"},
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled client; reopened if a previous session closed it."""
        if self._http.is_closed:
            self._http = self._new_http()
        return self._http

    async def aclose(self) -> None:
        await self._http.aclose()

    def scrub(self, text: str) -> str:
        """Remove this provider's key from a text (error bodies may echo request headers)."""
        if self._key and self._key in text:
            text = text.replace(self._key, "[redacted]")
        return text

    async def complete(self, model: str, prompt: Prompt, *, timeout_s: float) -> Completion:
        """One completion, bounded by `timeout_s` (retries included). Raises `ProviderError`."""
        request = build_chat_request(self.kind, model, prompt, self._key, json_mode=self.settings.json_mode)
        data = await self._guarded(request, timeout_s)
        try:
            return parse_chat_response(self.kind, data)
        except MalformedResponse as exc:
            raise ProviderError(f"{self.name}: {exc}") from None

    async def embed(self, model: str, texts: list[str], *, timeout_s: float) -> list[list[float]]:
        request = build_embeddings_request(model, texts, self._key)
        data = await self._guarded(request, timeout_s)
        try:
            return parse_embeddings_response(data, len(texts))
        except MalformedResponse as exc:
            raise ProviderError(f"{self.name}: {exc}") from None

    async def _guarded(self, request: WireRequest, timeout_s: float) -> Any:
        try:
            self.breaker.before_call()
        except BreakerOpen as exc:
            raise ProviderError(f"{self.name}: {exc}", retryable=False) from None
        self._calls += 1
        started = time.perf_counter()
        outcome_known = False
        try:
            with anyio.fail_after(timeout_s):
                data = await self._with_retries(request)
            outcome_known = True
        except TimeoutError:
            outcome_known = True
            self._note_failure(f"no answer within {timeout_s:g}s")
            raise ProviderError(
                f"{self.name}: no answer within {timeout_s:g}s", retryable=True, timed_out=True
            ) from None
        except ProviderError as exc:
            outcome_known = True
            self._note_failure(str(exc), counts_for_breaker=exc.retryable or exc.status is None)
            raise
        finally:
            if not outcome_known:  # cancelled from outside: says nothing about the provider
                self.breaker.release_probe()
        self._last_latency_ms = (time.perf_counter() - started) * 1000
        self._last_error = None
        self.breaker.record_success()
        return data

    def _note_failure(self, message: str, *, counts_for_breaker: bool = True) -> None:
        self._failures += 1
        self._last_error = message
        if counts_for_breaker:
            self.breaker.record_failure()
        else:
            self.breaker.release_probe()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderError) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.settings.max_retry_wait_s)
        # Exponential backoff: 0.5s, 1s, 2s ... capped.
        return float(min(0.5 * 2 ** (state.attempt_number - 1), self.settings.max_retry_wait_s))

    async def _with_retries(self, request: WireRequest) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            sleep=anyio.sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(request)
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True always raises

    async def _send(self, request: WireRequest) -> Any:
        if self._limiter is not None:
            await self._limiter.acquire(f"experts:{self.name}")
        try:
            response = await self.http.post(request.path, json=request.body, headers=request.headers)
        except httpx.TransportError as exc:
            raise ProviderError(
                f"{self.name}: cannot reach {self.settings.url} ({type(exc).__name__})", retryable=True
            ) from None
        if response.status_code >= 400:
            retryable = response.status_code in _RETRYABLE_STATUS
            raise ProviderError(
                f"{self.name}: HTTP {response.status_code}{_error_detail(response, self.scrub)}",
                status=response.status_code,
                retryable=retryable,
                retry_after_s=parse_retry_after(response.headers.get("retry-after")),
            )
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"{self.name}: answer is not JSON") from None


def _error_detail(response: httpx.Response, scrub: Any) -> str:
    """A short, key-free hint from an error body (providers put the reason in `error.message`)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    message: Any = None
    if isinstance(data, Mapping):
        err = data.get("error")
        message = err.get("message") if isinstance(err, Mapping) else err
    if not isinstance(message, str) or not message:
        return ""
    return f": {scrub(message)[:200]}"
