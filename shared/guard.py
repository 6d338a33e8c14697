"""The guard every `tools/call` passes: identity → credential scope → permission → rate limit →
tool → audit + metrics. A `resources/read`, `prompts/get` or `completion/complete` of a kit's
resource, prompt or completion handler (`shared.surfaces`) passes the same steps; a refusal there
is a JSON-RPC error carrying the same message and reason.

It is an SDK `ServerMiddleware`, so it sees the raw call before the SDK looks the tool up or
validates arguments. A call to a tool this server does not have (an unknown name, or a tool above
the tier) is charged to the caller's quota and audited too, then answered by the SDK. How a call
ended is known by class, never by reading the SDK's message text: the kit's result pipeline marks
the `ActiveCall` (ok, tool_error, denied, …); a call the pipeline never saw was refused by the SDK
before the tool ran (its arguments failed the input schema).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_REQUEST, CallToolResult, InputRequiredResult

from shared.calls import ActiveCall, use_call
from shared.policy_settings import Tier
from shared.ratelimit import caller_key
from shared.results import refusal

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.surfaces import Surfaces

__all__ = ["UNKNOWN_TOOL", "Guard", "GuardedTool", "Target"]

UNKNOWN_TOOL: Final = "(unknown tool)"
"""The tool name calls to a tool this server does not have are charged and audited under."""


@dataclass(frozen=True, slots=True)
class GuardedTool:
    """What the guard needs to know about one registered tool."""

    name: str
    permission: str
    tier: Tier
    cost: int = 1


Target = tuple[GuardedTool | None, Mapping[str, Any]]
"""What a request is for (None: nothing this server has) and the arguments its audit line keeps."""


def _error_text(result: HandlerResult) -> str | None:
    """The text of an error result (None when the result is not an error)."""
    if isinstance(result, CallToolResult):
        return " ".join(getattr(block, "text", "") for block in result.content) if result.is_error else None
    if isinstance(result, dict) and result.get("isError") is True:
        blocks = result.get("content", [])
        return " ".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict))
    return None


def _asks_first(result: HandlerResult) -> bool:
    """Whether the SDK answered with a round of questions (2026-07-28 `InputRequiredResult`)."""
    if isinstance(result, InputRequiredResult):
        return True
    return isinstance(result, dict) and result.get("resultType") == "input_required"


class Guard(ServerMiddleware[Any]):
    """The middleware a `ServerKit` installs on its server."""

    def __init__(
        self,
        server: str,
        runtime: Runtime,
        tools: Mapping[str, GuardedTool],
        surfaces: Surfaces | None = None,
    ) -> None:
        self.server = server
        self.runtime = runtime
        self.tools = tools
        self.surfaces = surfaces

    def _target(self, ctx: ServerRequestContext[Any, Any]) -> Target | None:
        """The guarded entry of this request and the arguments to audit; None: not guarded."""
        params = ctx.params or {}
        if ctx.method != "tools/call":
            return self.surfaces.target(ctx.method, params) if self.surfaces is not None else None
        name = params.get("name")
        raw_args = params.get("arguments")
        arguments: Mapping[str, Any] = raw_args if isinstance(raw_args, Mapping) else {}
        tool = self.tools.get(name) if isinstance(name, str) else None
        return tool, arguments if tool is not None else {"name": str(name)[:200], "arguments": arguments}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        target = self._target(ctx) if ctx.request_id is not None else None
        if target is None:
            return await call_next(ctx)
        tool, arguments = target
        started = time.perf_counter()
        runtime = self.runtime
        identity = runtime.identity_for(ctx)
        call = ActiveCall(
            server=self.server,
            tool=tool.name if tool is not None else UNKNOWN_TOOL,
            identity=identity,
            arguments=arguments,
            request_id=os.urandom(16).hex(),  # unique across sessions, unlike the JSON-RPC id
        )
        try:
            refused = await self._refuse(call, tool, ctx.method)
            if refused is not None:
                if ctx.method == "tools/call":
                    return refused
                data = refused.structured_content or {}
                raise MCPError(code=INVALID_REQUEST, message=str(data.get("message")), data=data)
            # Bind the log context by token: structlog's bound_contextvars copies the whole context.
            tokens = structlog.contextvars.bind_contextvars(
                request_id=call.request_id, rpc_id=ctx.request_id, server=self.server, tool=call.tool
            )
            try:
                with use_call(call):
                    result = await call_next(ctx)
            except MCPError as exc:  # a protocol error (unknown tool on some eras, a resolver's)
                call.finish("tool_error", str(exc))
                raise
            finally:
                structlog.contextvars.reset_contextvars(**tokens)
            if call.outcome is None and _asks_first(result):
                call.finish("input_required", "asked the person; the call continues in the client's retry")
            elif call.outcome is None:
                # The tool body never ran: the SDK answered (unknown tool, arguments off the schema).
                text = _error_text(result)
                call.finish("tool_error" if text is not None else "ok", text)
            return result
        finally:
            runtime.record(call.record(time.perf_counter() - started))

    async def _refuse(
        self, call: ActiveCall, tool: GuardedTool | None, method: str = "tools/call"
    ) -> CallToolResult | None:
        """The guard's own refusal of this call, or None to let it run."""
        runtime, identity = self.runtime, call.identity
        if tool is None and method == "subscriptions/listen":
            watched = self.surfaces.watchable() if self.surfaces is not None else []
            shown = ", ".join(watched) or "none on this server"
            message = f"cannot listen to these resources: only {shown} can be subscribed to"
            return self._deny(call, message, "unknown")
        if not identity.may_use(self.server):
            message = (
                f"permission denied: this credential does not open the {self.server} server; "
                "ask an operator for a credential that does"
            )
            return self._deny(call, message, "credential")
        if tool is not None and not runtime.permits(identity, tool.permission):
            message = (
                f"permission denied: tool {tool.name} needs permission {tool.permission!r}, which role "
                f"{identity.role or '(none)'!r} does not have; ask an operator for a role that grants it"
            )
            return self._deny(call, message, "permission")
        decision = await runtime.limiter.check(
            server=self.server,
            tool=call.tool,
            subject=caller_key(identity),
            cost=tool.cost if tool is not None else 1,
        )
        if decision is None:
            return None
        message = (
            f"rate limited by the {decision.rule} quota: retry after {decision.retry_after_ms} ms "
            f"(retry_after_ms={decision.retry_after_ms})"
        )
        runtime.metrics.observe_refusal(self.server, call.tool, "rate_limit")
        call.finish("rate_limited", message)
        return refusal(message, reason="rate_limited", retry_after_ms=decision.retry_after_ms)

    def _deny(self, call: ActiveCall, message: str, why: str) -> CallToolResult:
        self.runtime.metrics.observe_refusal(self.server, call.tool, why)
        call.finish("denied", message)
        return refusal(message, reason="permission_denied")
