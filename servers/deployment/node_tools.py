"""The deployment server's "look inside" and node maintenance tools: wiring only.

`k8s_describe` at the read tier; `k8s_exec`, `k8s_cordon`, `k8s_uncordon`, `k8s_drain_plan` and
`k8s_drain` at the admin tier (an exec runs a program inside someone's container; a drain moves
every workload off a node). The logic is `k8s_describe`, `k8s_exec` and `k8s_nodes`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from servers.deployment.confirmations import plan_change
from servers.deployment.k8s_describe import describe
from servers.deployment.k8s_exec import run_exec
from servers.deployment.k8s_nodes import NodeOps
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.node_models import DrainPlan, DrainResult, ExecResult, KubeDescription, NodeAction
from shared.calls import current_identity
from shared.toolkit import ServerKit

Namespace = Annotated[str, Field(description="Namespace (must be allowed by policy)", max_length=63)]
KubeContextName = Annotated[
    str | None, Field(description="kubeconfig context; omit for the current one", max_length=253)
]
NodeName = Annotated[str, Field(description="Node name (see k8s_list kind=Node)", max_length=253)]


def node_tools(kit: ServerKit, kube: KubeOps, nodes: NodeOps) -> None:
    """Register k8s_describe, k8s_exec and the node tools on `kit`."""
    reads = kit.toolset(permission="deployment:read", open_world=True)
    admin = kit.toolset(permission="deployment:admin", open_world=True)

    @reads.tool("k8s_describe", "Describe a Kubernetes object")
    def k8s_describe(
        kind: Annotated[str, Field(description="Kind, e.g. Deployment, Pod, Service, Node", max_length=100)],
        name: Annotated[str, Field(description="Object name", max_length=253)],
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> KubeDescription:
        """One object's whole story: spec, conditions, owner chain, the pods it owns or selects and the
        recent events about them, bounded (50 pods, 20 events)."""
        return describe(kube, kind, name, identity=current_identity(), namespace=namespace, context=context)

    @admin.tool("k8s_exec", "Run a command in a container", idempotent=False)
    def k8s_exec(
        pod: Annotated[str, Field(description="Pod name", max_length=253)],
        command: Annotated[
            list[str],
            Field(
                description="Program and arguments (no shell); the program must be allowlisted", max_length=64
            ),
        ],
        container: Annotated[
            str | None, Field(description="Container; omit for the first", max_length=63)
        ] = None,
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> ExecResult:
        """Run one allowlisted program inside a container: argv only, no TTY, no stdin, bounded time and
        output, output redacted. Returns stdout, stderr and the exit code."""
        return run_exec(
            kube,
            pod,
            command,
            identity=current_identity(),
            container=container,
            namespace=namespace,
            context=context,
        )

    @admin.tool("k8s_cordon", "Cordon a node", idempotent=True)
    def k8s_cordon(node: NodeName, context: KubeContextName = None) -> NodeAction:
        """Mark a node unschedulable: running pods stay, new ones go elsewhere."""
        return nodes.set_unschedulable(node, True, identity=current_identity(), context=context)

    @admin.tool("k8s_uncordon", "Uncordon a node", idempotent=True, destructive=False)
    def k8s_uncordon(node: NodeName, context: KubeContextName = None) -> NodeAction:
        """Let the scheduler place pods on the node again."""
        return nodes.set_unschedulable(node, False, identity=current_identity(), context=context)

    @admin.tool("k8s_drain_plan", "Plan draining a node", destructive=False, idempotent=False, confirm=False)
    def k8s_drain_plan(node: NodeName, context: KubeContextName = None) -> DrainPlan:
        """Which pods a drain would evict (and which it leaves: DaemonSet, mirror, protected namespaces),
        with the PodDisruptionBudgets that cover them. Nothing changes; pass plan_id to k8s_drain."""
        return nodes.plan_drain(node, identity=current_identity(), context=context)

    @admin.tool("k8s_drain", "Drain a node as planned", preview=plan_change(nodes.store))
    def k8s_drain(
        plan_id: Annotated[str, Field(description="plan_id from k8s_drain_plan", max_length=64)],
    ) -> DrainResult:
        """Cordon the node and evict exactly the planned pods through the eviction API; pods a
        PodDisruptionBudget protects are reported as blocked, never forced."""
        return nodes.drain(plan_id, identity=current_identity())
