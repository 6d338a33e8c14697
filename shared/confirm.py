"""Asking the person before a change runs: MCP elicitation for every write tool of the kit.

The kit gives every write/admin tool a confirmation step (an SDK `Resolve` resolver, so it works
over the 2025-era `elicitation/create` request and over the 2026-07-28 `InputRequiredResult`
rounds). The step decides, from `[policy.confirm]`, the tool, the namespace and the change the
tool's preview describes, whether to ask; the tool body runs only on an explicit accept.

What keeps it from becoming a bypass:
- the question names the server, the tool, the caller and the change (for a plan: its id and
  hash); the SDK records an answer against the exact question it was given for, so an answer to
  another plan, another caller or an edited plan never counts — the question is asked again;
- the SDK seals `requestState` (AES-GCM, bound to the tool, its arguments and the caller; the
  kit binds our own caller identity), so a client's tampered echo is rejected;
- a preview that fails blocks the change with its error (fail closed), and a client that cannot
  be asked is refused with what to configure — never a silent yes.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, cast

import anyio.to_thread
from mcp.server.elicitation import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationResult,
)
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, ConfigDict, Field

from shared.calls import current_identity
from shared.errors import PermissionDenied
from shared.policy_settings import ConfirmMode, ConfirmSettings
from shared.redaction import redact_data, redact_text

__all__ = [
    "PARAMETER",
    "Answer",
    "Change",
    "Confirmation",
    "Preview",
    "Verdict",
    "answer_of",
    "confirmation_step",
    "mode_for",
]

PARAMETER: Final = "code_mcp_confirmation"
"""The tool parameter the confirmation step fills (left out of the input schema by the SDK)."""
MAX_QUESTION_CHARS: Final = 6_000
_STRICTNESS: Final[dict[str, int]] = {"never": 0, "destructive": 1, "always": 2}
_INPUT_REQUIRED_ERA: Final = "2026-07-28"


@dataclass(frozen=True, slots=True)
class Change:
    """What a write would do, as its tool's preview describes it to the person."""

    summary: str
    namespace: str | None = None
    destructive: bool = True


class Confirmation(BaseModel):
    """The form the person answers. Strict: only a JSON `true` is a yes (never "yes", 1 or "on")."""

    model_config = ConfigDict(strict=True)

    confirm: bool = Field(description="Run this change now")


Preview = Callable[..., Change | Awaitable[Change]]
"""A tool's description of its change; takes any of the tool's arguments by name."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The confirmation step's decision when it asked nothing: run the tool (no `error`), or block
    the change with `error` (a failed preview, a client that cannot be asked)."""

    error: Exception | None = None


def mode_for(settings: ConfirmSettings, tool: str, namespace: str | None) -> ConfirmMode:
    """The strictest mode an entry names for this tool or namespace; the default when none does."""
    named = [mode for pattern, mode in settings.tools.items() if fnmatch.fnmatchcase(tool, pattern)]
    if namespace:
        named += [m for pattern, m in settings.namespaces.items() if fnmatch.fnmatchcase(namespace, pattern)]
    return max(named, key=_STRICTNESS.__getitem__) if named else settings.default


@dataclass(frozen=True, slots=True)
class Answer:
    """How the step ended, for the pipeline: run the tool, or refuse it with an audit outcome."""

    run: bool
    outcome: Literal["ok", "declined", "cancelled"] = "ok"
    message: str | None = None
    error: Exception | None = None


def answer_of(outcome: ElicitationResult[Any]) -> Answer:
    """Read the step's outcome: only an accepted, ticked form (or no question at all) runs the tool."""
    if isinstance(outcome, AcceptedElicitation):
        data = outcome.data
        if isinstance(data, Verdict):
            return Answer(run=data.error is None, error=data.error)
        if isinstance(data, Confirmation) and data.confirm:
            return Answer(run=True, message="confirmed by the person")
        return Answer(False, "declined", "the person did not tick confirm: nothing was changed")
    if isinstance(outcome, DeclinedElicitation):
        return Answer(False, "declined", "the person declined this change: nothing was changed")
    assert isinstance(outcome, CancelledElicitation)
    return Answer(False, "cancelled", "the person dismissed the confirmation: nothing was changed")


def _generic_summary(title: str, arguments: Mapping[str, Any]) -> str:
    shown = json.dumps(redact_data(dict(arguments)), ensure_ascii=False, default=str, sort_keys=True)
    return f"{title} with {shown}"


def _question(server: str, tool: str, change: Change) -> str:
    identity = current_identity()
    head = f"{server}: {tool}, asked by {identity.subject} (role {identity.role or 'none'})"
    where = f" in namespace {change.namespace}" if change.namespace else ""
    ending = "Confirm to run this change; decline to stop it."
    text = redact_text(f"{head}{where}\n\n{change.summary}\n\n{ending}")
    if len(text) > MAX_QUESTION_CHARS:
        text = text[: MAX_QUESTION_CHARS - 40] + "\n[… cut; the tool's plan has it all]"
    return text


def _cannot_ask(ctx: Context[Any, Any]) -> str | None:
    """Why this client cannot be asked (None when it can)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return "the client does not offer form elicitation"
    version = ctx.protocol_version
    new_era = version is not None and is_version_at_least(version, _INPUT_REQUIRED_ERA)
    if not new_era and not ctx.session.can_send_request:
        return "this connection cannot carry a question to the client (stateless HTTP before 2026-07-28)"
    return None


def confirmation_step(
    *,
    server: str,
    tool: str,
    title: str,
    argument_names: list[str],
    destructive: bool,
    settings: ConfirmSettings,
    preview: Preview | None,
) -> tuple[str, Any]:
    """The (parameter name, annotation) that gives a tool its confirmation step."""
    wanted = list(inspect.signature(preview).parameters) if preview is not None else argument_names
    unknown = sorted(set(wanted) - set(argument_names))
    if unknown:
        raise ValueError(f"tool {tool}: its preview takes {unknown}, which are not arguments of the tool")

    async def describe(arguments: dict[str, Any]) -> Change:
        if preview is None:
            namespace = arguments.get("namespace")
            return Change(
                _generic_summary(title, arguments),
                namespace=namespace if isinstance(namespace, str) else None,
                destructive=destructive,
            )
        if inspect.iscoroutinefunction(preview):
            return cast(Change, await preview(**arguments))
        return cast(Change, await anyio.to_thread.run_sync(lambda: preview(**arguments)))

    async def confirm_change(ctx: Context[Any, Any], **arguments: Any) -> Verdict | Elicit[Confirmation]:
        try:
            change = await describe({name: arguments[name] for name in wanted})
        except Exception as exc:  # fail closed: the pipeline reports it by class
            return Verdict(error=exc)
        mode = mode_for(settings, tool, change.namespace)
        if mode == "never" or (mode == "destructive" and not change.destructive):
            return Verdict()
        reason = _cannot_ask(ctx)
        if reason is not None:
            return Verdict(
                error=PermissionDenied(
                    f"{tool} needs the person's confirmation here ([policy.confirm] mode {mode!r}), but "
                    f"{reason}: use a client that supports elicitation, or have an operator change "
                    "[policy.confirm] for this tool or namespace"
                )
            )
        return Elicit(_question(server, tool, change), Confirmation)

    confirm_change.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)]
        + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in argument_names]
    )
    confirm_change.__annotations__ = {"ctx": Context}
    confirm_change.__qualname__ = f"confirm_{tool}"
    return PARAMETER, Annotated[ElicitationResult[Confirmation], Resolve(confirm_change)]
