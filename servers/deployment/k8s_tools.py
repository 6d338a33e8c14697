"""The deployment server's Kubernetes toolset: wiring only; the logic is `k8s_ops` and `plan_ops`.

Reads at the read tier; plan, apply, scale, restart and rollback at the write tier; `k8s_delete` at
the admin tier. The Kubernetes client blocks, so the tools are plain `def`s the kit runs in worker
threads — all but `k8s_rollout_status`, which polls asynchronously.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from servers.deployment.confirmations import plan_change, scale_change
from servers.deployment.k8s_changes import KubeChanges
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.models import (
    ApplyResult,
    DeletedObject,
    ImageScans,
    KubeContext,
    KubeEvent,
    KubeObject,
    ObjectSummary,
    Plan,
    PodLogs,
    RolloutAction,
    RolloutStatus,
    ScaleResult,
)
from servers.deployment.plan_ops import PlanOps
from shared.calls import current_identity
from shared.paging import Columns, Cursor, Limit, Page, page
from shared.toolkit import ServerKit

VIEWS = Path(__file__).parent / "views"

Namespace = Annotated[str, Field(description="Namespace (must be allowed by policy)", max_length=63)]
KubeContextName = Annotated[
    str | None,
    Field(description="kubeconfig context (see k8s_contexts); omit for the current one", max_length=253),
]
Kind = Annotated[
    str,
    Field(
        description="Kind, e.g. Deployment, Pod, Service, ConfigMap (plural and short names work)",
        max_length=100,
    ),
]
Name = Annotated[str, Field(description="Object name", max_length=253)]
DeploymentName = Annotated[str, Field(description="Deployment name", max_length=253)]
Tail = Annotated[int, Field(description="How many of the last lines to return", ge=1, le=100_000)]
SinceS = Annotated[int | None, Field(description="Only lines from the last N seconds", ge=1)]


def k8s_tools(kit: ServerKit, kube: KubeOps, plans: PlanOps) -> None:
    """Register the Kubernetes tools on `kit`, driving `kube` and `plans`."""
    changes = KubeChanges(kube)
    reads = kit.toolset(permission="deployment:read", open_world=True)
    writes = kit.toolset(permission="deployment:write", open_world=True)
    admin = kit.toolset(permission="deployment:admin", open_world=True)

    @reads.tool("k8s_contexts", "List Kubernetes contexts")
    def k8s_contexts() -> Page[KubeContext]:
        """The kubeconfig contexts the policy allows; pass one as `context` to the other k8s tools."""
        return page(kube.contexts())

    @reads.tool("k8s_list", "List Kubernetes objects")
    def k8s_list(
        kind: Kind,
        namespace: Namespace = "default",
        label_selector: Annotated[str, Field(description="e.g. app=web,tier!=db", max_length=1024)] = "",
        context: KubeContextName = None,
        cursor: Cursor = None,
        limit: Limit = None,
        columns: Columns = None,
    ) -> Page[ObjectSummary]:
        """List objects of one kind in a namespace (cluster-scoped kinds ignore it), as kubectl get shows
        them; a default column that no object of the kind has (a Deployment's node) is left out."""
        rows = kube.list_objects(
            kind, identity=current_identity(), namespace=namespace, label_selector=label_selector,
            context=context,
        )  # fmt: skip
        return page(rows)

    @reads.tool("k8s_get", "Get a Kubernetes object")
    def k8s_get(
        kind: Kind, name: Name, namespace: Namespace = "default", context: KubeContextName = None
    ) -> KubeObject:
        """One object in full, without managedFields; Secret values are replaced by their length and hash."""
        return kube.get_object(kind, name, identity=current_identity(), namespace=namespace, context=context)

    @reads.tool("k8s_events", "List Kubernetes events")
    def k8s_events(
        namespace: Namespace = "default",
        kind: Annotated[str | None, Field(description="Only events about this kind", max_length=100)] = None,
        name: Annotated[
            str | None, Field(description="Only events about the object of this name", max_length=253)
        ] = None,
        context: KubeContextName = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[KubeEvent]:
        """Events in a namespace, newest first, optionally about one object (why a pod is Pending, ...)."""
        return page(kube.events(namespace=namespace, kind=kind, name=name, context=context))

    @reads.tool("k8s_logs", "Read a pod's logs")
    def k8s_logs(
        pod: Annotated[str, Field(description="Pod name", max_length=253)],
        namespace: Namespace = "default",
        container: Annotated[str | None, Field(description="Container, when the pod has several")] = None,
        tail: Tail = 200,
        since_s: SinceS = None,
        context: KubeContextName = None,
    ) -> PodLogs:
        """The last lines of a pod container's log, secrets redacted, cut to the output budget."""
        return kube.logs(
            pod, namespace=namespace, container=container, tail=tail, since_s=since_s,
            max_chars=kit.budget.max_chars, context=context,
        )  # fmt: skip

    progress = kit.view("rollout", "Rollout", VIEWS / "rollout_progress.html", permission="deployment:read")

    @reads.tool("k8s_rollout_status", "Watch a Deployment rollout", meta=progress)
    async def k8s_rollout_status(
        deployment: DeploymentName,
        ctx: Context,
        namespace: Namespace = "default",
        timeout_s: Annotated[
            float, Field(description="Longest wait in seconds (capped by config)", gt=0)
        ] = 120,
        context: KubeContextName = None,
    ) -> RolloutStatus:
        """Wait until a Deployment's rollout completes, fails or times out, reporting progress
        (updated replicas of desired) as it goes. Returns where the rollout stands."""

        async def report(state: RolloutStatus) -> None:
            await ctx.report_progress(state.updated, state.replicas or None, state.message)

        return await kube.wait_rollout(
            deployment, namespace=namespace, timeout_s=timeout_s, context=context, progress=report
        )

    @writes.tool(
        "k8s_plan",
        "Plan a Kubernetes change (dry-run + diff)",
        destructive=False,
        idempotent=False,
        confirm=False,
    )
    def k8s_plan(
        manifests: Annotated[str, Field(description="YAML or JSON manifests, several separated by ---")],
        namespace: Annotated[
            str, Field(description="Namespace for objects that name none", max_length=63)
        ] = "default",
        context: KubeContextName = None,
        force_conflicts: Annotated[
            bool, Field(description="Take over fields another manager owns (server-side apply force)")
        ] = False,
        image_scans: ImageScans = None,
    ) -> Plan:
        """Validate manifests against the policy, run a server-side dry-run of each object and diff it
        against the live object. Nothing changes. Returns a plan_id bound to a hash of exactly what will be
        applied; show the diff to the user, then call k8s_apply(plan_id) before it expires."""
        return plans.plan(
            manifests, identity=current_identity(), namespace=namespace, context=context,
            force_conflicts=force_conflicts, max_diff_chars=kit.budget.max_chars, image_scans=image_scans,
        )  # fmt: skip

    @writes.tool("k8s_apply", "Apply a reviewed Kubernetes plan", preview=plan_change(plans.store))
    def k8s_apply(
        plan_id: Annotated[str, Field(description="plan_id from k8s_plan", max_length=64)],
    ) -> ApplyResult:
        """Apply exactly what k8s_plan planned (server-side apply). Refused when the plan expired, was
        already used, or any live object changed since (resourceVersion): then plan again."""
        return plans.apply(plan_id, identity=current_identity())

    @writes.tool("k8s_scale", "Scale a Kubernetes workload", idempotent=True, preview=scale_change)
    def k8s_scale(
        name: Name,
        replicas: Annotated[int, Field(description="Desired replicas", ge=0, le=1000)],
        kind: Annotated[str, Field(description="Deployment, StatefulSet or ReplicaSet")] = "Deployment",
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> ScaleResult:
        """Set the replica count of a Deployment, StatefulSet or ReplicaSet."""
        return changes.scale(
            kind, name, replicas, identity=current_identity(), namespace=namespace, context=context
        )

    @writes.tool("k8s_rollout_restart", "Restart a Deployment's pods")
    def k8s_rollout_restart(
        deployment: DeploymentName, namespace: Namespace = "default", context: KubeContextName = None
    ) -> RolloutAction:
        """Replace every pod of a Deployment with a rolling update (like kubectl rollout restart)."""
        return changes.rollout_restart(
            deployment, identity=current_identity(), namespace=namespace, context=context
        )

    @writes.tool("k8s_rollback", "Roll a Deployment back")
    def k8s_rollback(
        deployment: DeploymentName,
        revision: Annotated[
            int | None, Field(description="Revision to return to; omit for the previous one", ge=1)
        ] = None,
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> RolloutAction:
        """Restore the pod template of an earlier revision (the previous one by default) from its
        ReplicaSet."""
        return changes.rollback(
            deployment, identity=current_identity(), revision=revision, namespace=namespace, context=context
        )

    @admin.tool("k8s_delete", "Delete a Kubernetes object", idempotent=False)
    def k8s_delete(
        kind: Kind, name: Name, namespace: Namespace = "default", context: KubeContextName = None
    ) -> DeletedObject:
        """Delete one object (admin only). Protected namespaces are never touched."""
        return changes.delete(kind, name, identity=current_identity(), namespace=namespace, context=context)
