"""Resources, prompts and completions of a `ServerKit`, behind the same guard and pipeline as tools.

    @kit.resource("scan://{scan_id}/sarif", "scan_sarif", "A scan as SARIF", permission="scan:run")
    def sarif(scan_id: str) -> dict: ...            # returns text, bytes or a JSON-able value

    @kit.prompt("security_review", "Security review", permission="scan:run")
    def security_review(path: str) -> str: ...      # the runbook the host puts in front of the model

    @kit.completion(permission="deployment:read")
    async def complete(ref, argument, context) -> list[str]: ...

Every `resources/read`, `prompts/get` and `completion/complete` passes the guard exactly as a
`tools/call` does (identity, credential scope, permission, quota, one audit line, under the name
`resource:<template>`, `prompt:<name>` or `completion`); what it returns is redacted like every
result and bounded (`MAX_RESOURCE_CHARS`; `MAX_COMPLETIONS` values). An expected failure of a read
or a prompt reaches the client as a JSON-RPC error with its message and reason, mapped by class (of
a completion: no values, audited); a bug as a request id.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio.to_thread
import structlog
from mcp.shared.exceptions import MCPError
from mcp.shared.uri_template import UriTemplate
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, Completion
from pydantic import BaseModel

from shared.calls import active_call
from shared.errors import ToolFailure
from shared.guard import GuardedTool, Target
from shared.policy_settings import Tier
from shared.redaction import redact_data, redact_text
from shared.results import outcome_of
from shared.watch import Watch, Watched

__all__ = [
    "MAX_COMPLETIONS",
    "MAX_LISTEN_URIS",
    "MAX_RESOURCE_CHARS",
    "Surfaces",
    "completion_handler",
    "guarded_reader",
]

MAX_RESOURCE_CHARS: Final = 4_000_000
"""The largest resource one read returns (a SARIF log of a big scan fits; a runaway does not)."""
MAX_COMPLETIONS: Final = 100
"""The most values one completion returns (the protocol's own cap)."""
MAX_LISTEN_URIS: Final = 50
"""The most resources one listen stream may watch."""

log = structlog.get_logger("code_mcp.surfaces")


@dataclass
class Surfaces:
    """What the guard needs to know about a server's resources, prompts and completion handler."""

    resources: list[tuple[UriTemplate, GuardedTool]] = field(default_factory=list)
    prompts: dict[str, GuardedTool] = field(default_factory=dict)
    completion: GuardedTool | None = None
    watched: list[tuple[UriTemplate, GuardedTool, Watched]] = field(default_factory=list)

    def target(self, method: str, params: Mapping[str, Any]) -> Target | None:
        """The guarded entry a request is for, and what to audit of it; None: not a guarded method."""
        if method == "resources/read":
            uri = str(params.get("uri", ""))[:2048]
            found = next((g for t, g in self.resources if t.match(uri) is not None), None)
            return found, {"uri": uri}
        if method == "prompts/get":
            name = str(params.get("name", ""))[:200]
            arguments = params.get("arguments")
            return self.prompts.get(name), {"name": name, "arguments": arguments or {}}
        if method == "completion/complete":
            ref = params.get("ref") if isinstance(params.get("ref"), Mapping) else {}
            argument = params.get("argument") if isinstance(params.get("argument"), Mapping) else {}
            shown = {"ref": dict(ref or {}), "argument": str((argument or {}).get("name", ""))[:200]}
            return self.completion, shown
        if method == "subscriptions/listen":
            return self._listen_target(params)
        return None

    def _listen_target(self, params: Mapping[str, Any]) -> Target | None:
        """A listen stream for resource updates is guarded as a read of those resources: each URI
        must be a watched resource, all under one permission (at most `MAX_LISTEN_URIS`)."""
        notifications = params.get("notifications")
        asked = notifications.get("resourceSubscriptions") if isinstance(notifications, Mapping) else None
        if not asked:
            return None  # list-changed events only: nothing a caller could learn from them
        uris = [str(uri)[:2048] for uri in (asked if isinstance(asked, list) else [asked])]
        shown = {"uris": uris[:MAX_LISTEN_URIS]}
        entries = {next((g for t, g, _ in self.watched if t.match(uri) is not None), None) for uri in uris}
        if len(uris) > MAX_LISTEN_URIS or None in entries or len(entries) != 1:
            return None, shown
        return entries.pop(), shown

    def watchable(self) -> list[str]:
        """The URI templates a client may listen to."""
        return [template.template for template, _, _ in self.watched]

    def watch(self, template: str, guarded: GuardedTool, fn: Callable[..., Any], watch: Watch) -> Watched:
        """Make a registered resource subscribable: `fn` is read for each of `watch.uris()`."""
        parsed = UriTemplate.parse(template)

        async def read(uri: str) -> Any:
            return await _run(fn, parsed.match(uri) or {})

        watched = Watched(watch, read)
        self.watched.append((parsed, guarded, watched))
        return watched

    def read(self, name: str, permission: str, template: str) -> GuardedTool:
        guarded = GuardedTool(name=f"resource:{name}", permission=permission, tier=Tier.READ)
        self.resources.append((UriTemplate.parse(template), guarded))
        return guarded


def _failed(exc: Exception, what: str) -> MCPError:
    """The protocol error a failed read/get/complete answers with (mapped by class, like tools)."""
    call = active_call()
    if isinstance(exc, ToolFailure):
        call.finish(outcome_of(exc), str(exc))  # type: ignore[arg-type]
        return MCPError(code=INVALID_PARAMS, message=redact_text(str(exc)), data={"reason": exc.reason})
    log.error("surface crashed", what=what, request_id=call.request_id, exc_info=exc)
    call.finish("crashed", "an internal error (see the server log)")
    return MCPError(
        code=INTERNAL_ERROR, message=f"{what} failed with an internal error (request {call.request_id})"
    )


async def _run(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(**kwargs)
    return await anyio.to_thread.run_sync(functools.partial(fn, **kwargs), abandon_on_cancel=True)


def _as_text(value: Any) -> str | bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return redact_text(value)
    data = value.model_dump(mode="json", by_alias=True) if isinstance(value, BaseModel) else value
    return json.dumps(redact_data(data), ensure_ascii=False, separators=(",", ":"))


def guarded_reader(
    fn: Callable[..., Any], what: str, *, prompt: bool = False
) -> Callable[..., Awaitable[Any]]:
    """`fn` as the SDK calls it for a resource (or a prompt): run, redact, bound, map errors by class."""
    render = _prompt_text if prompt else _as_text

    @functools.wraps(fn)
    async def reader(**kwargs: Any) -> Any:
        call = active_call()
        try:
            value = await _run(fn, kwargs)
        except MCPError as exc:
            call.finish("tool_error", str(exc))
            raise
        except Exception as exc:
            raise _failed(exc, what) from None
        out = render(value)
        if len(out) > MAX_RESOURCE_CHARS:
            call.finish("tool_error", "too large")
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"{what} is {len(out):,} characters, over the {MAX_RESOURCE_CHARS:,} a read may "
                "return; use the paged tool instead",
            )
        call.finish("ok")
        return out

    return reader


def _prompt_text(value: Any) -> str:
    return redact_text(str(value))


def completion_handler(
    fn: Callable[..., Awaitable[list[str]]],
) -> Callable[[Any, Any, Any], Awaitable[Completion]]:
    """`fn(ref, argument, context) -> values` as the SDK's completion handler: bounded, redacted."""

    async def handler(ref: Any, argument: Any, context: Any) -> Completion:
        call = active_call()
        try:
            values = await fn(ref, argument, context)
        except ToolFailure as exc:  # a hint that cannot be had is no hint, not an error in the form
            call.finish(outcome_of(exc), str(exc))  # type: ignore[arg-type]
            return Completion(values=[], total=0, has_more=False)
        except Exception as exc:
            raise _failed(exc, "completion") from None
        clean = [redact_text(str(v))[:512] for v in values]
        call.finish("ok")
        return Completion(
            values=clean[:MAX_COMPLETIONS], total=len(clean), has_more=len(clean) > MAX_COMPLETIONS
        )

    return handler
