"""Pure logic of the Prometheus tools: series names, summaries, steps, parse errors, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servers.monitoring.prom_client import describe_parse_error
from servers.monitoring.prom_ops import check_expr, check_label_name, choose_step, series_name, summarise
from servers.monitoring.settings import MonitoringSettings, PrometheusEndpoint
from shared.errors import InvalidArgument


def test_series_name_sorts_and_escapes_labels() -> None:
    labels = {"__name__": "up", "job": "node", "instance": 'a"b\\c\nd'}
    assert series_name(labels) == 'up{instance="a\\"b\\\\c\\nd",job="node"}'
    assert series_name({"__name__": "up"}) == "up"
    assert series_name({}) == "{}"
    assert series_name({"job": "x"}) == '{job="x"}'


def test_summary_of_a_rising_series() -> None:
    points = [[0, "1"], [60, "2"], [120, "3"], [180, "4"]]
    summary = summarise("m", points, include_points=False)
    assert (summary.min, summary.max, summary.avg, summary.first, summary.last) == (1, 4, 2.5, 1, 4)
    assert summary.trend == "rising"
    assert summary.slope_per_hour == pytest.approx(60)
    assert summary.raw is None


def test_summary_skips_nan_and_keeps_raw_points() -> None:
    points = [[0, "5"], [60, "NaN"], [120, "+Inf"], [180, "1"]]
    summary = summarise("m", points, include_points=True)
    assert summary.points == 2
    assert summary.trend == "falling"
    assert summary.raw == [(0.0, 5.0), (60.0, None), (120.0, None), (180.0, 1.0)]


def test_noisy_series_without_direction_is_flat() -> None:
    points = [[t * 10, v] for t, v in enumerate(["5", "1", "5", "1", "5", "1", "5"])]
    assert summarise("m", points, include_points=False).trend == "flat"


def test_empty_and_single_point_series() -> None:
    empty = summarise("m", [], include_points=False)
    assert empty.points == 0 and empty.min is None and empty.trend == "flat"
    one = summarise("m", [[0, "3"]], include_points=False)
    assert one.last == 3 and one.slope_per_hour is None


def test_choose_step() -> None:
    assert choose_step(0, 3600, None, max_points=11000, target_points=120) == (60.0, True)
    assert choose_step(0, 3600, 15, max_points=11000, target_points=120) == (15, False)
    with pytest.raises(InvalidArgument, match=r"step ≥ 10s"):
        choose_step(0, 86400, 1, max_points=8641, target_points=120)
    with pytest.raises(InvalidArgument, match="must be after start"):
        choose_step(10, 10, None, max_points=100, target_points=10)


def test_parse_error_points_at_the_column() -> None:
    message = describe_parse_error(
        "sum(rate(x[5m])", 'invalid parameter "query": 1:16: parse error: unclosed'
    )
    lines = message.splitlines()
    assert lines[0] == "PromQL parse error at line 1, column 16: unclosed"
    assert lines[1] == "  sum(rate(x[5m])"
    assert lines[2] == "  " + " " * 15 + "^"


def test_parse_error_on_a_later_line_and_without_position() -> None:
    assert "  bar +" in describe_parse_error("foo\nbar +", "2:6: parse error: no right operand")
    assert describe_parse_error("x", "something else") == "PromQL error: something else"


@pytest.mark.parametrize("expr", ["", "   ", "up\x00", "x" * 10_001])
def test_bad_expressions_never_reach_prometheus(expr: str) -> None:
    with pytest.raises(InvalidArgument):
        check_expr(expr)


@pytest.mark.parametrize("name", ["../status", "job/x", "a b", "1abc", "", "job?x=1", "é"])
def test_hostile_label_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        check_label_name(name)


def test_settings_resolve_endpoints() -> None:
    one = MonitoringSettings(endpoints={"prod": PrometheusEndpoint(url="http://p:9090/")})
    assert one.endpoints["prod"].url == "http://p:9090"
    assert one.resolve_endpoint(None) == "prod"
    two = MonitoringSettings(
        endpoints={"prod": {"url": "http://p:9090"}, "staging": {"url": "http://s:9090"}},
        default_endpoint="staging",
    )
    assert two.resolve_endpoint(None) == "staging"
    with pytest.raises(LookupError, match="configured endpoints: prod, staging"):
        two.resolve_endpoint("dev")
    with pytest.raises(LookupError, match="name a Prometheus endpoint"):
        MonitoringSettings(endpoints=dict(two.endpoints)).resolve_endpoint(None)


@pytest.mark.parametrize(
    "endpoint",
    [
        {"url": "ftp://p"},
        {"url": "http://user:pw@p"},
        {"url": "p:9090"},
        {"url": "http://p", "bearer_token": "t", "username": "u", "password": "p"},
        {"url": "http://p", "username": "u"},
        {"url": "http://p", "timeout_s": 0},
        {"url": "http://p", "retries": 50},
        {"url": "http://p", "extra": 1},
    ],
)
def test_bad_endpoints_are_refused(endpoint: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PrometheusEndpoint.model_validate(endpoint)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="must match"):
        MonitoringSettings.model_validate({"endpoints": {"Prod!": {"url": "http://p"}}})
    with pytest.raises(ValidationError, match="not a configured endpoint"):
        MonitoringSettings.model_validate({"default_endpoint": "x"})
    with pytest.raises(ValidationError, match="absolute http"):
        MonitoringSettings.model_validate({"suite_servers": {"x": "file:///etc/passwd"}})


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    endpoint = PrometheusEndpoint(url="http://p", bearer_token="s3cr3t-token")
    assert "s3cr3t" not in repr(endpoint)
