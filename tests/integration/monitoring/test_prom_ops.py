"""The Prometheus domain logic against a real Prometheus (no MCP involved)."""

from __future__ import annotations

import time

import pytest

from servers.monitoring import alert_ops, prom_ops, status_ops
from servers.monitoring.cost_ops import CostLimits
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import PrometheusEndpoint
from shared.errors import InvalidArgument, NotFound, UpstreamUnavailable
from tests.integration.monitoring.prom_stack import (
    BASIC_AUTH_PASSWORD,
    BASIC_AUTH_USER,
    CARDINALITY_SERIES,
    PromStack,
    prometheus_with_basic_auth,
)
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# The cost guard on, with a bound no query here comes near (its refusals are tested in test_cost_guard).
LIMITS = CostLimits(enabled=True, max_samples=10**9, max_selectors=20, scrape_interval_s=None)


async def test_instant_query_returns_one_sample_per_series(prom: PrometheusClient) -> None:
    result = await prom_ops.instant_query(prom, "up", at=time.time(), max_series=100, limits=LIMITS)
    assert result.result_type == "vector"
    by_job = {s.metric.split('job="')[1].split('"')[0]: s.value for s in result.samples}
    assert by_job["prometheus"] == 1.0
    assert by_job["node"] == 1.0
    assert by_job["gone"] == 0.0
    assert by_job["app"] == 1.0
    assert result.total_series == len(result.samples) == 5


async def test_instant_query_reads_pushed_metrics(prom: PrometheusClient) -> None:
    result = await prom_ops.instant_query(
        prom, 'code_batch_records_processed{stage="load"}', at=time.time(), max_series=10, limits=LIMITS
    )
    assert [s.value for s in result.samples] == [1234.0]
    assert 'job="code_batch"' in result.samples[0].metric


async def test_scalar_query_has_no_series(prom: PrometheusClient) -> None:
    result = await prom_ops.instant_query(
        prom, "scalar(vector(42))", at=time.time(), max_series=10, limits=LIMITS
    )
    assert result.result_type == "scalar"
    assert result.scalar == 42.0
    assert result.samples == []


async def test_range_selector_at_an_instant_shows_the_newest_point(prom: PrometheusClient) -> None:
    result = await prom_ops.instant_query(
        prom, 'up{job="prometheus"}[30s]', at=time.time(), max_series=10, limits=LIMITS
    )
    assert result.result_type == "matrix"
    assert [s.value for s in result.samples] == [1.0]


async def test_bad_promql_reports_the_parsers_position(prom: PrometheusClient) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await prom_ops.instant_query(prom, "sum(rate(up[5m])", at=time.time(), max_series=10, limits=LIMITS)
    message = str(caught.value)
    assert "PromQL parse error at line 1, column" in message
    assert "sum(rate(up[5m])" in message
    assert "^" in message


async def test_huge_cardinality_query_is_stopped_by_the_guard(prom: PrometheusClient) -> None:
    with pytest.raises(InvalidArgument, match=f"matched {CARDINALITY_SERIES} series, above the limit of 100"):
        await prom_ops.instant_query(
            prom, "code_test_cardinality", at=time.time(), max_series=100, limits=LIMITS
        )


async def test_range_query_summarises_each_series(prom: PrometheusClient) -> None:
    now = time.time()
    result = await prom_ops.range_query(
        prom,
        "time()",
        start=now - 60,
        end=now,
        step=None,
        include_points=False,
        max_series=10,
        max_points=11000,
        target_points=13,
        max_raw_points=100,
        limits=LIMITS,
    )
    assert result.step_auto and result.step_seconds == 5
    [series] = result.series
    assert series.points == 13
    assert series.trend == "rising"
    assert series.slope_per_hour == pytest.approx(3600)
    assert series.max == pytest.approx(series.last) and series.min == pytest.approx(series.first)
    assert series.raw is None


async def test_range_query_sees_falling_and_flat_series_and_raw_points(prom: PrometheusClient) -> None:
    now = time.time()
    result = await prom_ops.range_query(
        prom,
        'label_replace(vector(-time()), "shape", "falling", "", "")'
        ' or label_replace(vector(7), "shape", "flat", "", "")',
        start=now - 30,
        end=now,
        step=10,
        include_points=True,
        max_series=10,
        max_points=11000,
        target_points=100,
        max_raw_points=100,
        limits=LIMITS,
    )
    shapes = {s.metric: s for s in result.series}
    assert shapes['{shape="falling"}'].trend == "falling"
    flat = shapes['{shape="flat"}']
    assert flat.trend == "flat" and flat.avg == 7.0
    assert flat.raw is not None and len(flat.raw) == 4 and all(v == 7.0 for _, v in flat.raw)


