"""The guard every `tools/call` passes: identity → permission → rate limit → tool → audit + metrics.

It is an SDK `ServerMiddleware`, so it sees the raw call before the SDK looks the tool up or
validates arguments. Calls to tools the kit did not register (unknown names) pass straight through:
reporting them, like bad arguments, is the SDK's business.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp_types import CallToolResult, TextContent

from shared.audit import Outcome
from shared.auth import use_identity
from shared.identity import Identity
from shared.policy import Tier
from shared.ratelimit import caller_key, retry_after_seconds

if TYPE_CHECKING:
    from shared.runtime import Runtime

__all__ = ["Guard", "GuardedTool", "refusal"]


@dataclass(frozen=True, slots=True)
class GuardedTool:
    """What the guard needs to know about one registered tool."""

    name: str
    permission: str
    tier: Tier
    cost: int = 1


def refusal(message: str, *, reason: str, retry_after_ms: int | None = None) -> CallToolResult:
    """A tool error the model can act on; the reason (and retry delay) also travel as data."""
    data: dict[str, Any] = {"error": reason, "message": message}
    if retry_after_ms is not None:
        data["retry_after_ms"] = retry_after_ms
        data["retry_after_s"] = retry_after_seconds(retry_after_ms)
    return CallToolResult(
        content=[TextContent(type="text", text=message)],
        structured_content=data,
        is_error=True,
        _meta={"code-mcp/refusal": data},
    )


def _outcome(tool: str, result: HandlerResult) -> tuple[Outcome, str | None]:
    """ok, a tool error, or a crash (the SDK reports a bug only as "Error executing tool <name>")."""
    if isinstance(result, CallToolResult):
        if not result.is_error:
            return "ok", None
        text = " ".join(getattr(block, "text", "") for block in result.content)
    elif isinstance(result, dict) and result.get("isError") is True:
        text = " ".join(
            str(block.get("text", "")) for block in result.get("content", []) if isinstance(block, dict)
        )
    else:
        return "ok", None
    if text.strip() == f"Error executing tool {tool}":  # argument errors carry ": <details>"
        return "crashed", text
    return "tool_error", text


class Guard(ServerMiddleware[Any]):
    """The middleware a `ServerKit` installs on its server."""

    def __init__(self, server: str, runtime: Runtime, tools: Mapping[str, GuardedTool]) -> None:
        self.server = server
        self.runtime = runtime
        self.tools = tools

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" or ctx.request_id is None:
            return await call_next(ctx)
        name = ctx.params.get("name") if ctx.params else None
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return await call_next(ctx)
        raw_args = ctx.params.get("arguments") if ctx.params else None
        arguments: Mapping[str, Any] = raw_args if isinstance(raw_args, Mapping) else {}
        started = time.perf_counter()
        runtime = self.runtime
        identity = runtime.identity_for(ctx)
        request_id = os.urandom(16).hex()  # unique across sessions, unlike the JSON-RPC id (uuid4 is slower)

        if not runtime.permits(identity, tool.permission):
            message = (
                f"permission denied: tool {tool.name} needs permission {tool.permission!r}, which role "
                f"{identity.role or '(none)'!r} does not have; ask an operator for a role that grants it"
            )
            runtime.metrics.observe_refusal(self.server, tool.name, "permission")
            self._record(tool, identity, arguments, started, request_id, "denied", message)
            return refusal(message, reason="permission_denied")

        decision = runtime.limiter.check(
            server=self.server, tool=tool.name, subject=caller_key(identity), cost=tool.cost
        )
        if decision is not None:
            message = (
                f"rate limited by the {decision.rule} quota: retry after {decision.retry_after_ms} ms "
                f"(retry_after_ms={decision.retry_after_ms})"
            )
            runtime.metrics.observe_refusal(self.server, tool.name, "rate_limit")
            self._record(tool, identity, arguments, started, request_id, "rate_limited", message)
            return refusal(message, reason="rate_limited", retry_after_ms=decision.retry_after_ms)

        outcome: Outcome = "crashed"
        detail: str | None = "the call was cancelled or raised"
        try:
            # Bind the log context by token: structlog's bound_contextvars copies the whole context.
            tokens = structlog.contextvars.bind_contextvars(
                request_id=request_id, rpc_id=ctx.request_id, server=self.server, tool=tool.name
            )
            try:
                with use_identity(identity):
                    result = await call_next(ctx)
            finally:
                structlog.contextvars.reset_contextvars(**tokens)
            outcome, detail = _outcome(tool.name, result)
            return result
        finally:
            self._record(tool, identity, arguments, started, request_id, outcome, detail)

    def _record(
        self,
        tool: GuardedTool,
        identity: Identity,
        arguments: Mapping[str, Any],
        started: float,
        request_id: str,
        outcome: Outcome,
        detail: str | None,
    ) -> None:
        self.runtime.record_call(
            server=self.server,
            tool=tool.name,
            identity=identity,
            arguments=arguments,
            outcome=outcome,
            latency_s=time.perf_counter() - started,
            request_id=request_id,
            detail=detail,
        )
