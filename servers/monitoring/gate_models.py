"""Outputs of slo_status and rollout_verify; the descriptions are written for the model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class BurnWindow(BaseModel):
    """One multi-window burn-rate condition of the Google SRE workbook ("Alerting on SLOs")."""

    long_window: str = Field(description="The long window, e.g. 1h")
    short_window: str = Field(description="The short window that confirms it is still burning, e.g. 5m")
    severity: Literal["page", "ticket"] = Field(description="page: wake someone; ticket: fix this week")
    threshold: float = Field(description="Burn rate both windows must exceed (14.4, 6, 3, 1 for 30d)")
    long_burn_rate: float | None = Field(description="Error ratio over the long window / error budget")
    short_burn_rate: float | None = Field(description="Error ratio over the short window / error budget")
    firing: bool = Field(description="True when both burn rates exceed the threshold")


class SloStatus(BaseModel):
    """Where one SLO stands: budget left over its window and how fast it burns now."""

    objective: str = Field(description="SLO name")
    description: str = Field(description="What it promises")
    endpoint: str = Field(description="Prometheus endpoint evaluated")
    time: str = Field(description="Evaluation time (RFC 3339)")
    target: float = Field(description="Share of good events promised, e.g. 0.999")
    window: str = Field(description="Compliance window, e.g. 30d")
    error_budget: float = Field(description="Share of events allowed to fail: 1 - target")
    error_ratio: float | None = Field(description="Share of events that failed over the window")
    budget_consumed: float | None = Field(description="Share of the error budget spent (1 = all of it)")
    budget_remaining: float | None = Field(description="Share of the error budget left; negative = overspent")
    windows: list[BurnWindow] = Field(description="The four burn-rate conditions")
    page: bool = Field(description="True when a page condition fires (1h/5m or 6h/30m)")
    ticket: bool = Field(description="True when a ticket condition fires (1d/2h or 3d/6h)")
    no_data: list[str] = Field(default_factory=list, description="Windows whose expressions returned nothing")
    summary: str = Field(description="A plain-language verdict")


class Observation(BaseModel):
    """One evaluation of one check during the watch."""

    at: str = Field(description="When (RFC 3339)")
    ok: bool = Field(description="True when the check held")
    detail: str = Field(description="Values seen (PromQL) or statuses (health), or the failure")


class CheckEvidence(BaseModel):
    """What one check saw during the watch."""

    name: str = Field(description="Check name from the configuration")
    kind: Literal["promql", "health"] = Field(description="promql condition or endpoint health")
    passed: bool = Field(description="True when it held at every evaluation")
    condition: str = Field(description="What must hold, e.g. `expr` ≤ 0.01, or URLs answering 2xx")
    evaluations: int = Field(description="Times it was evaluated")
    failures: int = Field(description="Evaluations at which it did not hold")
    worst: float | None = Field(
        default=None, description="PromQL: highest value seen (lowest if only min is set)"
    )
    first_failure: Observation | None = Field(default=None, description="The first evaluation that failed")
    recent: list[Observation] = Field(description="The last evaluations, newest last")


class RolloutVerdict(BaseModel):
    """Whether a fresh rollout kept its checks for the watched window, with the evidence."""

    deployment: str = Field(description="Deployment watched (the value of $deployment)")
    namespace: str = Field(description="Its namespace (the value of $namespace)")
    verdict: Literal["pass", "fail"] = Field(description="pass: every check held for the whole window")
    started: str = Field(description="Start of the watch (RFC 3339)")
    watched_seconds: float = Field(description="How long it watched (shorter when it failed fast)")
    window_seconds: float = Field(description="How long it was asked to watch")
    checks: list[CheckEvidence] = Field(description="Evidence per check")
    advice: str = Field(description="What to do next (roll back, or carry on)")
