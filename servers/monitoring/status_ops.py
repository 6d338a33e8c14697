"""Scrape targets and the Prometheus server's own status (build, runtime, TSDB cardinality)."""

from __future__ import annotations

from typing import Any, Literal

import anyio

from servers.monitoring.models import CardinalityEntry, PromStatus, Target
from servers.monitoring.prom_client import PrometheusClient, Reply

TargetState = Literal["active", "dropped", "any"]
TargetHealth = Literal["up", "down", "unknown"]


def _target(raw: dict[str, Any]) -> Target:
    labels = raw.get("labels") or raw.get("discoveredLabels") or {}
    duration = raw.get("lastScrapeDuration")
    last = raw.get("lastScrape")
    return Target(
        job=str(labels.get("job", raw.get("scrapePool", ""))),
        instance=str(labels.get("instance", labels.get("__address__", ""))),
        health=str(raw.get("health", "dropped")),
        scrape_url=str(raw.get("scrapeUrl", labels.get("__address__", ""))),
        last_error=str(raw.get("lastError", "")),
        last_scrape=str(last) if last and not str(last).startswith("0001-") else None,
        scrape_duration_ms=round(float(duration) * 1000, 3) if duration is not None else None,
    )


async def list_targets(
    client: PrometheusClient, *, state: TargetState, health: TargetHealth | None, job: str | None
) -> list[Target]:
    """Scrape targets, down ones first; filter by state, health and job."""
    reply = await client.api("targets", {"state": state})
    data = reply.data or {}
    targets = [_target(t) for t in data.get("activeTargets") or []]
    targets += [_target(t) for t in data.get("droppedTargets") or []]
    if health is not None:
        targets = [t for t in targets if t.health == health]
    if job is not None:
        targets = [t for t in targets if t.job == job]
    order = {"down": 0, "unknown": 1, "up": 2}
    targets.sort(key=lambda t: (order.get(t.health, 3), t.job, t.instance))
    return targets


def _entries(raw: list[dict[str, Any]] | None, limit: int) -> list[CardinalityEntry]:
    return [
        CardinalityEntry(name=str(e.get("name", "")), count=int(e.get("value", 0)))
        for e in (raw or [])[:limit]
    ]


async def server_status(client: PrometheusClient, *, top: int = 10) -> PromStatus:
    """Build info, runtime info and TSDB head statistics, fetched concurrently."""
    replies: dict[str, Reply] = {}

    async def fetch(path: str) -> None:
        replies[path] = await client.api(path)

    async with anyio.create_task_group() as group:
        for path in ("status/buildinfo", "status/runtimeinfo", "status/tsdb"):
            group.start_soon(fetch, path)
    build = replies["status/buildinfo"].data or {}
    runtime = replies["status/runtimeinfo"].data or {}
    tsdb = replies["status/tsdb"].data or {}
    head = tsdb.get("headStats") or {}
    return PromStatus(
        endpoint=client.name,
        version=str(build.get("version", "")),
        revision=str(build.get("revision", "")),
        go_version=str(build.get("goVersion", "")),
        start_time=str(runtime["startTime"]) if runtime.get("startTime") else None,
        storage_retention=str(runtime.get("storageRetention", "")),
        reload_config_success=runtime.get("reloadConfigSuccess"),
        head_series=head.get("numSeries"),
        head_chunks=head.get("chunkCount"),
        top_metrics_by_series=_entries(tsdb.get("seriesCountByMetricName"), top),
        top_labels_by_values=_entries(tsdb.get("labelValueCountByLabelName"), top),
    )
