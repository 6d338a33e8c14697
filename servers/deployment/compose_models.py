"""Inputs and outputs of the compose tools; the descriptions are written for the model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ComposeModel(BaseModel):
    """A Compose project as Compose resolves it (interpolated, paths absolute; secrets redacted)."""

    project: str = Field(description="Project name")
    services: list[str] = Field(description="Service names")
    model: dict[str, Any] = Field(description="The resolved model")


class ComposeServiceChange(BaseModel):
    """What compose_up will do to one service."""

    service: str = Field(description="Service name")
    action: Literal["create", "recreate", "unchanged", "remove"] = Field(description="What applying does")
    image: str = Field(description="Image the service runs")
    reason: str = Field(description="Why, in words")


class ComposePlan(BaseModel):
    """A reviewed Compose change. Pass `plan_id` to compose_up to run exactly this model."""

    plan_id: str = Field(description="Pass to compose_up")
    sha256: str = Field(description="Hash of the resolved, hardened model compose_up will run")
    project: str = Field(description="Project name")
    changes: list[ComposeServiceChange] = Field(description="One entry per service (and per orphan removed)")
    model: dict[str, Any] = Field(description="The resolved model, as hardened by this server")
    expires_at: str = Field(description="After this time (RFC 3339) the plan is refused; plan again")


class ComposeUp(BaseModel):
    """The outcome of compose_up."""

    plan_id: str = Field(description="The plan applied")
    sha256: str = Field(description="Hash of the model run (equals the plan's)")
    project: str = Field(description="Project name")
    services: list[str] = Field(description="Services brought up")


class ComposeContainer(BaseModel):
    """One container of a Compose project."""

    service: str = Field(description="Service name")
    name: str = Field(description="Container name")
    id: str = Field(description="Short container id")
    image: str = Field(description="Image")
    state: str = Field(description="running, exited, ...")
    status: str = Field(description="Status text, e.g. 'Up 5 seconds'")


class ComposeLogs(BaseModel):
    """The end of a project's (or one service's) logs, secrets redacted."""

    project: str = Field(description="Project name")
    service: str | None = Field(description="Service, when given")
    text: str = Field(description="Log text")
    truncated: bool = Field(description="True when the text was cut to the budget")


class ComposeDown(BaseModel):
    """The outcome of compose_down."""

    project: str = Field(description="Project name")
    removed: list[str] = Field(description="Containers removed")
