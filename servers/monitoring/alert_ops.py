"""Alerts and rules: what is firing, what the rules say, and why one alert fires."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from servers.monitoring.models import Alert, AlertExplanation, Rule, SeriesValue
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.prom_ops import series_name
from servers.monitoring.time_args import iso, parse_rfc3339
from shared.errors import InvalidArgument, NotFound, ToolFailure

AlertState = Literal["firing", "pending"]
RuleType = Literal["alert", "record"]
_EXPLAIN_VALUES = 20


def _alert(raw: dict[str, Any], *, now: float) -> Alert:
    labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
    name = labels.pop("alertname", "")
    since = parse_rfc3339(raw.get("activeAt"))
    return Alert(
        name=name,
        state=str(raw.get("state", "")),
        labels=labels,
        annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
        active_since=iso(since) if since is not None else None,
        active_for_seconds=round(max(now - since, 0.0), 3) if since is not None else None,
        value=str(raw.get("value", "")),
    )


async def active_alerts(client: PrometheusClient, *, state: AlertState | None, now: float) -> list[Alert]:
    """Alerts now pending or firing (optionally one state), firing first, then by name."""
    reply = await client.api("alerts")
    alerts = [_alert(raw, now=now) for raw in (reply.data or {}).get("alerts", [])]
    if state is not None:
        alerts = [a for a in alerts if a.state == state]
    alerts.sort(key=lambda a: (a.state != "firing", a.name, sorted(a.labels.items())))
    return alerts


def _rule(raw: dict[str, Any], group: str) -> Rule:
    alerting = raw.get("type") == "alerting"
    return Rule(
        name=str(raw.get("name", "")),
        type="alerting" if alerting else "recording",
        group=group,
        expr=str(raw.get("query", "")),
        health=str(raw.get("health", "unknown")),
        last_error=str(raw.get("lastError", "")),
        state=str(raw.get("state")) if alerting and raw.get("state") else None,
        for_seconds=float(raw.get("duration", 0)) if alerting else None,
        active_alerts=len(raw.get("alerts") or []),
        labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
    )


async def _raw_rules(
    client: PrometheusClient, rule_type: RuleType | None
) -> list[tuple[str, dict[str, Any]]]:
    reply = await client.api("rules", {"type": rule_type} if rule_type else None)
    return [
        (str(group.get("name", "")), raw)
        for group in (reply.data or {}).get("groups", [])
        for raw in group.get("rules") or []
    ]


async def list_rules(
    client: PrometheusClient, *, rule_type: RuleType | None, search: str | None
) -> list[Rule]:
    """Alerting and recording rules in file order, optionally filtered by type and name."""
    rules = [_rule(raw, group) for group, raw in await _raw_rules(client, rule_type)]
    if search:
        needle = search.lower()
        rules = [r for r in rules if needle in r.name.lower()]
    return rules


def _duration_text(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


async def explain_alert(
    client: PrometheusClient, name: str, *, now: float, max_series: int
) -> AlertExplanation:
    """The alerting rule called `name`, its active alerts and its expression's current values."""
    if not name.strip():
        raise InvalidArgument("name the alert to explain, e.g. HighErrorRate")
    rules = [(group, raw) for group, raw in await _raw_rules(client, "alert") if raw.get("name") == name]
    if not rules:
        known = sorted({str(raw.get("name", "")) for _, raw in await _raw_rules(client, "alert")})
        close = difflib.get_close_matches(name, known, n=5)
        hint = f"did you mean {', '.join(close)}?" if close else "list them with prom_rules(type='alert')."
        raise NotFound(f"no alerting rule named {name!r} on endpoint {client.name!r}; {hint}")
    group, raw = rules[0]
    rule = _rule(raw, group)
    alerts = [_alert(a, now=now) for a in raw.get("alerts") or []]
    alerts.sort(key=lambda a: (a.state != "firing", -(a.active_for_seconds or 0)))
    values: list[SeriesValue] = []
    truncated = False
    value_error = ""
    try:
        reply = await client.api("query", {"query": rule.expr, "time": f"{now:.3f}"}, expr=rule.expr)
        result = (reply.data or {}).get("result") or []
        if isinstance(result, list) and (not result or isinstance(result[0], dict)):
            truncated = len(result) > min(max_series, _EXPLAIN_VALUES)
            for item in result[: min(max_series, _EXPLAIN_VALUES)]:
                values.append(
                    SeriesValue(
                        metric=series_name(item.get("metric", {})), value=str(item.get("value", [0, ""])[1])
                    )
                )
    except ToolFailure as exc:
        value_error = str(exc)
    return AlertExplanation(
        endpoint=client.name,
        name=name,
        group=group,
        expr=rule.expr,
        for_seconds=rule.for_seconds or 0.0,
        state=rule.state or "inactive",
        health=rule.health,
        last_error=rule.last_error,
        labels=rule.labels,
        annotations=rule.annotations,
        alerts=alerts,
        current_values=values,
        current_values_truncated=truncated,
        other_rules_with_name=len(rules) - 1,
        explanation=_explain(rule, alerts, values, value_error),
    )


def _explain(rule: Rule, alerts: list[Alert], values: list[SeriesValue], value_error: str) -> str:
    firing = [a for a in alerts if a.state == "firing"]
    pending = [a for a in alerts if a.state == "pending"]
    wait = (
        f" once true for {_duration_text(rule.for_seconds or 0)}"
        if rule.for_seconds
        else " as soon as it is true"
    )
    parts = [f"{rule.name} fires when `{rule.expr}` returns any series{wait}."]
    if firing:
        longest = max(a.active_for_seconds or 0 for a in firing)
        parts.append(f"It is FIRING for {len(firing)} series, the longest for {_duration_text(longest)}.")
    if pending:
        parts.append(f"{len(pending)} series are pending (true, waiting out the `for` duration).")
    if not alerts:
        parts.append("It is not active now.")
    if value_error:
        parts.append(f"Evaluating the expression now failed: {value_error}")
    elif values:
        parts.append(
            f"The expression now returns {len(values)} series, e.g. {values[0].metric} = {values[0].value}."
        )
    else:
        parts.append("The expression returns no series now.")
    if rule.health == "err":
        parts.append(f"The rule fails to evaluate: {rule.last_error}")
    summary = rule.annotations.get("summary") or rule.annotations.get("description")
    if summary:
        parts.append(f"Summary: {summary}")
    return " ".join(parts)
