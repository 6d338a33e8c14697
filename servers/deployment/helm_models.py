"""Inputs and outputs of the helm tools; the descriptions are written for the model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class HelmRelease(BaseModel):
    """One Helm release, briefly."""

    name: str = Field(description="Release name")
    namespace: str = Field(description="Namespace the release lives in")
    revision: int = Field(description="Current revision number")
    status: str = Field(description="deployed, failed, pending-install, superseded, uninstalling, ...")
    chart: str = Field(description="chart-name-version")
    app_version: str = Field(description="The chart's appVersion")
    updated: str = Field(description="When the current revision was made")


class HelmReleaseStatus(HelmRelease):
    """One Helm release in detail."""

    description: str = Field(description="What the last action said, e.g. 'Upgrade complete'")
    notes: str = Field(description="The chart's NOTES.txt for this revision (secrets redacted, cut)")
    resources: list[str] = Field(description="Objects of the release, as Kind/name")


class HelmRevision(BaseModel):
    """One revision in a release's history."""

    revision: int = Field(description="Revision number; pass it to helm_rollback")
    status: str = Field(description="deployed, superseded, failed, ...")
    chart: str = Field(description="chart-name-version of that revision")
    app_version: str = Field(description="appVersion of that revision")
    updated: str = Field(description="When it was made")
    description: str = Field(description="What the action said")


class HelmValues(BaseModel):
    """The values a release was installed with (secret-looking values redacted)."""

    release: str = Field(description="Release name")
    namespace: str = Field(description="Namespace")
    revision: int | None = Field(description="Revision asked for; null = the current one")
    values: dict[str, Any] = Field(description="The values (only those given, unless all=true)")


class HelmChange(BaseModel):
    """What a Helm plan does to one object of the release."""

    kind: str = Field(description="Kind")
    name: str = Field(description="Name")
    namespace: str | None = Field(description="Namespace; null for cluster-scoped kinds")
    action: Literal["create", "update", "delete", "unchanged"] = Field(description="What applying does")
    diff: str = Field(
        description="Unified diff of the release's manifest -> the plan (Secret values redacted)"
    )


class HelmPlan(BaseModel):
    """A reviewed Helm change. Pass `plan_id` to helm_apply to run exactly this, before `expires_at`."""

    plan_id: str = Field(description="Pass to helm_apply")
    sha256: str = Field(description="Hash of the chart, values and rendered objects bound to the plan")
    action: Literal["install", "upgrade", "rollback"] = Field(description="What helm_apply will do")
    release: str = Field(description="Release name")
    namespace: str = Field(description="Namespace")
    context: str = Field(description="Kubernetes context")
    chart: str = Field(description="chart-name-version")
    chart_digest: str = Field(description="sha256 of the chart archive held by the plan")
    values_sha256: str = Field(description="sha256 of the values (canonical JSON)")
    base_revision: int | None = Field(description="Revision the plan was made against; null = new release")
    target_revision: int | None = Field(default=None, description="Revision a rollback returns to")
    changes: list[HelmChange] = Field(description="One entry per object of the release")
    hooks: list[str] = Field(description="Hook objects that run with it (Kind/name [events]), admitted too")
    expires_at: str = Field(description="After this time (RFC 3339) the plan is refused; plan again")
    diff_truncated: bool = Field(default=False, description="True when diffs were cut to the budget")


class HelmApplied(BaseModel):
    """The outcome of helm_apply."""

    plan_id: str = Field(description="The plan applied")
    sha256: str = Field(description="Hash of what was applied (equals the plan's)")
    release: str = Field(description="Release name")
    namespace: str = Field(description="Namespace")
    revision: int = Field(description="The release's revision now")
    status: str = Field(description="Release status after the action")


class HelmUninstalled(BaseModel):
    """The outcome of helm_uninstall."""

    release: str = Field(description="Release name")
    namespace: str = Field(description="Namespace")
    removed: list[str] = Field(description="Objects of the release that were deleted, as Kind/name")
