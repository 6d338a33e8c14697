"""The one result pipeline every tool result passes through: redaction, the output budget, the text.

`success` turns what a tool returned into the `CallToolResult` the client gets: the structured
content is the model's JSON with every secret redacted (`shared.redaction`), cut to the result cap
when it is larger (`shared.output.fit`, said in the text and in `_meta`); the text block carries the
same data as compact JSON for hosts that show only text. `failure` turns an expected failure —
chosen by the exception's class — into the structured refusal the guard's own refusals use, and
`crash` turns a bug into a message that reveals nothing. No tool can skip any of this.
"""

from __future__ import annotations

import json
from typing import Any, Final

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from shared.errors import PermissionDenied, RateLimited, ToolFailure
from shared.output import OutputBudget, fit
from shared.ratelimit import retry_after_seconds
from shared.redaction import redact_data, redact_text

__all__ = ["REFUSAL_META", "crash", "failure", "outcome_of", "refusal", "render_text", "success"]

REFUSAL_META: Final = "code-mcp/refusal"
"""`_meta` key of a refusal's data (reason, message, retry delay)."""
CLIPPED_META: Final = "code-mcp/clipped"


def render_text(data: Any) -> str:
    """The text block of a result: compact JSON (no indentation, no ASCII escaping)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def success(value: Any, *, budget: OutputBudget) -> CallToolResult:
    """The client's view of a tool's return value, redacted and within the budget."""
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json", by_alias=True)
    else:
        data = to_jsonable_python(value, fallback=str)
    data = redact_data(data)
    data, note = fit(data, budget.max_result_chars)
    text = render_text(data)
    meta = None
    if note is not None:
        text += f"\n[{note}]"
        meta = {CLIPPED_META: note}
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=data if isinstance(data, dict) else {"result": data},
        _meta=meta,
    )


def refusal(message: str, *, reason: str, retry_after_ms: int | None = None) -> CallToolResult:
    """A tool error the model can act on; the reason (and retry delay) also travel as data."""
    text = redact_text(message)
    data: dict[str, Any] = {"error": reason, "message": text}
    if retry_after_ms is not None:
        data["retry_after_ms"] = retry_after_ms
        data["retry_after_s"] = retry_after_seconds(retry_after_ms)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=data,
        is_error=True,
        _meta={REFUSAL_META: data},
    )


def failure(exc: ToolFailure) -> CallToolResult:
    """The refusal for an expected failure, by its class (`reason` and, for quotas, the delay)."""
    retry = exc.retry_after_ms if isinstance(exc, RateLimited) else None
    return refusal(str(exc) or exc.reason.replace("_", " "), reason=exc.reason, retry_after_ms=retry)


def outcome_of(exc: ToolFailure) -> str:
    """The audit outcome of an expected failure."""
    if isinstance(exc, PermissionDenied):
        return "denied"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    return "tool_error"


def crash(tool: str, request_id: str) -> CallToolResult:
    """What the model sees of a bug: that the tool failed, and where an operator can look."""
    return refusal(
        f"tool {tool} failed with an internal error (request {request_id}); the server log has the "
        "details — trying again will likely fail the same way",
        reason="internal_error",
    )
