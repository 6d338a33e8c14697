"""`ServerKit`: build an `MCPServer` whose every tool is guarded and whose every result is clean.

    kit = ServerKit("monitoring", config, runtime, instructions="…")
    prometheus = kit.toolset(permission="monitoring:read", open_world=True)

    @prometheus.tool("prom_query", "Prometheus instant query")
    async def prom_query(expr: str, cursor: Cursor = None, limit: Limit = None) -> Page[Sample]:
        \"\"\"What the model reads about the tool.\"\"\"
        return page(await client.query(expr))

    return kit.server

A toolset holds what its tools share: the permission (which also sets the tier: `…:write` →
write, `…:admin` → admin, else read), whether they reach outside (`open_world`) and a default cost.
A tool is an `async def`, or a plain `def` for blocking clients (docker, kubernetes): the kit runs
that one in a worker thread. Every call then passes the guard (identity, permission, quota, audit)
and every result the pipeline (`shared.results`: redaction, output budget, text); an exception is
mapped by its class. `page(items)` (`shared.paging`) pages with a cursor bound to this very call.

The kit is also the one place that registers what a server offers beside tools — resources
(subscribable with `watch=`), prompts, completions, MCP Apps views — and asks the person before a
write (`shared.confirm`); so it runs past 400 lines, each of them one of those registrations or
the tool wrapper they share.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, get_type_hints

import anyio
import anyio.to_thread
import structlog
from mcp.server.apps import EXTENSION_ID
from mcp.server.extension import Extension
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import ToolAnnotations
from pydantic import BaseModel

from shared import confirm
from shared.calls import active_call
from shared.errors import ToolFailure
from shared.guard import Guard, GuardedTool
from shared.output import OutputBudget
from shared.paging import CursorCodec, Pager, columns_sentence, page_item_type
from shared.policy import Policy
from shared.policy_settings import Tier, tier_of_permission
from shared.results import crash, failure, outcome_of, refusal, success
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.surfaces import Surfaces, completion_handler, guarded_reader
from shared.views import APP_MIME_TYPE, view_document
from shared.watch import ListeningBus, Watch, watch_loop

__all__ = ["ServerKit", "Toolset"]

_FnT = TypeVar("_FnT", bound=Callable[..., Any])
_CompleteT = TypeVar("_CompleteT", bound=Callable[..., Awaitable[list[str]]])
_TOOL_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PAGING_ARGS: Final = frozenset({"cursor", "limit", "columns"})
Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]]

log = structlog.get_logger("code_mcp.toolkit")


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    blocking: bool
    context_args: frozenset[str]
    item_type: Any = None  # T of a tool that returns Page[T]
    selectable: bool = False  # it takes `columns`
    confirms: bool = False  # a write: the confirmation step (`shared.confirm`) runs first


class ServerKit:
    """An `MCPServer` (`kit.server`) with the guard installed, and the toolsets that register on it.

    Args:
        name: the server's name (`deployment`, `experts`, …); also its policy and audit name.
        config: the suite configuration.
        runtime: shared by all servers of one process; None makes one from `config`.
        instructions: what the server is for, written for the model.
        lifespan: the `MCPServer` lifespan, if the server holds clients open.
        extensions: SDK extensions the server offers (e.g. MCP Apps, `mcp.server.apps.Apps`).
    """

    def __init__(
        self,
        name: str,
        config: SuiteConfig,
        runtime: Runtime | None = None,
        *,
        instructions: str,
        lifespan: Lifespan | None = None,
        extensions: Sequence[Extension] = (),
    ) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime if runtime is not None else Runtime.from_config(config)
        self.policy: Policy = self.runtime.policy
        self.budget: OutputBudget = self.runtime.budget
        self.max_tier: Tier = self.runtime.tier_for(name)
        self._guarded: dict[str, GuardedTool] = {}
        self._declared: set[str] = set()
        self.surfaces = Surfaces()
        self._extensions = {extension.identifier for extension in extensions}
        self._bus = ListeningBus()
        self.server: MCPServer[Any] = MCPServer(
            name,
            instructions=instructions,
            lifespan=_with_runtime(self.runtime, lifespan, self._bus, self.surfaces),
            subscriptions=self._bus,
            middleware=[Guard(name, self.runtime, self._guarded, self.surfaces)],
            extensions=list(extensions),
            request_state_security=self.runtime.request_state_security(),
        )

    @property
    def tool_names(self) -> list[str]:
        """The tools registered (those within the configured tier and the enable/disable lists)."""
        return sorted(self._guarded)

    def toolset(
        self, *, permission: str, open_world: bool, tier: Tier | None = None, cost: int = 1
    ) -> Toolset:
        """Tools that share a permission, an open-world hint and a default cost.

        The tier defaults to the permission's (`deployment:write` → WRITE, `…:admin` → ADMIN).
        """
        if not permission.strip():
            raise ValueError("a toolset needs a permission")
        return Toolset(self, permission, tier or tier_of_permission(permission), open_world, cost)

    def resource(
        self,
        uri: str,
        name: str,
        title: str,
        *,
        permission: str,
        mime_type: str = "application/json",
        watch: Watch | None = None,
    ) -> Callable[[_FnT], _FnT]:
        """Register a resource (or a template, when `uri` has `{variables}`, the function's
        parameters). Read through the guard under `permission`; the result (text, bytes or a
        JSON-able value) redacted and bounded (`shared.surfaces`). The docstring describes it.
        `watch`: clients may subscribe to it (`shared.watch`: read again while someone listens)."""

        def register(fn: _FnT) -> _FnT:
            _read_only(permission)
            guarded = self.surfaces.read(name, permission, uri)
            if watch is not None:
                self.surfaces.watch(uri, guarded, fn, watch)
            reader = guarded_reader(fn, f"resource {name}")
            self.server.resource(
                uri, name=name, title=title, description=inspect.getdoc(fn), mime_type=mime_type
            )(reader)
            return fn

        return register

    def view(self, name: str, title: str, source: Path, *, permission: str) -> dict[str, Any]:
        """Register an MCP Apps view (`ui://<server>/<name>.html`, `shared.views`) drawn from `source`,
        read under `permission`; returns the `_meta` to give the tools it draws (`tool(meta=…)`).
        The server must offer the extension (`extensions=[mcp.server.apps.Apps()]`)."""
        if EXTENSION_ID not in self._extensions:
            raise ValueError(f"view {name}: the server does not offer MCP Apps (extensions=[Apps()])")
        uri = f"ui://{self.name}/{name}.html"
        document = view_document(title, source)

        def view() -> str:
            return document

        view.__doc__ = f"{title}: an MCP Apps view of the tool's result (HTML; loads nothing from outside)."
        self.resource(uri, name, title, permission=permission, mime_type=APP_MIME_TYPE)(view)
        return {"ui": {"resourceUri": uri}}

    def prompt(
        self, name: str, title: str, *, permission: str, needs: Sequence[str] = ()
    ) -> Callable[[_FnT], _FnT]:
        """Register a prompt: the function takes the prompt's arguments and returns its text (a
        runbook naming the tools to use), redacted; got through the guard under `permission`.
        `needs`: tools the runbook cannot do without — the prompt exists only when they do (register
        it after the tools)."""

        def register(fn: _FnT) -> _FnT:
            _read_only(permission)
            if not set(needs) <= self._guarded.keys():
                return fn
            self.surfaces.prompts[name] = GuardedTool(f"prompt:{name}", permission, Tier.READ)
            reader = guarded_reader(fn, f"prompt {name}", prompt=True)
            self.server.prompt(name=name, title=title, description=inspect.getdoc(fn))(reader)
            return fn

        return register

    def completion(self, *, permission: str) -> Callable[[_CompleteT], _CompleteT]:
        """Register the server's completion handler: `async fn(ref, argument, context) -> [values]`,
        bounded, redacted, through the guard under `permission`."""

        def register(fn: _CompleteT) -> _CompleteT:
            _read_only(permission)
            self.surfaces.completion = GuardedTool("completion", permission, Tier.READ)
            self.server.completion()(completion_handler(fn))  # type: ignore[no-untyped-call]
            return fn

        return register

    def _register(
        self,
        fn: _FnT,
        tool: GuardedTool,
        annotations: ToolAnnotations,
        description: str,
        meta: dict[str, Any] | None = None,
        preview: confirm.Preview | None = None,
        asks: bool = True,
    ) -> None:
        if tool.name in self._declared:
            raise ValueError(f"tool {tool.name}: registered twice")
        self._declared.add(tool.name)
        if not self.policy.registers(self.name, tool.tier, tool.name):
            return  # above the tier, or disabled: the tool does not exist on this server
        item_type = page_item_type(fn)
        selectable = item_type is not None and "columns" in inspect.signature(fn).parameters
        context_args = _context_args(fn)
        confirms = tool.tier is not Tier.READ and asks
        blocking = not inspect.iscoroutinefunction(fn)
        spec = _Spec(tool.name, blocking, context_args, item_type, selectable, confirms)
        if selectable:
            description += "\n\n" + columns_sentence(item_type)
        wrapped = _pipeline(fn, spec, self.budget, self.runtime.cursors)
        if confirms:
            step = confirm.confirmation_step(
                server=self.name,
                tool=tool.name,
                title=annotations.title or tool.name,
                argument_names=[n for n in inspect.signature(fn).parameters if n not in context_args],
                destructive=bool(annotations.destructive_hint),
                settings=self.policy.settings.confirm,
                preview=preview,
            )
            _add_parameter(wrapped, fn, *step)
        self.server.add_tool(
            wrapped,
            name=tool.name,
            title=annotations.title,
            description=description,
            annotations=annotations,
            meta=meta,
        )
        self._guarded[tool.name] = tool


class Toolset:
    """Register tools of one kind on a `ServerKit` (made by `kit.toolset(...)`)."""

    def __init__(self, kit: ServerKit, permission: str, tier: Tier, open_world: bool, cost: int) -> None:
        self.kit = kit
        self.permission = permission
        self.tier = tier
        self.open_world = open_world
        self.cost = cost

    def tool(
        self,
        name: str,
        title: str,
        *,
        cost: int | None = None,
        idempotent: bool | None = None,
        destructive: bool | None = None,
        open_world: bool | None = None,
        description: str | None = None,
        meta: dict[str, Any] | None = None,
        preview: confirm.Preview | None = None,
        confirm: bool = True,
    ) -> Callable[[_FnT], _FnT]:
        """Register a tool (only if its tier is configured and the enable/disable lists keep it).

        Annotations are derived: read-only for READ tools; destructive by default for WRITE/ADMIN
        tools; idempotent by default for READ tools. The description defaults to the docstring. The
        function must return a pydantic model (every tool has an output schema). `meta` is the
        tool's `_meta` (e.g. `{"ui": {"resourceUri": "ui://…"}}` for an MCP Apps view).

        A write/admin tool asks the person first when `[policy.confirm]` says so (`shared.confirm`);
        `preview` (taking any of the tool's arguments by name, returning a `confirm.Change`) says
        what the change is — its summary, namespace and whether it destroys anything. Without one
        the question shows the title and the arguments, and the destructive hint decides.
        `confirm=False`: a write-tier tool that changes nothing (a dry-run plan) never asks.

        Raises:
            ValueError: a bad name, an empty title or description, a duplicate, no model returned.
        """
        if not _TOOL_NAME.fullmatch(name):
            raise ValueError(f"tool name {name!r} must be snake_case, at most 64 characters")
        if not title.strip():
            raise ValueError(f"tool {name}: a title is required")
        runtime = self.kit.runtime
        weight = runtime.cost_of(name, cost if cost is not None else self.cost)
        runtime.limiter.validate_cost(name, weight)
        read_only = self.tier is Tier.READ

        def register(fn: _FnT) -> _FnT:
            text = description or inspect.getdoc(fn)
            if not text:
                raise ValueError(f"tool {name}: write a description (or docstring) for the model")
            returned = get_type_hints(fn).get("return")
            if not (inspect.isclass(returned) and issubclass(returned, BaseModel)):
                raise ValueError(f"tool {name}: must return a pydantic model (it has an output schema)")
            annotations = ToolAnnotations(
                title=title,
                read_only_hint=read_only,
                destructive_hint=(not read_only) if destructive is None else destructive,
                idempotent_hint=read_only if idempotent is None else idempotent,
                open_world_hint=self.open_world if open_world is None else open_world,
            )
            guarded = GuardedTool(name=name, permission=self.permission, tier=self.tier, cost=weight)
            self.kit._register(fn, guarded, annotations, text, meta, preview, asks=confirm)
            return fn

        return register


def _read_only(permission: str) -> None:
    """Resources, prompts and completions only read: they take a read permission."""
    if tier_of_permission(permission) is not Tier.READ:
        raise ValueError(f"permission {permission!r}: resources, prompts and completions only read")


def _context_args(fn: Callable[..., Any]) -> frozenset[str]:
    """The parameters the SDK fills with the request `Context` (left out of a cursor's scope)."""
    hints = get_type_hints(fn)
    return frozenset(
        name
        for name, hint in hints.items()
        if name != "return" and (hint is Context or getattr(hint, "__origin__", None) is Context)
    )


def _pipeline(fn: Callable[..., Any], spec: _Spec, budget: OutputBudget, cursors: CursorCodec) -> Any:
    """The tool as the SDK calls it: run the body, then pass the result through `shared.results`."""

    @functools.wraps(fn)
    async def tool(**kwargs: Any) -> Any:
        call = active_call()
        answer = confirm.answer_of(kwargs.pop(confirm.PARAMETER)) if spec.confirms else None
        if answer is not None and not answer.run and answer.error is None:
            call.finish(answer.outcome, answer.message)
            return refusal(answer.message or answer.outcome, reason=answer.outcome)
        arguments = {k: v for k, v in kwargs.items() if k not in spec.context_args}
        query = {k: v for k, v in arguments.items() if k not in _PAGING_ARGS}
        owner = f"{spec.name}\x1f{call.identity.method}:{call.identity.subject}"
        call.pager = Pager(
            cursors, budget, owner, query, cursor=kwargs.get("cursor"), limit=kwargs.get("limit"),
            item_type=spec.item_type, columns=kwargs.get("columns"), selectable=spec.selectable,
        )  # fmt: skip
        try:
            if answer is not None and answer.error is not None:
                raise answer.error  # the step blocked the change: reported like the tool's own error
            if spec.blocking:
                value = await anyio.to_thread.run_sync(
                    functools.partial(fn, **kwargs), abandon_on_cancel=True
                )
            else:
                value = await fn(**kwargs)
        except ToolFailure as exc:
            call.finish(outcome_of(exc), str(exc))  # type: ignore[arg-type]
            return failure(exc)
        except MCPError as exc:
            call.finish("tool_error", str(exc))
            raise
        except Exception:
            log.exception("tool crashed", tool=spec.name, request_id=call.request_id)
            call.finish("crashed", "an internal error (see the server log)")
            return crash(spec.name, call.request_id)
        result = success(value, budget=budget)
        call.finish("ok", answer.message if answer is not None else None)
        return result

    # The SDK reads the signature (and so the input schema) through __wrapped__; it must see an
    # async callable, which `tool` is, whether the body is async or runs in a thread.
    return tool


def _add_parameter(wrapper: Any, fn: Callable[..., Any], name: str, annotation: Any) -> None:
    """Give the SDK's view of a tool one more (keyword-only, resolver-filled) parameter."""
    hints = get_type_hints(fn, include_extras=True)
    signature = inspect.signature(fn)
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    wrapper.__signature__ = signature.replace(parameters=parameters, return_annotation=hints.get("return"))
    wrapper.__annotations__ = {**hints, name: annotation}


def _with_runtime(
    runtime: Runtime, lifespan: Lifespan | None, bus: ListeningBus, surfaces: Surfaces
) -> Lifespan:
    """Open the runtime's audit log before the server's own lifespan (the owner closes it); watch
    the subscribable resources while the server runs."""

    @asynccontextmanager
    async def wrapped(server: MCPServer[Any]) -> AsyncIterator[Any]:
        await runtime.open()
        async with anyio.create_task_group() as watching:
            if surfaces.watched:
                watching.start_soon(watch_loop, bus, [w for _, _, w in surfaces.watched])
            try:
                if lifespan is None:
                    yield {}
                else:
                    async with lifespan(server) as state:
                        yield state
            finally:
                watching.cancel_scope.cancel()

    return wrapped