async def test_range_query_refuses_too_many_points(prom: PrometheusClient) -> None:
    now = time.time()
    with pytest.raises(InvalidArgument, match="points per series"):
        await prom_ops.range_query(
            prom,
            "up",
            start=now - 86400,
            end=now,
            step=1,
            include_points=False,
            max_series=10,
            max_points=11000,
            target_points=100,
            max_raw_points=100,
            limits=LIMITS,
        )


async def test_labels_and_label_values(prom: PrometheusClient) -> None:
    names = await prom_ops.label_names(prom, match=[], start=None, end=None, search=None)
    assert {"job", "instance", "shard"} <= set(names)
    jobs = await prom_ops.label_values(prom, "job", match=[], start=None, end=None, search=None)
    assert {"prometheus", "node", "code_batch", "gone"} <= set(jobs)
    shards = await prom_ops.label_values(prom, "shard", match=[], start=None, end=None, search="s000")
    assert shards == [f"s000{i}" for i in range(10)]


async def test_label_name_that_would_change_the_url_path_is_refused(prom: PrometheusClient) -> None:
    with pytest.raises(InvalidArgument, match="not a label name"):
        await prom_ops.label_values(prom, "../../status/config", match=[], start=None, end=None, search=None)


async def test_series_lists_matching_series(prom: PrometheusClient) -> None:
    series = await prom_ops.find_series(prom, match=['up{job="node"}'], start=None, end=None, search=None)
    assert len(series) == 1 and series[0].startswith('up{instance="127.0.0.1:')
    with pytest.raises(InvalidArgument, match="selector"):
        await prom_ops.find_series(prom, match=[], start=None, end=None, search=None)


async def test_metric_metadata_comes_from_the_exporters(prom: PrometheusClient) -> None:
    found = await prom_ops.metric_metadata(prom, metric=None, search="code_batch_last_success")
    assert [(m.metric, m.type) for m in found] == [("code_batch_last_success_timestamp_seconds", "gauge")]
    assert "batch job succeeded" in found[0].help


async def test_targets_show_the_down_one_first(prom: PrometheusClient) -> None:
    targets = await status_ops.list_targets(prom, state="active", health=None, job=None)
    assert targets[0].job == "gone" and targets[0].health == "down"
    assert targets[0].last_error
    up = await status_ops.list_targets(prom, state="active", health="up", job=None)
    assert {t.job for t in up} == {"prometheus", "node", "pushgateway", "app"}


async def test_alerts_list_firing_and_pending(prom: PrometheusClient) -> None:
    alerts = await alert_ops.active_alerts(prom, state=None, now=time.time())
    states = {a.name: a.state for a in alerts}
    assert states == {
        "AlwaysFiring": "firing",
        "SlowBurn": "pending",
        "InhibitedByAlwaysFiring": "firing",
        "CodeShardHot": "firing",
    }
    firing = await alert_ops.active_alerts(prom, state="firing", now=time.time())
    assert [a.name for a in firing] == ["AlwaysFiring", *["CodeShardHot"] * 5, "InhibitedByAlwaysFiring"]
    assert firing[0].labels["severity"] == "page"
    assert firing[0].active_for_seconds is not None and firing[0].active_for_seconds >= 0


async def test_rules_filter_by_type(prom: PrometheusClient) -> None:
    rules = await alert_ops.list_rules(prom, rule_type=None, search=None)
    assert [(r.name, r.type) for r in rules] == [
        ("AlwaysFiring", "alerting"),
        ("SlowBurn", "alerting"),
        ("NeverFires", "alerting"),
        ("BrokenRule", "alerting"),
        ("code:up:sum", "recording"),
        ("InhibitedByAlwaysFiring", "alerting"),
        ("CodeShardHot", "alerting"),
    ]
    recording = await alert_ops.list_rules(prom, rule_type="record", search=None)
    assert [r.expr for r in recording] == ["sum(up)"]
    slow = await alert_ops.list_rules(prom, rule_type="alert", search="slow")
    assert slow[0].for_seconds == 3600 and slow[0].state == "pending"


