"""Outputs of k8s_describe, k8s_exec and the node maintenance tools."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from servers.deployment.models import KubeEvent


class Condition(BaseModel):
    """One status condition."""

    type: str = Field(description="Condition type, e.g. Available, Ready, Progressing")
    status: str = Field(description="True, False or Unknown")
    reason: str = Field(description="Machine reason")
    message: str = Field(description="What it says")
    last_transition: str | None = Field(description="When it last changed (RFC 3339)")


class RelatedPod(BaseModel):
    """A pod the object owns or selects."""

    name: str = Field(description="Pod name")
    phase: str = Field(description="Pending, Running, Succeeded, Failed, Unknown")
    ready: str = Field(description="Ready containers, e.g. 1/1")
    restarts: int = Field(description="Container restarts in all")
    node: str | None = Field(description="Node it runs on")


class KubeDescription(BaseModel):
    """One object's whole story, bounded: like `kubectl describe`."""

    kind: str = Field(description="Kind")
    name: str = Field(description="Name")
    namespace: str | None = Field(description="Namespace; null for cluster-scoped kinds")
    status: str | None = Field(description="A short state, where the kind has one")
    labels: dict[str, str] = Field(description="Labels")
    conditions: list[Condition] = Field(description="Status conditions")
    owners: list[str] = Field(description="Owner chain, nearest first, as Kind/name")
    pods: list[RelatedPod] = Field(description="Pods it owns or selects (at most 50)")
    events: list[KubeEvent] = Field(
        description="Recent events about it and its pods, newest first (at most 20)"
    )
    spec: dict[str, Any] = Field(description="Its spec (Secret values redacted)")
    truncated: bool = Field(description="True when pods or events were cut")


class ExecResult(BaseModel):
    """What a command printed inside a container (secrets redacted)."""

    pod: str = Field(description="Pod")
    container: str = Field(description="Container")
    command: list[str] = Field(description="The argv run")
    exit_code: int | None = Field(description="Exit code; null when it timed out or the status was not sent")
    stdout: str = Field(description="Standard output")
    stderr: str = Field(description="Standard error")
    truncated: bool = Field(description="True when output was cut to the limit")
    timed_out: bool = Field(description="True when the command ran past the time limit and was cut off")


class NodeAction(BaseModel):
    """The outcome of k8s_cordon or k8s_uncordon."""

    node: str = Field(description="Node name")
    action: Literal["cordoned", "uncordoned"] = Field(description="What was done")
    unschedulable: bool = Field(description="Whether new pods are now kept off the node")


class DrainPod(BaseModel):
    """A pod on a node being drained."""

    namespace: str = Field(description="Namespace")
    name: str = Field(description="Pod name")
    action: Literal["evict", "skip"] = Field(description="evict: through the eviction API; skip: left alone")
    reason: str = Field(description="Why (DaemonSet pod, mirror pod, namespace not writable, budget, ...)")


class DrainPlan(BaseModel):
    """Which pods a drain would evict. Pass `plan_id` to k8s_drain to do exactly that."""

    plan_id: str = Field(description="Pass to k8s_drain")
    node: str = Field(description="Node")
    pods: list[DrainPod] = Field(description="Every pod on the node and what the drain does with it")
    disruption_budgets: list[str] = Field(
        description="PodDisruptionBudgets that cover planned pods, with allowed disruptions"
    )
    expires_at: str = Field(description="After this time (RFC 3339) the plan is refused; plan again")


class DrainResult(BaseModel):
    """The outcome of k8s_drain."""

    node: str = Field(description="Node (now cordoned)")
    evicted: list[str] = Field(description="Pods evicted, as namespace/name")
    blocked: list[str] = Field(
        description="Pods a PodDisruptionBudget kept (eviction refused), as namespace/name"
    )
    gone: list[str] = Field(description="Planned pods that were already gone or replaced")
    message: str = Field(description="What to do next")
