"""`ServerKit`: build an `MCPServer` whose every tool call passes the guard.

kit = ServerKit("monitoring", config, runtime, instructions="…")

@kit.tool(name="prom_query", title="Prometheus instant query", permission="monitoring:read",
          tier=Tier.READ, open_world=True)
async def prom_query(expr: str) -> QueryResult: ...

return kit.server
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from shared.config import SuiteConfig
from shared.guard import Guard, GuardedTool
from shared.output import OutputBudget
from shared.policy import Policy, Tier
from shared.runtime import Runtime

__all__ = ["ServerKit"]

_FnT = TypeVar("_FnT", bound=Callable[..., Any])
_TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ServerKit:
    """An `MCPServer` (`kit.server`) with the guard installed and a tier-aware `tool` decorator.

    Args:
        name: the server's name (`deployment`, `experts`, …); also its policy and audit name.
        config: the suite configuration.
        runtime: shared by all servers of one process; None makes one from `config`.
        instructions: what the server is for, written for the model.
        lifespan: the `MCPServer` lifespan, if the server holds clients open.
    """

    def __init__(
        self,
        name: str,
        config: SuiteConfig,
        runtime: Runtime | None = None,
        *,
        instructions: str,
        lifespan: Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime if runtime is not None else Runtime.from_config(config)
        self.policy: Policy = self.runtime.policy
        self.budget: OutputBudget = self.runtime.budget
        self.max_tier: Tier = self.runtime.tier_for(name)
        self._guarded: dict[str, GuardedTool] = {}
        self.server: MCPServer[Any] = MCPServer(
            name,
            instructions=instructions,
            lifespan=_with_runtime(self.runtime, lifespan),
            middleware=[Guard(name, self.runtime, self._guarded)],
        )

    @property
    def tool_names(self) -> list[str]:
        """The tools registered (those within the configured tier)."""
        return sorted(self._guarded)

    def tool(
        self,
        *,
        name: str,
        title: str,
        permission: str,
        tier: Tier = Tier.READ,
        cost: int = 1,
        open_world: bool,
        idempotent: bool | None = None,
        destructive: bool | None = None,
        description: str | None = None,
    ) -> Callable[[_FnT], _FnT]:
        """Register an `async def` tool, only if `tier` is within the tier configured for this server.

        Annotations are derived: read-only for READ tools; destructive by default for WRITE/ADMIN
        tools; idempotent by default for READ tools. The description defaults to the docstring.

        Raises:
            TypeError: the function is not `async def`.
            ValueError: a bad name, an empty title or description, or a duplicate tool.
        """
        if not _TOOL_NAME.fullmatch(name):
            raise ValueError(f"tool name {name!r} must be snake_case, at most 64 characters")
        if not title.strip():
            raise ValueError(f"tool {name}: a title is required")
        if not permission.strip():
            raise ValueError(f"tool {name}: a permission is required")
        cost = self.runtime.cost_of(name, cost)
        self.runtime.limiter.validate_cost(name, cost)

        def register(fn: _FnT) -> _FnT:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"tool {name}: must be `async def` (call blocking code via anyio.to_thread)")
            text = description or inspect.getdoc(fn)
            if not text:
                raise ValueError(f"tool {name}: write a description (or docstring) for the model")
            if name in self._guarded:
                raise ValueError(f"tool {name}: registered twice")
            if tier > self.max_tier:
                return fn  # above the configured tier: the tool does not exist on this server
            read_only = tier is Tier.READ
            annotations = ToolAnnotations(
                title=title,
                read_only_hint=read_only,
                destructive_hint=(not read_only) if destructive is None else destructive,
                idempotent_hint=read_only if idempotent is None else idempotent,
                open_world_hint=open_world,
            )
            self.server.add_tool(fn, name=name, title=title, description=text, annotations=annotations)
            self._guarded[name] = GuardedTool(name=name, permission=permission, tier=tier, cost=cost)
            return fn

        return register


Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]]


def _with_runtime(runtime: Runtime, lifespan: Lifespan | None) -> Lifespan:
    """Open the runtime's audit log before the server's own lifespan (the owner closes it)."""

    @asynccontextmanager
    async def wrapped(server: MCPServer[Any]) -> AsyncIterator[Any]:
        await runtime.open()
        if lifespan is None:
            yield {}
            return
        async with lifespan(server) as state:
            yield state

    return wrapped
