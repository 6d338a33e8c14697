"""The monitoring server's gates: `slo_status` (error budget and burn rates) and `rollout_verify`
(the health gate after a rollout). Wiring only; the logic is `slo_ops` and `rollout_ops`."""

from __future__ import annotations

import time
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from servers.monitoring import rollout_ops, slo_ops
from servers.monitoring.backends import Backends
from servers.monitoring.gate_models import RolloutVerdict, SloStatus
from servers.monitoring.models import TimeArg
from servers.monitoring.settings import MonitoringSettings
from servers.monitoring.time_args import parse_duration, parse_time
from shared import validation
from shared.errors import InvalidArgument, NotFound
from shared.toolkit import ServerKit


def _known(kind: str, names: list[str]) -> str:
    listed = ", ".join(sorted(names)) or "none (the operator adds them under [monitoring])"
    return f"configured {kind}: {listed}"


def gate_tools(kit: ServerKit, settings: MonitoringSettings, backends: Backends) -> None:
    """Register slo_status and rollout_verify (both read-only: they only observe)."""
    remote = kit.toolset(permission="monitoring:read", open_world=True)

    @remote.tool("slo_status", "SLO error budget and burn rates")
    async def slo_status(
        objective: Annotated[str, Field(description="SLO name from the configuration", max_length=64)],
        time: TimeArg = None,
    ) -> SloStatus:
        """Where an SLO stands: error budget left over its window, burn rates over 1h/5m, 6h/30m,
        1d/2h and 3d/6h, and whether the page or ticket conditions of the Google SRE workbook fire.
        `time` evaluates it in the past (e.g. during an incident)."""
        slo = settings.slos.get(objective)
        if slo is None:
            raise NotFound(f"no SLO named {objective!r}; {_known('SLOs', list(settings.slos))}")
        at = parse_time(time, now=_now())
        return await slo_ops.slo_status(backends.prometheus(slo.endpoint), objective, slo, at=at)

    @remote.tool("rollout_verify", "Verify a rollout with monitoring checks")
    async def rollout_verify(
        deployment: Annotated[str, Field(description="Deployment name (fills $deployment)", max_length=253)],
        ctx: Context,
        checks: Annotated[
            list[str] | None, Field(description="Checks to watch; omit for all", max_length=50)
        ] = None,
        namespace: Annotated[str, Field(description="Namespace ($namespace)", max_length=63)] = "default",
        window: Annotated[str, Field(description="How long to watch, e.g. 5m")] = "5m",
        interval: Annotated[str, Field(description="How often to evaluate, e.g. 15s (at least 1s)")] = "15s",
        fail_fast: Annotated[bool, Field(description="Stop at the first failure (default)")] = True,
    ) -> RolloutVerdict:
        """After k8s_rollout_status says a rollout finished: watch the configured error, latency
        and health checks for `window` and return pass or fail with the evidence. On fail, consider
        k8s_rollback. Blocks for up to `window` (sooner on a failure with fail_fast)."""
        name = validation.k8s_name(deployment, what="deployment")
        ns = validation.k8s_label(namespace, what="namespace")
        chosen = checks if checks is not None else sorted(settings.rollout_checks)
        if not chosen:
            raise InvalidArgument(f"no checks to watch; {_known('checks', list(settings.rollout_checks))}")
        unknown = [c for c in chosen if c not in settings.rollout_checks]
        if unknown:
            known = _known("checks", list(settings.rollout_checks))
            raise NotFound(f"unknown check(s) {', '.join(unknown)}; {known}")
        window_s, interval_s = parse_duration(window), parse_duration(interval)
        if window_s > settings.rollout_max_window_s:
            limit = settings.rollout_max_window_s
            raise InvalidArgument(f"window {window} is above the {limit:g}s this server allows")
        if not 1 <= interval_s <= max(window_s, 1):
            raise InvalidArgument("interval must be at least 1s and at most the window")

        async def progress(done: float, total: float, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return await rollout_ops.verify(
            [(c, settings.rollout_checks[c]) for c in dict.fromkeys(chosen)],
            deployment=name, namespace=ns, client_for=backends.prometheus, health=backends.health(),
            window_s=window_s, interval_s=interval_s, fail_fast=fail_fast, progress=progress,
        )  # fmt: skip


def _now() -> float:
    # A function, not `time.time` inline: slo_status takes an argument named `time`.
    return time.time()
