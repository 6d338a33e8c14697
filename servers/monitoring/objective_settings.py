"""SLOs and rollout checks, as the operator configures them under `[monitoring]`.

```toml
[monitoring.slos.api-availability]
description = "API requests that do not fail"
good = 'sum(rate(http_requests_total{job="api",code!~"5.."}[$window]))'
total = 'sum(rate(http_requests_total{job="api"}[$window]))'
target = 0.999                 # 99.9 % of requests good over the window
window = "30d"

[monitoring.slos.checkout-errors]
error_ratio = 'sum(rate(checkout_errors_total[$window])) / sum(rate(checkout_total[$window]))'
target = 0.995

[monitoring.rollout_checks.error-rate]
expr = '''sum(rate(http_requests_total{deployment="$deployment",code=~"5.."}[1m]))
        / sum(rate(http_requests_total{deployment="$deployment"}[1m]))'''
max = 0.01                     # fails when any series is above

[monitoring.rollout_checks.healthz]
urls = ["https://$deployment.apps.example.com/healthz"]   # each must be in [policy] url_allowlist
```

`$window` is replaced by each window slo_status evaluates (5m … 30d); `$deployment` and `$namespace`
by rollout_verify's (validated: Kubernetes names only, so they cannot break out of a PromQL string or
a URL path segment).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from servers.monitoring.time_args import parse_duration
from shared.errors import InvalidArgument

OBJECTIVE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
WINDOW = "$window"
_MIN_SLO_WINDOW_S = 3 * 86_400  # the longest burn-rate window pair is 3d/6h
_MAX_EXPR = 5_000


def check_names(objectives: Mapping[str, object]) -> None:
    """Objective names are short lowercase identifiers (they are tool arguments)."""
    for name in objectives:
        if not OBJECTIVE_NAME.match(name):
            raise ValueError(f"name {name!r} must match {OBJECTIVE_NAME.pattern}")


def _duration(value: str, what: str) -> float:
    try:
        return parse_duration(value)
    except InvalidArgument as exc:
        raise ValueError(f"{what}: {exc}") from None


def _expr(value: str, what: str) -> str:
    text = value.strip()
    if not text or len(text) > _MAX_EXPR or "\x00" in text:
        raise ValueError(f"{what} must be a PromQL expression of 1 to {_MAX_EXPR} characters")
    return text


class SloObjective(BaseModel):
    """A service level objective: a good/total ratio (or an error ratio), a target and a window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(default="", max_length=500, description="What the SLO promises")
    endpoint: str | None = Field(default=None, description="Prometheus endpoint; default: the default one")
    good: str | None = Field(default=None, description="PromQL rate of good events over $window")
    total: str | None = Field(default=None, description="PromQL rate of all events over $window")
    error_ratio: str | None = Field(
        default=None, description="PromQL share of bad events over $window (instead of good/total)"
    )
    target: float = Field(gt=0, lt=1, description="Share of good events promised, e.g. 0.999")
    window: str = Field(default="30d", description="Compliance window, e.g. 30d or 28d")

    @field_validator("good", "total", "error_ratio")
    @classmethod
    def _check_expr(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = _expr(value, "an SLO expression")
        if WINDOW not in text:
            raise ValueError(f"an SLO expression must use {WINDOW} as its range, e.g. rate(x[{WINDOW}])")
        return text

    @field_validator("window")
    @classmethod
    def _check_window(cls, value: str) -> str:
        if _duration(value, "SLO window") < _MIN_SLO_WINDOW_S:
            raise ValueError("an SLO window must be at least 3d (the longest burn-rate window)")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        ratio = self.good is not None or self.total is not None
        if ratio == (self.error_ratio is not None):
            raise ValueError("an SLO needs either good and total, or error_ratio (not both)")
        if ratio and (self.good is None or self.total is None):
            raise ValueError("an SLO with good needs total too (and the other way round)")
        return self

    @property
    def window_s(self) -> float:
        """The compliance window in seconds."""
        return parse_duration(self.window)


class RolloutCheck(BaseModel):
    """A condition a fresh rollout must keep: a PromQL value within bounds, or URLs answering."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(default="", max_length=500, description="What the check guards")
    endpoint: str | None = Field(default=None, description="Prometheus endpoint; default: the default one")
    expr: str | None = Field(default=None, description="PromQL using $deployment (and $namespace)")
    max: float | None = Field(default=None, description="Fail when any series is above this")
    min: float | None = Field(default=None, description="Fail when any series is below this")
    no_data: Literal["fail", "pass"] = Field(
        default="fail", description="What an empty result counts as (default: a failure)"
    )
    urls: list[str] = Field(
        default_factory=list, max_length=20, description="Health URLs (may use $deployment, $namespace)"
    )
    expect_status: int | None = Field(default=None, ge=100, le=599, description="Healthy status; default 2xx")

    @field_validator("expr")
    @classmethod
    def _check_expr(cls, value: str | None) -> str | None:
        return None if value is None else _expr(value, "a rollout check expr")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.expr is None) == (not self.urls):
            raise ValueError("a rollout check has either expr (with max and/or min) or urls")
        if self.expr is not None and self.max is None and self.min is None:
            raise ValueError("a rollout check with expr needs max and/or min")
        if self.urls and (self.max is not None or self.min is not None):
            raise ValueError("max/min apply to expr checks, not to urls")
        return self
