"""Shared outbound clients that live as long as some session uses them.

The SDK runs a server's lifespan once per session (in memory, over stdio, per SSE or streamable
HTTP session), while a server's outbound clients (HTTP pools to Prometheus, to LLM providers) are
built once and shared by every session. `ClientLifetime` counts the sessions using them: the owner
opens its clients on first use, and the last session out closes them, so the next session to come
opens fresh ones instead of finding them closed. Sessions that overlap share the clients.

Two orderings are guaranteed, whatever the timing:

- a session that starts while the clients are being closed waits until the close has finished, so
  it never receives a client in the middle of closing;
- the close runs even when the last session leaves because it was cancelled (a host that hangs up,
  a server shutting down): it is shielded from that cancellation, bounded by `close_timeout_s`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio

__all__ = ["ClientLifetime"]

log = logging.getLogger(__name__)


class ClientLifetime:
    """Counts the sessions using a set of clients; the last one out awaits `close`.

    Args:
        close: closes every client the owner holds; the owner opens new ones on their next use.
        close_timeout_s: how long the last session waits for `close` before giving up on it
            (logged as a warning); the wait is shielded from the session's cancellation.
    """

    def __init__(self, close: Callable[[], Awaitable[None]], *, close_timeout_s: float = 10.0) -> None:
        if close_timeout_s <= 0:
            raise ValueError("close_timeout_s must be positive")
        self._close = close
        self._close_timeout_s = close_timeout_s
        self._sessions = 0
        self._closing: anyio.Event | None = None  # while `close` runs: entering sessions wait for it

    @property
    def sessions(self) -> int:
        """How many sessions hold the clients now."""
        return self._sessions

    @asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Hold the clients for one session; leaving as the last one closes them."""
        while self._closing is not None:
            await self._closing.wait()
        # No await between the check above and the count below: a close cannot start in between.
        self._sessions += 1
        try:
            yield
        finally:
            self._sessions -= 1
            if self._sessions == 0:
                await self._close_now()

    async def _close_now(self) -> None:
        closing = self._closing = anyio.Event()
        try:
            with anyio.move_on_after(self._close_timeout_s, shield=True) as scope:
                await self._close()
        finally:
            self._closing = None
            closing.set()
        if scope.cancelled_caught:
            log.warning("closing the shared clients took longer than %gs; gave up", self._close_timeout_s)
