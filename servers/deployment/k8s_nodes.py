"""Node maintenance: cordon, uncordon, and a planned drain that evicts through the eviction API.

`plan_drain` lists every pod on the node and what a drain does with it — DaemonSet and mirror pods
are left (as `kubectl drain` leaves them), pods in namespaces the policy may not change are left and
said so — with the PodDisruptionBudgets that cover the rest. `drain(plan_id)` cordons the node and
asks the eviction API for exactly the planned pods (by uid: a pod replaced since the plan is not
touched); an eviction a budget refuses (429) is reported as blocked, never forced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from servers.deployment.k8s_client import kube_errors
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.node_models import DrainPlan, DrainPod, DrainResult, NodeAction
from servers.deployment.plan_ops import PlanPreview, PlanStorage, plan_hash
from shared.errors import PermissionDenied
from shared.identity import Identity
from shared.validation import k8s_name

__all__ = ["NodeOps"]

_MIRROR = "kubernetes.io/config.mirror"


class NodeOps:
    """Cordon, uncordon and drain, over `KubeOps`' connections and policy (admin tools)."""

    def __init__(self, kube: KubeOps, store: PlanStorage) -> None:
        self.kube = kube
        self.store = store

    def close(self) -> None:
        self.store.close()

    def _node(self, node: str, identity: Identity) -> str:
        self.kube.policy.check_kind("Node", write=True, identity=identity)
        return k8s_name(node, what="node")

    def set_unschedulable(
        self, node: str, value: bool, *, identity: Identity, context: str | None = None
    ) -> NodeAction:
        name = self._node(node, identity)
        cluster = self.kube.cluster(context, identity)
        with kube_errors(f"node {name!r}"):
            result: Any = cluster.core.patch_node(
                name, {"spec": {"unschedulable": value or None}}, _request_timeout=cluster.timeout_s
            )
        return NodeAction(
            node=name,
            action="cordoned" if value else "uncordoned",
            unschedulable=bool(result.spec.unschedulable),
        )

    def _pods(self, name: str, identity: Identity, context: str | None) -> list[Any]:
        cluster = self.kube.cluster(context, identity)
        with kube_errors(f"pods on node {name!r}"):
            cluster.core.read_node(name, _request_timeout=cluster.timeout_s)
            pods = cluster.core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={name}", _request_timeout=cluster.timeout_s
            ).items
        return sorted(pods, key=lambda p: (p.metadata.namespace, p.metadata.name))

    def _verdict(self, pod: Any) -> tuple[str, str]:
        owners = pod.metadata.owner_references or []
        if any(o.kind == "DaemonSet" for o in owners):
            return "skip", "DaemonSet pod (its controller would put it back)"
        if _MIRROR in (pod.metadata.annotations or {}):
            return "skip", "mirror (static) pod"
        if pod.status.phase in ("Succeeded", "Failed"):
            return "skip", f"already {pod.status.phase}"
        try:
            self.kube.namespace(pod.metadata.namespace, write=True)
        except PermissionDenied as exc:
            return "skip", f"left alone: {exc}"
        return "evict", "evicted through the eviction API (PodDisruptionBudgets respected)"

    def plan_drain(self, node: str, *, identity: Identity, context: str | None = None) -> DrainPlan:
        name = self._node(node, identity)
        cluster = self.kube.cluster(context, identity)
        rows, bodies = [], []
        for pod in self._pods(name, identity, context):
            action, reason = self._verdict(pod)
            rows.append(
                DrainPod(
                    namespace=pod.metadata.namespace, name=pod.metadata.name, action=action, reason=reason
                )
            )
            if action == "evict":
                bodies.append(
                    {"namespace": pod.metadata.namespace, "name": pod.metadata.name, "uid": pod.metadata.uid}
                )
        from kubernetes.client import PolicyV1Api  # on first use (see k8s_client)

        budgets = []
        for ns in sorted({b["namespace"] for b in bodies}):
            with kube_errors(f"disruption budgets in {ns}"):
                pdbs = PolicyV1Api(cluster.api).list_namespaced_pod_disruption_budget(
                    ns, _request_timeout=cluster.timeout_s
                )
            pdb: Any
            for pdb in pdbs.items:
                allowed = pdb.status.disruptions_allowed if pdb.status else 0
                budgets.append(f"{ns}/{pdb.metadata.name}: {allowed} disruption(s) allowed now")
        plan_body = {"type": "drain", "node": name, "pods": bodies}
        sha = plan_hash(cluster.context, [plan_body])
        evicted = ", ".join(f"{b['namespace']}/{b['name']}" for b in bodies) or "none"
        preview = PlanPreview(f"drain node {name}: cordon it and evict {len(bodies)} pod(s): {evicted}")
        stored = self.store.add(
            sha256=sha, context=cluster.context, owner=identity.subject, bodies=[plan_body], preview=preview
        )
        expires = datetime.now(UTC) + timedelta(seconds=stored.expires_at - self.store.clock())
        return DrainPlan(
            plan_id=stored.plan_id,
            node=name,
            pods=rows,
            disruption_budgets=budgets,
            expires_at=expires.isoformat(timespec="seconds"),
        )

    def drain(self, plan_id: str, *, identity: Identity) -> DrainResult:
        stored = self.store.take(plan_id, owner=identity.subject)
        body = stored.bodies[0]
        if plan_hash(stored.context, [body]) != stored.sha256 or body.get("type") != "drain":
            raise PermissionDenied("the stored plan does not match its hash; run k8s_drain_plan again")
        name = self._node(body["node"], identity)
        self.set_unschedulable(name, True, identity=identity, context=stored.context)
        cluster = self.kube.cluster(stored.context, identity)
        live = {
            (p.metadata.namespace, p.metadata.name): p.metadata.uid
            for p in self._pods(name, identity, stored.context)
        }
        from kubernetes.client import V1DeleteOptions, V1Eviction, V1ObjectMeta
        from kubernetes.client.exceptions import ApiException

        evicted, blocked, gone = [], [], []
        for pod in body["pods"]:
            label = f"{pod['namespace']}/{pod['name']}"
            if live.get((pod["namespace"], pod["name"])) != pod["uid"]:
                gone.append(label)
                continue
            self.kube.namespace(pod["namespace"], write=True)  # asked again for the applier
            eviction = V1Eviction(
                metadata=V1ObjectMeta(name=pod["name"], namespace=pod["namespace"]),
                delete_options=V1DeleteOptions(preconditions={"uid": pod["uid"]}),
            )
            try:
                cluster.core.create_namespaced_pod_eviction(
                    pod["name"], pod["namespace"], eviction, _request_timeout=cluster.timeout_s
                )
                evicted.append(label)
            except ApiException as exc:
                if exc.status == 429:
                    blocked.append(label)
                elif exc.status == 404 or (exc.status == 403 and "being terminated" in str(exc.body)):
                    gone.append(label)  # gone, or its namespace is going
                else:
                    with kube_errors(f"evict {label} (after {len(evicted)} evictions)"):
                        raise
        message = "node cordoned; evicted pods are rescheduled elsewhere by their controllers"
        if blocked:
            message += "; a PodDisruptionBudget kept some pods: wait for their replacements, then plan again"
        return DrainResult(node=name, evicted=evicted, blocked=blocked, gone=gone, message=message)
