"""The monitoring server's prompts, resources and completions (read tier, behind the guard).

Prompts: `incident_triage(service)` and `alert_explain(alert)` — runbooks naming the tools to use.
Resource: `alerts://{endpoint}` — the alerts firing or pending on one Prometheus endpoint now;
subscribable (`subscriptions/listen`), re-read every `alerts_watch_s` while someone listens.
Completions: alert names (`alert`, from the alerting rules), jobs (`service`), metric names
(`metric`) and endpoint names, from the live Prometheus, by prefix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from servers.monitoring import alert_ops, prom_ops
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import MonitoringSettings
from shared.toolkit import ServerKit
from shared.watch import Watch

__all__ = ["monitoring_surfaces"]

READ = "monitoring:read"


def _alert_set(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What counts as a change of `alerts://…`: which alerts are active, in which state, since when."""
    return sorted((a["name"], a["state"], sorted(a["labels"].items()), a["active_since"]) for a in alerts)


def monitoring_surfaces(
    kit: ServerKit, settings: MonitoringSettings, client_for: Callable[[str | None], PrometheusClient]
) -> None:
    """Register the prompts, resources and completion handler on `kit`."""

    @kit.prompt("incident_triage", "Triage an incident", permission=READ)
    def incident_triage(service: Annotated[str, Field(description="The service (Prometheus job)")]) -> str:
        """Work out what is wrong with a service from its alerts, targets and metrics."""
        return (
            f"Triage an incident on {service!r}; report facts with the query that showed them:\n"
            "1. prom_alerts (firing first) and am_alerts: which alerts concern this service, since when.\n"
            f"2. prom_targets with job={service!r}: are its scrape targets up? Note the last error.\n"
            f'3. prom_query up{{job="{service}"}} and its error and latency series (find them with '
            "prom_label_values label=__name__ and prom_metric_metadata); prom_query_range over the "
            "last hour for the shape.\n"
            "4. prom_explain_alert for each firing alert; slo_status if an objective covers it.\n"
            "5. Summarise impact, the likely cause, and the next step. Silence nothing unless the person "
            "asks for it."
        )

    @kit.prompt("alert_explain", "Explain an alert", permission=READ)
    def alert_explain(alert: Annotated[str, Field(description="The alert name (alertname)")]) -> str:
        """Explain one alert: its rule, its series, and what to look at next."""
        return (
            f"Explain the alert {alert!r}:\n"
            f"1. prom_explain_alert name={alert!r}: the rule, its expression, the value per series, and "
            "for how long each series has been pending or firing.\n"
            "2. am_alerts with a matcher on the alertname: is it silenced or inhibited, who receives it.\n"
            "3. Say in plain words what the expression measures, why it fires now, and which dashboards "
            "or queries (prom_query_range) would confirm it."
        )

    watch = Watch(
        uris=lambda: [f"alerts://{name}" for name in settings.endpoints], every_s=settings.alerts_watch_s
    )

    @kit.resource("alerts://{endpoint}", "alerts", "Alerts now", permission=READ, watch=watch)
    async def alerts(endpoint: str) -> list[dict[str, Any]]:
        """The alerts firing or pending on one Prometheus endpoint (a name from prom_endpoints), now.
        Subscribable: a listening client is told when they change."""
        found = await alert_ops.active_alerts(client_for(endpoint), state=None, now=time.time())
        return [a.model_dump(mode="json") for a in found[: kit.budget.max_items * 10]]

    @kit.completion(permission=READ)
    async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        name, prefix = argument.name, argument.value
        chosen = dict(getattr(context, "arguments", None) or {})
        if name == "endpoint":
            return sorted(n for n in settings.endpoints if n.startswith(prefix))
        if name not in ("alert", "service", "metric"):
            return []
        client = client_for(chosen.get("endpoint"))
        if name == "alert":
            rules = await alert_ops.list_rules(client, rule_type="alert", search=None)
            values = sorted({r.name for r in rules})
        else:
            label = "job" if name == "service" else "__name__"
            values = await prom_ops.label_values(client, label, match=[], start=None, end=None, search=None)
        return [v for v in values if v.startswith(prefix)]
