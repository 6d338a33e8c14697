"""Inputs and outputs of the Alertmanager tools (`am_*`); the descriptions are written for the model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

AlertmanagerArg = Annotated[
    str | None,
    Field(description="Alertmanager name (see am_status); omit for the default", max_length=32),
]
MatcherList = Annotated[
    list[str] | None,
    Field(
        description='Label matchers, e.g. ["alertname=\\"HighLatency\\"", "service=~\\"api|web\\""]',
        max_length=20,
    ),
]
StateFilter = Annotated[bool | None, Field(description="true: only these; false: none of these; omit: both")]


class AmAlert(BaseModel):
    """An alert as Alertmanager holds it: its labels, where it was routed and whether it is muted."""

    name: str = Field(description="alertname")
    state: str = Field(description="active (notifying), suppressed (silenced or inhibited) or unprocessed")
    labels: dict[str, str] = Field(description="Labels, alertname excluded")
    annotations: dict[str, str] = Field(description="Annotations (summary, description, runbook_url…)")
    receivers: list[str] = Field(description="Receivers the route tree sends it to")
    silenced_by: list[str] = Field(default_factory=list, description="Ids of the silences muting it")
    inhibited_by: list[str] = Field(default_factory=list, description="Fingerprints of alerts inhibiting it")
    starts_at: str | None = Field(default=None, description="When it started firing (RFC 3339)")
    active_for_seconds: float | None = Field(default=None, description="Seconds since starts_at")
    ends_at: str | None = Field(default=None, description="When it resolves unless re-sent (RFC 3339)")
    fingerprint: str = Field(description="Alertmanager's id of the alert")
    generator_url: str = Field(default="", description="Link to the rule's expression in Prometheus")


class AlertGroup(BaseModel):
    """Alerts grouped for one notification by the route tree's group_by labels."""

    receiver: str = Field(description="Receiver the group notifies")
    labels: dict[str, str] = Field(description="The group_by labels and their values")
    alerts_total: int = Field(description="Alerts in the group")
    states: dict[str, int] = Field(description="Alerts per state (active, suppressed, unprocessed)")
    alerts: list[AmAlert] = Field(description="The first alerts of the group (see alerts_total)")


class Silence(BaseModel):
    """A silence: matchers that mute alerts between two times."""

    id: str = Field(description="Silence id (pass to am_silence_expire)")
    state: str = Field(description="active, pending (starts later) or expired")
    matchers: list[str] = Field(description='Its matchers, e.g. alertname="HighLatency"')
    created_by: str = Field(description="Who created it (as recorded in Alertmanager)")
    comment: str = Field(description="Why it was created")
    starts_at: str | None = Field(default=None, description="Start (RFC 3339)")
    ends_at: str | None = Field(default=None, description="End (RFC 3339)")
    ends_in_seconds: float | None = Field(default=None, description="Seconds until it ends (active ones)")
    created_here: bool = Field(description="True when this CODE server created it (it may expire it)")


class Receiver(BaseModel):
    """A receiver of the Alertmanager configuration (credentials are never shown)."""

    name: str = Field(description="Receiver name")
    integrations: list[str] = Field(description="Kinds of notification it sends: webhook, email, slack…")
    routes: list[str] = Field(
        description="Routes sending to it, as their matchers ('(root)' for the default route)"
    )


class AmStatus(BaseModel):
    """Build, cluster and configuration summary of an Alertmanager."""

    alertmanager: str = Field(description="The Alertmanager's name in this server's configuration")
    url: str = Field(description="Its base URL")
    version: str = Field(description="Alertmanager version")
    uptime: str | None = Field(default=None, description="When it started (RFC 3339)")
    cluster_status: str = Field(description="ready, settling or disabled (no high-availability peers)")
    cluster_peers: int = Field(description="Peers in its high-availability cluster")
    root_receiver: str = Field(description="Receiver of the root route (the default destination)")
    group_by: list[str] = Field(description="Labels the root route groups alerts by")
    routes: int = Field(description="Routes below the root")
    receivers: int = Field(description="Receivers configured")
    inhibit_rules: int = Field(description="Inhibition rules configured")
    others: list[str] = Field(default_factory=list, description="Other configured Alertmanagers, by name")


class PreviewAlert(BaseModel):
    """An alert a silence would match."""

    name: str = Field(description="alertname")
    labels: dict[str, str] = Field(description="Labels, alertname excluded")
    state: str = Field(description="Its state now (active, suppressed, unprocessed)")


class SilencePlan(BaseModel):
    """A silence before it exists: what it would mute, for how long, in whose name."""

    alertmanager: str = Field(description="The Alertmanager it goes to")
    matchers: list[str] = Field(description="Its matchers, as Alertmanager reads them")
    starts_at: str = Field(description="Start (RFC 3339): now")
    ends_at: str = Field(description="End (RFC 3339)")
    duration_seconds: float = Field(description="How long it lasts")
    created_by: str = Field(description="The caller's identity, recorded as the silence's creator")
    comment: str = Field(description="Why")
    alerts_matched: int = Field(description="Alerts it would silence right now")
    alert_names: dict[str, int] = Field(description="Those alerts by alertname, with counts")
    examples: list[PreviewAlert] = Field(description="Some of those alerts")
    already_silenced: int = Field(description="Of those, alerts already muted by another silence")


class SilenceResult(BaseModel):
    """The outcome of am_silence_create: the plan, and the silence if it was created."""

    plan: SilencePlan = Field(description="What the silence does (shown before it is created)")
    created: bool = Field(description="False for a dry run")
    silence_id: str | None = Field(default=None, description="Id of the new silence")
    note: str = Field(description="What happened and what to do next")


class SilenceExpired(BaseModel):
    """A silence that was ended early."""

    alertmanager: str = Field(description="The Alertmanager")
    id: str = Field(description="Silence id")
    matchers: list[str] = Field(description="Its matchers")
    previous_state: str = Field(description="active or pending before it was expired")
    note: str = Field(description="What happened")
