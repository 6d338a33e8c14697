"""One tool call: what the guard and the kit know about it while it runs, and the record it leaves.

The guard opens an `ActiveCall` before the SDK looks at the arguments; the kit's result pipeline
sets its outcome by the class of what the tool raised; the guard then turns it into one frozen
`CallRecord` for the audit log and the metrics. Tools read the caller with `current_identity()`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from shared.identity import Identity

if TYPE_CHECKING:
    from shared.paging import Pager

__all__ = ["ActiveCall", "CallRecord", "Outcome", "active_call", "current_identity", "use_call"]

Outcome = Literal[
    "ok", "tool_error", "denied", "rate_limited", "crashed", "declined", "cancelled", "input_required"
]
"""How a call ended: ok; tool_error = an expected failure; denied = PermissionDenied (the guard's or
the tool's own); rate_limited; crashed = a bug; declined / cancelled = the person did not confirm a
change; input_required = a round that asked the person (the call continues in the client's retry)."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A finished tool call, as the audit log and the metrics see it."""

    server: str
    tool: str
    identity: Identity
    arguments: Mapping[str, Any]
    outcome: Outcome
    latency_s: float
    request_id: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class ActiveCall:
    """A tool call in progress. `outcome` stays None until the tool body has run (or was refused)."""

    server: str
    tool: str
    identity: Identity
    arguments: Mapping[str, Any]
    request_id: str
    outcome: Outcome | None = None
    detail: str | None = None
    pager: Pager | None = None

    def finish(self, outcome: Outcome, detail: str | None = None) -> None:
        """Say how the call ended (the first word counts: a later one does not overwrite it)."""
        if self.outcome is None:
            self.outcome, self.detail = outcome, detail

    def record(self, latency_s: float) -> CallRecord:
        """The frozen record of this call; a call nobody finished counts as crashed."""
        return CallRecord(
            server=self.server,
            tool=self.tool,
            identity=self.identity,
            arguments=self.arguments,
            outcome=self.outcome or "crashed",
            latency_s=latency_s,
            request_id=self.request_id,
            detail=self.detail if self.outcome is not None else "the call was cancelled or raised",
        )


_active: contextvars.ContextVar[ActiveCall | None] = contextvars.ContextVar("code_mcp_call", default=None)


def active_call() -> ActiveCall:
    """The tool call in progress.

    Raises:
        RuntimeError: called outside a tool call.
    """
    call = _active.get()
    if call is None:
        raise RuntimeError("only valid inside a tool call")
    return call


def current_identity() -> Identity:
    """The caller of the tool call in progress.

    Raises:
        RuntimeError: called outside a tool call.
    """
    return active_call().identity


@contextmanager
def use_call(call: ActiveCall) -> Iterator[ActiveCall]:
    """Make `call` the call in progress for the enclosed block (and the threads it starts)."""
    token = _active.set(call)
    try:
        yield call
    finally:
        _active.reset(token)
