"""Kubernetes changes that are narrow verbs, not plans: scale, rollout restart, rollback, delete.

Each is checked against the kind, namespace and context policy first (through `KubeOps`), and runs
as the caller's own cluster identity when impersonation is configured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from servers.deployment.k8s_client import kube_errors, to_dict
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.k8s_views import REVISION
from servers.deployment.models import DeletedObject, RolloutAction, ScaleResult
from shared.errors import InvalidArgument, NotFound
from shared.identity import Identity
from shared.validation import k8s_name

__all__ = ["KubeChanges"]

RESTARTED_AT: Final = "kubectl.kubernetes.io/restartedAt"
SCALABLE: Final = {"deployment": "Deployment", "statefulset": "StatefulSet", "replicaset": "ReplicaSet"}
MAX_REPLICAS: Final = 1000


class KubeChanges:
    """The narrow Kubernetes verbs, over `KubeOps`' connections and policy."""

    def __init__(self, kube: KubeOps) -> None:
        self.kube = kube

    def scale(
        self,
        kind: str,
        name: str,
        replicas: int,
        *,
        identity: Identity,
        namespace: str = "default",
        context: str | None = None,
    ) -> ScaleResult:
        canonical = SCALABLE.get(kind.lower().removesuffix("s"))
        if canonical is None:
            raise InvalidArgument("only Deployment, StatefulSet and ReplicaSet can be scaled")
        self.kube.policy.check_kind(canonical, write=True, identity=identity)
        name = k8s_name(name)
        ns = self.kube.namespace(namespace, write=True)
        if not 0 <= replicas <= MAX_REPLICAS:
            raise InvalidArgument(f"replicas must be between 0 and {MAX_REPLICAS}")
        cluster = self.kube.cluster(context, identity)
        resource = cluster.resource(canonical)
        with kube_errors(f"scale {canonical} {name!r}"):
            scale = cluster.dynamic.get(resource.subresources["scale"], name=name, namespace=ns)
            before = int(to_dict(scale).get("spec", {}).get("replicas", 0))
            cluster.dynamic.patch(
                resource.subresources["scale"],
                body={"spec": {"replicas": replicas}},
                name=name,
                namespace=ns,
                content_type="application/merge-patch+json",
                field_manager=self.kube.settings.field_manager,
                _request_timeout=cluster.timeout_s,
            )
        return ScaleResult(
            kind=canonical, name=name, namespace=ns, previous_replicas=before, replicas=replicas
        )

    def rollout_restart(
        self, deployment: str, *, identity: Identity, namespace: str = "default", context: str | None = None
    ) -> RolloutAction:
        self.kube.policy.check_kind("Deployment", write=True, identity=identity)
        name = k8s_name(deployment, what="deployment")
        ns = self.kube.namespace(namespace, write=True)
        cluster = self.kube.cluster(context, identity)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        with kube_errors(f"restart deployment {name!r}"):
            cluster.apps.patch_namespaced_deployment(
                name,
                ns,
                body,
                field_manager=self.kube.settings.field_manager,
                _request_timeout=cluster.timeout_s,
            )
        return RolloutAction(
            deployment=name,
            namespace=ns,
            action="restarted",
            message=f"pods are being replaced (restartedAt={now}); watch with k8s_rollout_status",
        )

    def rollback(
        self,
        deployment: str,
        *,
        identity: Identity,
        revision: int | None = None,
        namespace: str = "default",
        context: str | None = None,
    ) -> RolloutAction:
        """Put back the pod template of an earlier revision (default: the previous one).

        Like `kubectl rollout undo`; a JSON patch with a resourceVersion test makes it atomic.
        """
        self.kube.policy.check_kind("Deployment", write=True, identity=identity)
        name = k8s_name(deployment, what="deployment")
        ns = self.kube.namespace(namespace, write=True)
        if revision is not None and revision < 1:
            raise InvalidArgument(
                "revision must be a positive revision number (see the ReplicaSets' revisions)"
            )
        cluster = self.kube.cluster(context, identity)
        deployments, replicasets = cluster.resource("Deployment"), cluster.resource("ReplicaSet")
        with kube_errors(f"deployment {name!r}"):
            live = to_dict(deployments.get(name=name, namespace=ns, _request_timeout=cluster.timeout_s))
            owned = [
                rs
                for rs in to_dict(replicasets.get(namespace=ns, _request_timeout=cluster.timeout_s)).get(
                    "items"
                )
                or []
                if any(
                    ref.get("uid") == live["metadata"]["uid"]
                    for ref in rs["metadata"].get("ownerReferences") or []
                )
            ]
        by_revision = {
            int(rs["metadata"]["annotations"][REVISION]): rs
            for rs in owned
            if str((rs["metadata"].get("annotations") or {}).get(REVISION, "")).isdigit()
        }
        current = int((live["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)
        if revision is None:
            earlier = [r for r in by_revision if r < current]
            if not earlier:
                raise NotFound(f"deployment {name!r} has no revision before {current} to roll back to")
            revision = max(earlier)
        if revision not in by_revision:
            known = ", ".join(str(r) for r in sorted(by_revision)) or "none"
            raise NotFound(f"deployment {name!r} has no revision {revision} (known revisions: {known})")
        if revision == current:
            raise InvalidArgument(f"revision {revision} is already the current one")
        template = by_revision[revision]["spec"]["template"]
        labels = {
            k: v
            for k, v in (template.get("metadata") or {}).get("labels", {}).items()
            if k != "pod-template-hash"
        }
        template = {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": live["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/template", "value": template},
        ]
        with kube_errors(f"roll back deployment {name!r}"):
            cluster.dynamic.patch(
                deployments,
                body=patch,
                name=name,
                namespace=ns,
                content_type="application/json-patch+json",
                field_manager=self.kube.settings.field_manager,
                _request_timeout=cluster.timeout_s,
            )
        return RolloutAction(
            deployment=name,
            namespace=ns,
            action="rolled_back",
            revision=revision,
            message=f"template of revision {revision} restored; it rolls out as a new revision",
        )

    def delete(
        self,
        kind: str,
        name: str,
        *,
        identity: Identity,
        namespace: str = "default",
        context: str | None = None,
    ) -> DeletedObject:
        cluster, resource, name, ns = self.kube.target(
            kind, name, identity=identity, namespace=namespace, context=context, write=True
        )
        with kube_errors(f"delete {resource.kind} {name!r}"):
            result = to_dict(
                resource.delete(
                    name=name,
                    namespace=ns,
                    propagation_policy="Background",
                    _request_timeout=cluster.timeout_s,
                )
            )
        finalizers = (
            (result.get("metadata") or {}).get("finalizers") if result.get("kind") != "Status" else None
        )
        return DeletedObject(
            kind=resource.kind, name=name, namespace=ns, status="deleting" if finalizers else "deleted"
        )
