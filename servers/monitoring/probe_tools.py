"""The monitoring server's local toolset: endpoint health, this host, and the suite's own metrics.

Wiring only; the logic is `health_ops`, `host_ops` and `suite_ops`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from servers.monitoring import host_ops, suite_ops
from servers.monitoring.backends import Backends
from servers.monitoring.models import HealthReport, HostStats, SuiteMetrics
from servers.monitoring.settings import MonitoringSettings
from shared.paging import page
from shared.toolkit import ServerKit


def probe_tools(kit: ServerKit, settings: MonitoringSettings, backends: Backends) -> None:
    """Register health_check, host_stats and suite_metrics on `kit`."""
    remote = kit.toolset(permission="monitoring:read", open_world=True)
    local = kit.toolset(permission="monitoring:read", open_world=False)

    @remote.tool("health_check", "Check HTTP endpoint health")
    async def health_check(
        urls: Annotated[list[str], Field(description="http(s) URLs to probe (the policy must allow each)")],
        expect_status: Annotated[
            int | None, Field(description="Status that counts as healthy; default any 2xx", ge=100, le=599)
        ] = None,
        expect_text: Annotated[
            str | None, Field(description="Text the body must contain (first 64 KiB)", max_length=1000)
        ] = None,
    ) -> HealthReport:
        """Probe URLs: status, latency, TLS certificate expiry (https) and expected body text.
        Redirects are reported, not followed. URLs outside the configured allowlist are refused."""
        return await backends.health().check(urls, expect_status=expect_status, expect_text=expect_text)

    @local.tool("host_stats", "Host CPU, memory, disk and processes")
    async def host_stats() -> HostStats:
        """CPU, memory, swap, disks, load average and the busiest processes of the machine this server
        runs on. Needs no Prometheus."""
        return await host_ops.host_stats(settings.top_processes)

    @remote.tool("suite_metrics", "CODE suite metrics")
    async def suite_metrics() -> SuiteMetrics:
        """Calls, errors, refusals and mean latency per tool of the CODE servers configured in
        [monitoring] suite_servers (of this process when none are configured)."""
        # This process's own figures only when no servers are configured (a configured /metrics may be
        # this very process, which would count every call twice).
        local = None if settings.suite_servers else kit.runtime.metrics.exposition().decode()
        found = await suite_ops.suite_metrics(
            settings.suite_servers, timeout_s=settings.suite_timeout_s, local=local
        )
        cut = page(found.tools)
        note = (
            " ".join(n for n in (found.note, cut.note and "Only the busiest tools are shown.") if n) or None
        )
        return found.model_copy(update={"tools": cut.items, "note": note})
