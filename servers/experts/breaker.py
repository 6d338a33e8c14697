"""A per-provider circuit breaker.

Written here because the maintained Python breakers are synchronous (pybreaker) or bind to one
event loop's primitives; this one is a plain state machine with an injectable clock, so it works
under any anyio backend and its state can be shown in `experts_list`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerOpen(Exception):
    """The provider failed repeatedly; calls are refused until the cooldown ends."""

    def __init__(self, retry_in_s: float) -> None:
        super().__init__(f"circuit open after repeated failures; retry in {retry_in_s:.0f}s")
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    """Opens after `failures` consecutive failures; after `cooldown_s` lets one probe through."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    def before_call(self) -> None:
        """Raise `BreakerOpen` unless a call may go out now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        assert self._opened_at is not None
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return
        remaining = max(0.0, self._cooldown_s - (self._clock() - self._opened_at))
        raise BreakerOpen(remaining)

    def record_success(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self._consecutive += 1
        if self._probing or self._consecutive >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release_probe(self) -> None:
        """The probe ended without telling anything about health (e.g. the caller cancelled)."""
        self._probing = False
