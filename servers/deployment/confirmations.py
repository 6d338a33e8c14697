"""What the person is shown before a deployment change runs (the kit's confirmation step).

A planned change (k8s_apply, helm_apply, compose_up, k8s_drain) is shown as its plan: the id and
hash the apply is bound to, and the summary and diff the planner stored beside it, read without
using the plan up. Every other write shows its title and arguments (`shared.confirm`).
"""

from __future__ import annotations

from collections.abc import Callable

from servers.deployment.plan_ops import PlanStorage
from shared.calls import current_identity
from shared.confirm import Change

__all__ = ["plan_change", "scale_change"]


def plan_change(store: PlanStorage) -> Callable[[str], Change]:
    """The preview of a tool that applies a stored plan by its `plan_id`."""

    def preview(plan_id: str) -> Change:
        plan = store.peek(plan_id, owner=current_identity().subject)
        shown = plan.preview
        head = f"plan {plan.plan_id} (sha256 {plan.sha256}) on {plan.context}"
        summary = f"{head}\n{shown.summary}".rstrip()
        return Change(summary, namespace=shown.namespace, destructive=shown.destructive)

    return preview


def scale_change(name: str, replicas: int, kind: str, namespace: str) -> Change:
    """Scaling to zero stops the workload: that one is destructive."""
    summary = f"scale {kind} {namespace}/{name} to {replicas} replicas"
    return Change(summary, namespace, destructive=replicas == 0)
