"""SLO and rollout-check settings, the burn-rate arithmetic, and the Alertmanager settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servers.monitoring.objective_settings import RolloutCheck, SloObjective
from servers.monitoring.rollout_ops import substitute
from servers.monitoring.settings import MonitoringSettings
from servers.monitoring.slo_ops import CONDITIONS, burn, ratio_expr, threshold


def test_the_workbook_thresholds_and_their_scaling() -> None:
    month = 30 * 86400
    assert [round(threshold(share, long, month), 6) for long, _, share, _ in CONDITIONS] == [14.4, 6, 3, 1]
    four_weeks = 28 * 86400  # the same budget shares over a shorter window
    assert threshold(0.02, "1h", four_weeks) == pytest.approx(13.44)
    assert burn(0.002, 0.001) == pytest.approx(2.0) and burn(None, 0.001) is None


def test_the_two_slo_forms() -> None:
    ratio = SloObjective(good="sum(rate(ok[$window]))", total="sum(rate(all[$window]))", target=0.999)
    assert ratio_expr(ratio, "5m") == "1 - ((sum(rate(ok[5m]))) / (sum(rate(all[5m]))))"
    errors = SloObjective(error_ratio="sum(rate(bad[$window])) / sum(rate(all[$window]))", target=0.99)
    assert ratio_expr(errors, "1h") == "sum(rate(bad[1h])) / sum(rate(all[1h]))"
    assert errors.window_s == 30 * 86400


@pytest.mark.parametrize(
    "slo",
    [
        {"good": "x[$window]", "target": 0.99},  # total missing
        {"good": "x[$window]", "total": "y[$window]", "error_ratio": "z[$window]", "target": 0.99},
        {"error_ratio": "rate(x[5m])", "target": 0.99},  # no $window
        {"error_ratio": "x[$window]", "target": 1.0},
        {"error_ratio": "x[$window]", "target": 0.99, "window": "1d"},  # shorter than 3d
        {"error_ratio": "x[$window]", "target": 0.99, "window": "a month"},
        {"target": 0.99},
    ],
)
def test_bad_slos_are_refused(slo: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SloObjective.model_validate(slo)


@pytest.mark.parametrize(
    "check",
    [
        {"expr": "x"},  # no bound
        {"expr": "x", "max": 1, "urls": ["http://a"]},
        {},
        {"urls": ["http://a"], "max": 1},
    ],
)
def test_bad_rollout_checks_are_refused(check: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RolloutCheck.model_validate(check)


def test_objective_names_and_endpoints_are_checked() -> None:
    with pytest.raises(ValidationError, match="must match"):
        MonitoringSettings.model_validate(
            {"slos": {"Bad Name": {"error_ratio": "x[$window]", "target": 0.9}}}
        )
    with pytest.raises(ValidationError, match="not a configured endpoint"):
        MonitoringSettings.model_validate(
            {"rollout_checks": {"c": {"expr": "x", "max": 1, "endpoint": "prod"}}}
        )


def test_placeholders_are_substituted_and_quoted_in_urls() -> None:
    assert substitute('x{deployment="$deployment",ns="$namespace"}', deployment="web", namespace="prod") == (
        'x{deployment="web",ns="prod"}'
    )
    assert substitute("https://h/$deployment/$namespace", deployment="a.b", namespace="c", url=True) == (
        "https://h/a.b/c"
    )
    assert substitute("https://h/$deployment", deployment="a/b?c", namespace="n", url=True) == (
        "https://h/a%2Fb%3Fc"
    )


def test_alertmanagers_resolve_like_endpoints() -> None:
    one = MonitoringSettings.model_validate({"alertmanagers": {"prod": {"url": "http://am:9093/"}}})
    assert one.alertmanagers["prod"].url == "http://am:9093" and one.resolve_alertmanager(None) == "prod"
    secret = {"url": "http://b", "bearer_token": "s3cr3t-am-token"}
    two = MonitoringSettings.model_validate({"alertmanagers": {"a": {"url": "http://a"}, "b": secret}})
    with pytest.raises(LookupError, match="name an Alertmanager; configured Alertmanagers: a, b"):
        two.resolve_alertmanager(None)
    with pytest.raises(ValidationError):
        MonitoringSettings.model_validate({"alertmanagers": {"a": {"url": "http://u:p@a"}}})
    with pytest.raises(ValidationError, match="not a configured endpoint"):
        MonitoringSettings.model_validate({"default_alertmanager": "x"})
    assert "s3cr3t" not in repr(two)
