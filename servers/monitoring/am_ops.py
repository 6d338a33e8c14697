"""Alertmanager reads: alerts (with state filters), alert groups, silences, receivers and status.

Functions return whole lists; paging them to the output budget is the wiring's job. Alertmanager's
configuration holds credentials (SMTP passwords, webhook tokens): only names, counts and integration
kinds are ever taken from it, never a value.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from servers.monitoring.am_client import AlertmanagerClient
from servers.monitoring.am_matchers import from_api, parse_matchers
from servers.monitoring.am_models import AlertGroup, AmAlert, AmStatus, Receiver, Silence
from servers.monitoring.time_args import iso, parse_rfc3339
from shared import safe_yaml
from shared.errors import InvalidArgument, UpstreamUnavailable

SilenceState = Literal["active", "pending", "expired"]
_STATE_ORDER = {"active": 0, "unprocessed": 1, "suppressed": 2}
_SILENCE_ORDER = {"active": 0, "pending": 1, "expired": 2}


def filter_params(matchers: list[str] | None, receiver: str | None) -> list[tuple[str, str]]:
    """Alertmanager's `filter` (one per matcher) and `receiver` (a regex) query parameters."""
    params = [("filter", m.render()) for m in parse_matchers(matchers or [])]
    if receiver is not None:
        if not receiver.strip() or len(receiver) > 200 or "\x00" in receiver:
            raise InvalidArgument("receiver must be a receiver name or regex of 1 to 200 characters")
        params.append(("receiver", receiver))
    return params


def to_alert(raw: dict[str, Any], *, now: float) -> AmAlert:
    """One alert of the API v2 reply."""
    labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
    status = raw.get("status") or {}
    started = parse_rfc3339(raw.get("startsAt"))
    ends = parse_rfc3339(raw.get("endsAt"))
    return AmAlert(
        name=labels.pop("alertname", ""),
        state=str(status.get("state", "unprocessed")),
        labels=labels,
        annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
        receivers=[str(r.get("name", "")) for r in raw.get("receivers") or []],
        silenced_by=[str(s) for s in status.get("silencedBy") or []],
        inhibited_by=[str(s) for s in status.get("inhibitedBy") or []],
        starts_at=iso(started) if started is not None else None,
        active_for_seconds=round(max(now - started, 0.0), 3) if started is not None else None,
        ends_at=iso(ends) if ends is not None else None,
        fingerprint=str(raw.get("fingerprint", "")),
        generator_url=str(raw.get("generatorURL", "")),
    )


def _keep(alert: AmAlert, *, active: bool | None, silenced: bool | None, inhibited: bool | None) -> bool:
    return (
        (active is None or (alert.state == "active") == active)
        and (silenced is None or bool(alert.silenced_by) == silenced)
        and (inhibited is None or bool(alert.inhibited_by) == inhibited)
    )


def _order(alert: AmAlert) -> tuple[int, str, list[tuple[str, str]]]:
    return _STATE_ORDER.get(alert.state, 3), alert.name, sorted(alert.labels.items())


async def alerts(
    client: AlertmanagerClient,
    *,
    matchers: list[str] | None,
    receiver: str | None,
    active: bool | None,
    silenced: bool | None,
    inhibited: bool | None,
    now: float,
) -> list[AmAlert]:
    """Alerts matching every matcher (and the receiver regex), filtered by state; active first."""
    reply = await client.get("alerts", filter_params(matchers, receiver))
    found = [to_alert(raw, now=now) for raw in reply or []]
    kept = [a for a in found if _keep(a, active=active, silenced=silenced, inhibited=inhibited)]
    return sorted(kept, key=_order)


async def alert_groups(
    client: AlertmanagerClient,
    *,
    matchers: list[str] | None,
    receiver: str | None,
    shown: int,
    now: float,
) -> list[AlertGroup]:
    """The route tree's notification groups, biggest first, each with its first `shown` alerts."""
    reply = await client.get("alerts/groups", filter_params(matchers, receiver))
    groups = []
    for raw in reply or []:
        members = sorted((to_alert(a, now=now) for a in raw.get("alerts") or []), key=_order)
        groups.append(
            AlertGroup(
                receiver=str((raw.get("receiver") or {}).get("name", "")),
                labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                alerts_total=len(members),
                states=dict(Counter(a.state for a in members)),
                alerts=members[:shown],
            )
        )
    return sorted(groups, key=lambda g: (-g.alerts_total, g.receiver, sorted(g.labels.items())))


