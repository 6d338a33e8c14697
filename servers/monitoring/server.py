"""The monitoring MCP server: wiring only. The logic lives in the `*_ops.py` modules.

Tools: Prometheus queries and metadata on named endpoints (`prom_*`, range queries behind a cost
guard), Alertmanager alerts, groups, silences, receivers and status on named Alertmanagers (`am_*`;
creating and expiring silences at the write tier only), SLO error budgets and burn rates
(`slo_status`), the health gate after a rollout (`rollout_verify`), endpoint health
(`health_check`), the host (`host_stats`, psutil, no Prometheus needed) and the suite's own metrics
(`suite_metrics`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp.server.apps import Apps
from mcp.server.mcpserver import MCPServer

from servers.monitoring.am_tools import am_tools
from servers.monitoring.backends import Backends
from servers.monitoring.gate_tools import gate_tools
from servers.monitoring.monitoring_surfaces import monitoring_surfaces
from servers.monitoring.probe_tools import probe_tools
from servers.monitoring.prom_tools import prom_tools
from servers.monitoring.settings import MonitoringSettings
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.toolkit import ServerKit
from shared.urls import ResolvedUrl

INSTRUCTIONS = """Find out what is wrong with production right now, with bounded, readable answers.
Start with prom_alerts (what is firing) and prom_targets(health='down'), then prom_explain_alert for
one alert, prom_query / prom_query_range for numbers (range results come summarised per series:
min/max/avg/last/trend), prom_labels / prom_label_values / prom_series / prom_metric_metadata to find
metric names, prom_status for Prometheus itself. Every prom_* tool takes `endpoint` (see
prom_endpoints). Alertmanager: am_alerts (what notifies, what is silenced or inhibited), am_alert_groups,
am_silences, am_receivers, am_status; am_silence_create (use dry_run first: it shows what the matchers
would mute) and am_silence_expire where the write tier is enabled. slo_status tells how much error
budget an SLO has left and whether it burns fast enough to page. After a rollout (k8s_rollout_status
done), rollout_verify watches the configured checks and says pass or fail; on fail consider
k8s_rollback. host_stats reads this machine without Prometheus; health_check probes URLs the policy
allows; suite_metrics shows the CODE servers' own call, error and latency figures."""


def build_server(
    config: SuiteConfig,
    *,
    runtime: Runtime | None = None,
    prometheus_transport: httpx.AsyncBaseTransport | None = None,
) -> MCPServer[Any]:
    """The monitoring server.

    Args:
        config: the suite configuration; `[monitoring]` names the Prometheus endpoints, the
            Alertmanagers, the SLOs, the rollout checks and the limits.
        runtime: shared by every server of one process.
        prometheus_transport: an httpx transport for every Prometheus and Alertmanager client
            (tests only).
    """
    settings = config.section("monitoring", MonitoringSettings)

    async def resolve_url(url: str) -> ResolvedUrl:
        return await kit.policy.resolve_url(url)

    backends = Backends(settings, resolve_url, prometheus_transport=prometheus_transport)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[None]:
        async with backends.session():
            yield

    kit = ServerKit(
        "monitoring", config, runtime, instructions=INSTRUCTIONS, lifespan=lifespan, extensions=[Apps()]
    )
    prom_tools(kit, settings, backends.prometheus)
    am_tools(kit, settings, backends)
    gate_tools(kit, settings, backends)
    probe_tools(kit, settings, backends)
    monitoring_surfaces(kit, settings, backends.prometheus)
    return kit.server