async def test_explain_alert_gives_rule_values_and_age(prom: PrometheusClient) -> None:
    explained = await alert_ops.explain_alert(prom, "AlwaysFiring", now=time.time(), max_series=100)
    assert explained.expr == "vector(1) > 0"
    assert explained.state == "firing"
    assert [a.state for a in explained.alerts] == ["firing"]
    assert [v.value for v in explained.current_values] == ["1"]
    assert explained.annotations["runbook_url"] == "https://runbooks.example/always"
    assert "FIRING" in explained.explanation and "Always firing, for the tests" in explained.explanation


async def test_explain_alert_of_an_inactive_rule(prom: PrometheusClient) -> None:
    explained = await alert_ops.explain_alert(prom, "NeverFires", now=time.time(), max_series=100)
    assert explained.state == "inactive" and explained.alerts == [] and explained.current_values == []
    assert "not active" in explained.explanation


async def test_explain_alert_whose_expression_fails(prom: PrometheusClient) -> None:
    explained = await alert_ops.explain_alert(prom, "BrokenRule", now=time.time(), max_series=100)
    assert explained.health == "err" and "duplicate series" in explained.last_error
    assert explained.current_values == []
    assert "Evaluating the expression now failed" in explained.explanation
    assert "The rule fails to evaluate" in explained.explanation


async def test_explain_pending_alert(prom: PrometheusClient) -> None:
    explained = await alert_ops.explain_alert(prom, "SlowBurn", now=time.time(), max_series=100)
    assert explained.state == "pending" and explained.for_seconds == 3600
    assert "once true for 1h00m" in explained.explanation and "pending" in explained.explanation


async def test_explain_unknown_alert_suggests_close_names(prom: PrometheusClient) -> None:
    with pytest.raises(NotFound, match="did you mean AlwaysFiring"):
        await alert_ops.explain_alert(prom, "AlwaysFirin", now=time.time(), max_series=100)


async def test_status_reports_build_and_cardinality(prom: PrometheusClient) -> None:
    status = await status_ops.server_status(prom)
    assert status.version.startswith("2.")
    assert status.head_series is not None and status.head_series > CARDINALITY_SERIES
    assert status.top_metrics_by_series[0].name == "code_test_cardinality"
    assert status.top_metrics_by_series[0].count == CARDINALITY_SERIES


async def test_down_endpoint_fails_fast_with_a_clear_error() -> None:
    port = free_port()
    client = PrometheusClient(
        "down",
        PrometheusEndpoint(url=f"http://127.0.0.1:{port}", timeout_s=1, retries=2),
        max_response_bytes=1024,
    )
    try:
        with pytest.raises(UpstreamUnavailable, match=r"failed after 3 attempt\(s\): ConnectError"):
            await prom_ops.instant_query(client, "up", at=time.time(), max_series=10, limits=LIMITS)
    finally:
        await client.aclose()


async def test_reply_larger_than_the_cap_is_refused(prom_stack: PromStack) -> None:
    client = PrometheusClient(
        "small", PrometheusEndpoint(url=prom_stack.prometheus, retries=0), max_response_bytes=4096
    )
    try:
        with pytest.raises(InvalidArgument, match="larger than 4 KiB"):
            await prom_ops.instant_query(
                client, "code_test_cardinality", at=time.time(), max_series=10_000, limits=LIMITS
            )
    finally:
        await client.aclose()


async def test_basic_auth_endpoint(tmp_path_factory: pytest.TempPathFactory) -> None:
    with prometheus_with_basic_auth(tmp_path_factory.mktemp("auth-prom")) as url:
        good = PrometheusClient(
            "auth",
            PrometheusEndpoint(url=url, username=BASIC_AUTH_USER, password=BASIC_AUTH_PASSWORD),
            max_response_bytes=2**20,
        )
        bad = PrometheusClient(
            "auth",
            PrometheusEndpoint(url=url, username=BASIC_AUTH_USER, password="wrong"),
            max_response_bytes=2**20,
        )
        try:
            result = await prom_ops.instant_query(
                good, "vector(3)", at=time.time(), max_series=10, limits=LIMITS
            )
            assert result.samples[0].value == 3.0
            with pytest.raises(UpstreamUnavailable, match="refused our credentials"):
                await prom_ops.instant_query(bad, "vector(3)", at=time.time(), max_series=10, limits=LIMITS)
        finally:
            await good.aclose()
            await bad.aclose()