def to_silence(raw: dict[str, Any], *, now: float, created_here: bool) -> Silence:
    """One silence of the API v2 reply."""
    starts, ends = parse_rfc3339(raw.get("startsAt")), parse_rfc3339(raw.get("endsAt"))
    state = str((raw.get("status") or {}).get("state", ""))
    return Silence(
        id=str(raw.get("id", "")),
        state=state,
        matchers=[from_api(m).render() for m in raw.get("matchers") or []],
        created_by=str(raw.get("createdBy", "")),
        comment=str(raw.get("comment", "")),
        starts_at=iso(starts) if starts is not None else None,
        ends_at=iso(ends) if ends is not None else None,
        ends_in_seconds=round(ends - now, 3) if ends is not None and state == "active" else None,
        created_here=created_here,
    )


async def silences(
    client: AlertmanagerClient,
    *,
    matchers: list[str] | None,
    state: SilenceState | None,
    now: float,
    created_here: set[str],
) -> list[Silence]:
    """Silences (optionally one state, or those whose matchers match `matchers`); active first."""
    reply = await client.get("silences", filter_params(matchers, None))
    found = [to_silence(raw, now=now, created_here=str(raw.get("id")) in created_here) for raw in reply or []]
    if state is not None:
        found = [s for s in found if s.state == state]
    return sorted(found, key=lambda s: (_SILENCE_ORDER.get(s.state, 3), s.ends_at or "", s.id))


async def _config(client: AlertmanagerClient) -> tuple[dict[str, Any], dict[str, Any]]:
    status = await client.get("status") or {}
    original = str((status.get("config") or {}).get("original", ""))
    try:
        documents = safe_yaml.load_documents(original, max_bytes=2**21, max_nodes=200_000, max_depth=64)
    except InvalidArgument as exc:
        raise UpstreamUnavailable(
            f"Alertmanager {client.name!r} sent a configuration we cannot read: {exc}"
        ) from None
    config = documents[0] if documents and isinstance(documents[0], dict) else {}
    return status, config


def _routes(route: dict[str, Any], path: str = "(root)") -> list[tuple[str, str]]:
    """(receiver, route description) for the route and every child route, depth first."""
    found = [(str(route.get("receiver", "")), path)]
    for child in route.get("routes") or []:
        if isinstance(child, dict):
            matchers = [str(m) for m in child.get("matchers") or []]
            matchers += [f'{k}="{v}"' for k, v in (child.get("match") or {}).items()]
            matchers += [f'{k}=~"{v}"' for k, v in (child.get("match_re") or {}).items()]
            shown = "{" + ", ".join(matchers) + "}"
            found += _routes(child, shown if path == "(root)" else f"{path} > {shown}")
    return found


async def receivers(client: AlertmanagerClient) -> list[Receiver]:
    """Receivers with their integration kinds and the routes that send to them."""
    names = [str(r.get("name", "")) for r in await client.get("receivers") or []]
    _, config = await _config(client)
    configured = {str(r.get("name")): r for r in config.get("receivers") or [] if isinstance(r, dict)}
    routes = _routes(config.get("route") or {})
    found = []
    for name in sorted(set(names) | set(configured)):
        raw = configured.get(name, {})
        kinds = sorted(k.removesuffix("_configs") for k, v in raw.items() if k.endswith("_configs") and v)
        found.append(
            Receiver(name=name, integrations=kinds, routes=[path for rcv, path in routes if rcv == name])
        )
    return found


async def status(client: AlertmanagerClient, *, others: list[str]) -> AmStatus:
    """Version, uptime, cluster and a summary of the configuration (no values from it)."""
    reply, config = await _config(client)
    cluster = reply.get("cluster") or {}
    route = config.get("route") or {}
    uptime = parse_rfc3339(reply.get("uptime"))
    return AmStatus(
        alertmanager=client.name,
        url=client.url,
        version=str((reply.get("versionInfo") or {}).get("version", "")),
        uptime=iso(uptime) if uptime is not None else None,
        cluster_status=str(cluster.get("status", "")),
        cluster_peers=len(cluster.get("peers") or []),
        root_receiver=str(route.get("receiver", "")),
        group_by=[str(g) for g in route.get("group_by") or []],
        routes=len(_routes(route)) - 1,
        receivers=len(config.get("receivers") or []),
        inhibit_rules=len(config.get("inhibit_rules") or []),
        others=others,
    )
