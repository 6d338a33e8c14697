"""The monitoring server through a real MCP client session, against the real Prometheus stack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from servers.monitoring.server import build_server
from shared.settings import SuiteConfig
from tests.integration.monitoring.calls import call, error_of, session, suite_config
from tests.integration.monitoring.prom_stack import CARDINALITY_SERIES, PromStack
from tests.integration.monitoring.tls_server import https_server
from tests.support.connect import Connector
from tests.support.pages import rows, values
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

TOOLS = {
    "prom_endpoints",
    "prom_query",
    "prom_query_range",
    "prom_labels",
    "prom_label_values",
    "prom_series",
    "prom_metric_metadata",
    "prom_targets",
    "prom_alerts",
    "prom_rules",
    "prom_status",
    "prom_explain_alert",
    "am_alerts",
    "am_alert_groups",
    "am_silences",
    "am_receivers",
    "am_status",
    "slo_status",
    "rollout_verify",
    "health_check",
    "host_stats",
    "suite_metrics",
}


@pytest.fixture
async def client(tmp_path: Path, prom_stack: PromStack) -> AsyncIterator[Client]:
    async with session(tmp_path, suite_config(prom_stack, max_series=100)) as c:
        yield c


async def test_every_tool_is_read_only_titled_and_typed(client: Client) -> None:
    """At the default (read) tier: no silence tool exists at all."""
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.title and tool.description and len(tool.name) <= 64
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema is not None


async def test_query_through_the_client(connect: Connector, prom_stack: PromStack) -> None:
    """The same query over every transport (memory, stdio, SSE, streamable HTTP)."""
    async with connect("monitoring", suite_config(prom_stack)) as remote:
        result = await call(remote, "prom_query", {"expr": 'up{job="prometheus"}'})
    assert result["result_type"] == "vector" and result["total_series"] == 1
    assert result["samples"][0]["value"] == 1.0
    assert result["endpoint"] == "local"


async def test_bad_promql_gives_line_and_column(client: Client) -> None:
    message = await error_of(client, "prom_query", {"expr": "rate(up[5m]"})
    assert "PromQL parse error at line 1, column" in message and "^" in message


async def test_huge_cardinality_is_stopped(client: Client) -> None:
    message = await error_of(client, "prom_query", {"expr": "code_test_cardinality"})
    assert f"matched {CARDINALITY_SERIES} series, above the limit of 100" in message
    assert "topk" in message


async def test_results_are_paged_with_a_cursor(client: Client) -> None:
    first = await call(client, "prom_query", {"expr": "topk(80, code_test_cardinality)", "time": "now"})
    assert first["total_series"] == 80 and len(first["samples"]) == 50 and first["truncated"]
    assert "cursor" in first["note"]
    second = await call(
        client,
        "prom_query",
        {"expr": "topk(80, code_test_cardinality)", "time": first["time"], "cursor": first["next_cursor"]},
    )
    assert len(second["samples"]) == 30 and second["next_cursor"] is None
    seen = {s["metric"] for s in first["samples"]} | {s["metric"] for s in second["samples"]}
    assert len(seen) == 80
    message = await error_of(client, "prom_query", {"expr": "up", "cursor": first["next_cursor"]})
    assert "time" in message


async def test_range_query_is_summarised(client: Client) -> None:
    result = await call(client, "prom_query_range", {"expr": "time()", "start": "-2m"})
    assert result["step_auto"] is True and result["step_seconds"] == 2.0  # 120 s / 119 → 2 s
    [series] = result["series"]
    assert series["trend"] == "rising" and series["raw"] is None
    message = await error_of(client, "prom_query_range", {"expr": "up", "start": "-30d", "step": "1s"})
    assert "points per series" in message


async def test_range_results_page_on_the_times_they_show(client: Client) -> None:
    args = {"expr": "topk(60, code_test_cardinality)", "start": "-1m", "step": "30s"}
    first = await call(client, "prom_query_range", args)
    assert first["total_series"] == 60 and len(first["series"]) == 50
    assert f"start={first['start']}" in first["note"]
    args.update(start=first["start"], end=first["end"], cursor=first["next_cursor"])
    second = await call(client, "prom_query_range", args)
    assert len(second["series"]) == 10 and second["next_cursor"] is None
    assert "cursor" in await error_of(client, "prom_query_range", {**args, "step": "15s"})


async def test_labels_values_series_and_metadata(client: Client) -> None:
    labels = await call(client, "prom_labels", {"search": "shar"})
    assert values(labels) == ["shard"]
    shards = await call(client, "prom_label_values", {"label": "shard"})
    assert shards["total"] == CARDINALITY_SERIES and len(values(shards)) == 50 and shards["next_cursor"]
    more = await call(client, "prom_label_values", {"label": "shard", "cursor": shards["next_cursor"]})
    assert values(more)[0] == "s0050"
    stolen = await error_of(client, "prom_label_values", {"label": "job", "cursor": shards["next_cursor"]})
    assert "cursor" in stolen
    series = await call(client, "prom_series", {"match": ['up{job="node"}']})
    assert series["total"] == 1
    meta = await call(client, "prom_metric_metadata", {"metric": "code_batch_records_processed"})
    assert rows(meta)[0]["type"] == "gauge"


async def test_targets_alerts_rules_and_status(client: Client) -> None:
    down = await call(client, "prom_targets", {"health": "down"})
    assert [t["job"] for t in rows(down)] == ["gone"]
    firing = await call(client, "prom_alerts", {"state": "firing"})
    names = [a["name"] for a in rows(firing)]
    assert names == ["AlwaysFiring", *["CodeShardHot"] * 5, "InhibitedByAlwaysFiring"]
    rules = await call(client, "prom_rules", {"type": "record"})
    assert [r["name"] for r in rows(rules)] == ["code:up:sum"]
    status = await call(client, "prom_status")
    assert status["top_metrics_by_series"][0]["name"] == "code_test_cardinality"
    endpoints = await call(client, "prom_endpoints")
    assert endpoints["endpoints"] == [
        {"name": "local", "url": endpoints["endpoints"][0]["url"], "auth": "none", "default": True}
    ]


async def test_explain_alert_redacts_secrets(client: Client) -> None:
    explained = await call(client, "prom_explain_alert", {"name": "AlwaysFiring"})
    assert explained["state"] == "firing" and explained["expr"] == "vector(1) > 0"
    assert explained["alerts"][0]["active_for_seconds"] >= 0
    text = json.dumps(explained)
    assert "hunter2" not in text and "[REDACTED]" in explained["annotations"]["description"]
    assert "did you mean" in await error_of(client, "prom_explain_alert", {"name": "AlwaysFirng"})


async def test_unknown_endpoint_lists_the_configured_ones(client: Client) -> None:
    message = await error_of(client, "prom_query", {"expr": "up", "endpoint": "prod"})
    assert "unknown Prometheus endpoint 'prod'" in message and "local" in message


async def test_down_endpoint_fails_after_a_bounded_retry(tmp_path: Path, prom_stack: PromStack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = suite_config(prom_stack)
    config["monitoring"]["endpoints"]["dead"] = {"url": dead, "retries": 2, "timeout_s": 1}
    async with session(tmp_path, config) as c:
        with anyio.fail_after(20):
            message = await error_of(c, "prom_alerts", {"endpoint": "dead"})
    assert "failed after 3 attempt(s)" in message and dead in message


async def test_health_check_allows_only_policy_urls(client: Client, prom_stack: PromStack) -> None:
    report = await call(client, "health_check", {"urls": [prom_stack.node_exporter + "/metrics"]})
    assert report["healthy"] == 1 and report["results"][0]["status"] == 200
    refused = await error_of(client, "health_check", {"urls": [prom_stack.prometheus + "/-/healthy"]})
    assert "allowlist" in refused
    metadata = await error_of(client, "health_check", {"urls": ["http://169.254.169.254/latest/meta-data/"]})
    assert "metadata" in metadata or "link-local" in metadata


async def test_health_check_with_the_configured_ca(tmp_path: Path, prom_stack: PromStack) -> None:
    with https_server(tmp_path / "tls") as tls:
        config = suite_config(prom_stack, health_ca_file=str(tls.ca_file))
        config["policy"]["url_allowlist"].append(tls.url)
        async with session(tmp_path, config) as c:
            report = await call(c, "health_check", {"urls": [tls.url + "/"], "expect_text": "nominal"})
    [result] = report["results"]
    assert result["ok"] and result["certificate"]["days_left"] > 29


async def test_host_stats_needs_no_prometheus(tmp_path: Path) -> None:
    async with session(tmp_path, {}) as c:
        stats = await call(c, "host_stats")
        assert "unknown Prometheus endpoint" in await error_of(
            c, "prom_query", {"expr": "up", "endpoint": "x"}
        )
    assert stats["cpu_count"] >= 1 and 0 <= stats["memory_used_percent"] <= 100
    assert stats["disks"] and stats["top_processes"]
    assert all("cmdline" not in p for p in stats["top_processes"])


async def test_suite_metrics_reads_a_served_code_server(tmp_path: Path, prom_stack: PromStack) -> None:
    served_by = Connector("http", tmp_path / "http")
    (tmp_path / "http").mkdir()
    async with served_by.serve("monitoring", suite_config(prom_stack)) as served:
        async with served_by.client(served, "monitoring") as remote:
            await call(remote, "prom_query", {"expr": "up"})
            await error_of(remote, "prom_query", {"expr": "up("})
        assert served.base_url is not None
        async with httpx.AsyncClient() as http:
            exposition = (await http.get(served.base_url + "/metrics")).text
        assert "code_mcp_tool_calls" in exposition
        missing = f"http://127.0.0.1:{free_port()}/metrics"
        config = suite_config(
            prom_stack, suite_servers={"remote": served.base_url + "/metrics", "gone": missing}
        )
        async with session(tmp_path, config) as c:
            report = await call(c, "suite_metrics")
    status = {s["server"]: s["up"] for s in report["servers"]}
    assert status == {"remote": True, "gone": False}
    assert "gone" in report["note"]
    [remote_query] = [t for t in report["tools"] if t["tool"] == "prom_query"]
    assert remote_query["server"] == "monitoring"
    assert remote_query["calls"] >= 2 and remote_query["errors"] >= 1
    assert remote_query["avg_latency_ms"] is not None


async def test_a_role_without_monitoring_read_is_refused(tmp_path: Path, prom_stack: PromStack) -> None:
    config = suite_config(prom_stack)
    config["role"] = "deployer"
    config["policy"]["roles"] = {"deployer": ["deployment:read"]}
    async with session(tmp_path, config) as c:
        for tool, args in (
            ("prom_query", {"expr": "up"}),
            ("host_stats", {}),
            ("health_check", {"urls": []}),
        ):
            message = await error_of(c, tool, args)
            assert "monitoring:read" in message, message


async def test_one_server_serves_sessions_one_after_another(prom_stack: PromStack) -> None:
    """The lifespan runs per session: clients closed after the first session must not be reused."""
    server = build_server(SuiteConfig.model_validate(suite_config(prom_stack)))
    for _ in range(2):
        async with Client(server) as c:
            result = await call(c, "prom_query", {"expr": "vector(5)"})
            assert result["samples"][0]["value"] == 5.0
            report = await call(c, "health_check", {"urls": [prom_stack.node_exporter + "/metrics"]})
            assert report["healthy"] == 1


async def test_overlapping_sessions_share_the_clients(prom_stack: PromStack) -> None:
    server = build_server(SuiteConfig.model_validate(suite_config(prom_stack)))
    async with Client(server) as first:
        async with Client(server) as second:
            await call(second, "prom_query", {"expr": "vector(1)"})
        result = await call(first, "prom_query", {"expr": "vector(2)"})
    assert result["samples"][0]["value"] == 2.0
