"""Kubernetes domain logic: reads, rollout status, scale, restart, rollback, delete.

Every call names its context (or uses the current one), is checked against the policy
(context, namespace, kind) before it reaches the API server, and blocks: the server runs it
through `anyio.to_thread`. `wait_rollout` is the one async function: it polls with bounded sleeps
and honours cancellation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import anyio
import anyio.to_thread
from kubernetes.dynamic.resource import Resource

from servers.deployment.k8s_client import RAW, Cluster, KubeConnections, kube_errors, to_dict
from servers.deployment.models import (
    DeletedObject,
    KubeContext,
    KubeEvent,
    KubeObject,
    ObjectSummary,
    PodLogs,
    RolloutAction,
    RolloutStatus,
    ScaleResult,
)
from servers.deployment.settings import DeploymentSettings
from shared.errors import InvalidArgument, NotFound
from shared.identity import Identity
from shared.output import clip, redact
from shared.policy import Policy
from shared.validation import k8s_label, k8s_label_selector, k8s_name

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SCALABLE = {"deployment": "Deployment", "statefulset": "StatefulSet", "replicaset": "ReplicaSet"}
MAX_REPLICAS = 1000

RolloutProgress = Callable[[RolloutStatus], Awaitable[None]]


def clean_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without managedFields and last-applied annotations; Secret values redacted."""
    out = dict(obj)
    metadata = dict(out.get("metadata") or {})
    metadata.pop("managedFields", None)
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    out["metadata"] = metadata
    if out.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(out.get(field), dict):
                out[field] = {key: redacted_value(str(value)) for key, value in out[field].items()}
    return out


def redacted_value(value: str) -> str:
    """A stand-in for a secret value: its length and a short hash, so changes still show in diffs."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"<redacted: {len(value)} chars, sha256 {digest}>"


def _summary_status(obj: dict[str, Any]) -> str | None:
    kind, status = obj.get("kind"), obj.get("status") or {}
    if kind == "Pod":
        return str(status.get("phase", "Unknown"))
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return f"{status.get('readyReplicas') or 0}/{(obj.get('spec') or {}).get('replicas', 0)} ready"
    if kind == "Node":
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        return "Ready" if ready and ready[0].get("status") == "True" else "NotReady"
    if kind == "Namespace":
        return str(status.get("phase", ""))
    return None


def rollout_state(deployment: dict[str, Any]) -> RolloutStatus:
    """Where a rollout stands, by the rules `kubectl rollout status` uses."""
    metadata, spec, status = (
        deployment["metadata"],
        deployment.get("spec") or {},
        deployment.get("status") or {},
    )
    replicas = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    current = int(status.get("replicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    revision = (metadata.get("annotations") or {}).get(REVISION)
    complete = False
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if int(metadata.get("generation", 0)) > int(status.get("observedGeneration", 0)):
        message = "waiting for the deployment spec update to be observed"
    elif (conditions.get("Progressing") or {}).get("reason") == "ProgressDeadlineExceeded":
        message = (
            f"rollout failed: progress deadline exceeded ({conditions['Progressing'].get('message', '')})"
        )
    elif updated < replicas:
        message = f"{updated} of {replicas} replicas updated"
    elif current > updated:
        message = f"{current - updated} old replicas pending termination"
    elif available < updated:
        message = f"{available} of {updated} updated replicas available"
    else:
        complete = True
        message = f"rollout complete: {updated} of {replicas} replicas updated and available"
    return RolloutStatus(
        deployment=metadata["name"],
        namespace=metadata["namespace"],
        complete=complete,
        replicas=replicas,
        updated=updated,
        ready=ready,
        available=available,
        revision=int(revision) if revision and revision.isdigit() else None,
        message=message,
    )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


class _Target(NamedTuple):
    """One named object, checked by the policy: how to reach it and where it lives."""

    cluster: Cluster
    resource: Resource
    name: str
    namespace: str | None  # None: a cluster-scoped kind


class KubeOps:
    """The Kubernetes tools' logic over the kubeconfig's contexts, under the policy."""

    def __init__(self, connections: KubeConnections, settings: DeploymentSettings, policy: Policy) -> None:
        self.connections = connections
        self.settings = settings
        self.policy = policy

    def close(self) -> None:
        self.connections.close()

    # ------------------------------------------------------------------ checks

    def cluster(self, context: str | None) -> Cluster:
        """The clients for `context`; the current context is always allowed, others by policy."""
        if context is not None and context == self.connections.current_context():
            return self.connections.cluster(context)
        return self.connections.cluster(self.policy.check_context(context))

    def namespace(self, namespace: str, *, write: bool) -> str:
        return self.policy.check_namespace(namespace, write=write)

    def _target(
        self, kind: str, name: str, *, identity: Identity, namespace: str, context: str | None, write: bool
    ) -> _Target:
        """Check kind, name, context and namespace, in that order, before a request names the object."""
        self.policy.check_kind(kind, write=write, identity=identity)
        name = k8s_name(name)
        cluster = self.cluster(context)
        resource = cluster.resource(kind)
        ns = self.namespace(namespace, write=write) if resource.namespaced else None
        if write and resource.kind == "Namespace":
            self.namespace(name, write=True)  # changing a Namespace object is a write to that namespace
        return _Target(cluster, resource, name, ns)

    # ------------------------------------------------------------------ reads

    def contexts(self) -> list[KubeContext]:
        """The kubeconfig's contexts the policy allows (the current one always)."""
        allowed = self.policy.settings.k8s_contexts
        current = self.connections.current_context()
        return [
            c.model_copy(update={"current": c.name == current})
            for c in self.connections.contexts()
            if c.name == current or "*" in allowed or c.name in allowed
        ]

    def list_objects(
        self,
        kind: str,
        *,
        identity: Identity,
        namespace: str = "default",
        label_selector: str = "",
        context: str | None = None,
    ) -> list[ObjectSummary]:
        self.policy.check_kind(kind, write=False, identity=identity)
        selector = k8s_label_selector(label_selector) or None
        cluster = self.cluster(context)
        resource = cluster.resource(kind)
        ns = self.namespace(namespace, write=False) if resource.namespaced else None
        with kube_errors(f"list {resource.kind}"):
            result = to_dict(
                resource.get(namespace=ns, label_selector=selector, _request_timeout=cluster.timeout_s, **RAW)
            )
        rows = []
        for item in result.get("items") or []:
            item.setdefault("kind", resource.kind)
            metadata = item.get("metadata") or {}
            rows.append(
                ObjectSummary(
                    kind=resource.kind,
                    name=metadata.get("name", ""),
                    namespace=metadata.get("namespace"),
                    created=_iso(metadata.get("creationTimestamp")),
                    status=_summary_status(item),
                    labels=dict(metadata.get("labels") or {}),
                )
            )
        return sorted(rows, key=lambda row: row.name)

    def get_object(
        self,
        kind: str,
        name: str,
        *,
        identity: Identity,
        namespace: str = "default",
        context: str | None = None,
    ) -> KubeObject:
        cluster, resource, name, ns = self._target(
            kind, name, identity=identity, namespace=namespace, context=context, write=False
        )
        with kube_errors(f"{resource.kind} {name!r}"):
            obj = to_dict(resource.get(name=name, namespace=ns, _request_timeout=cluster.timeout_s, **RAW))
        obj = clean_object(obj)
        return KubeObject(
            kind=resource.kind,
            name=name,
            namespace=ns,
            resource_version=str(obj["metadata"].get("resourceVersion", "")),
            object=obj,
        )

    def events(
        self,
        *,
        namespace: str = "default",
        kind: str | None = None,
        name: str | None = None,
        context: str | None = None,
    ) -> list[KubeEvent]:
        ns = self.namespace(namespace, write=False)
        selectors = []
        if name is not None:
            selectors.append(f"involvedObject.name={k8s_name(name)}")
        if kind is not None:
            if not kind.isalpha():
                raise InvalidArgument(f"kind {kind[:40]!r} must be a kind name such as Deployment")
            selectors.append(f"involvedObject.kind={kind}")
        cluster = self.cluster(context)
        with kube_errors(f"events in {ns}"):
            raw = cluster.core.list_namespaced_event(
                ns, field_selector=",".join(selectors) or None, _request_timeout=cluster.timeout_s
            )
        rows = []
        for event in raw.items:
            last = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
            rows.append(
                KubeEvent(
                    type=event.type or "",
                    reason=event.reason or "",
                    message=redact(event.message or ""),
                    object=f"{event.involved_object.kind}/{event.involved_object.name}",
                    count=event.count or 1,
                    last_seen=_iso(last),
                )
            )
        return sorted(rows, key=lambda row: row.last_seen or "", reverse=True)

    def logs(
        self,
        pod: str,
        *,
        namespace: str = "default",
        container: str | None = None,
        tail: int = 200,
        since_s: int | None = None,
        max_chars: int = 20_000,
        context: str | None = None,
    ) -> PodLogs:
        pod = k8s_name(pod, what="pod")
        ns = self.namespace(namespace, write=False)
        if container is not None:
            container = k8s_label(container, what="container")
        if not 1 <= tail <= self.settings.log_tail_max:
            raise InvalidArgument(f"tail must be between 1 and {self.settings.log_tail_max} lines")
        if since_s is not None and since_s < 1:
            raise InvalidArgument("since_s must be a positive number of seconds")
        cluster = self.cluster(context)
        with kube_errors(f"logs of pod {pod!r}"):
            text = cluster.core.read_namespaced_pod_log(
                pod,
                ns,
                container=container,
                tail_lines=tail,
                since_seconds=since_s,
                _request_timeout=cluster.timeout_s,
            )
        text, cut = clip(redact(str(text)), max_chars)
        return PodLogs(pod=pod, container=container, text=text, lines=text.count("\n"), truncated=cut)

    def rollout_status(
        self, deployment: str, *, namespace: str = "default", context: str | None = None
    ) -> RolloutStatus:
        name = k8s_name(deployment, what="deployment")
        ns = self.namespace(namespace, write=False)
        cluster = self.cluster(context)
        with kube_errors(f"deployment {name!r}"):
            raw = cluster.apps.read_namespaced_deployment(name, ns, _request_timeout=cluster.timeout_s)
        return rollout_state(cluster.api.sanitize_for_serialization(raw))

    async def wait_rollout(
        self,
        deployment: str,
        *,
        namespace: str = "default",
        timeout_s: float | None = None,
        context: str | None = None,
        progress: RolloutProgress | None = None,
    ) -> RolloutStatus:
        """Poll until the rollout completes, fails or `timeout_s` passes; report each change."""
        limit = min(timeout_s or self.settings.rollout_timeout_s, self.settings.rollout_timeout_s)
        if limit <= 0:
            raise InvalidArgument("timeout_s must be positive")
        state = await anyio.to_thread.run_sync(
            lambda: self.rollout_status(deployment, namespace=namespace, context=context)
        )
        last_message = ""
        with anyio.move_on_after(limit):
            while True:
                if progress is not None and state.message != last_message:
                    await progress(state)
                    last_message = state.message
                if state.complete or state.message.startswith("rollout failed"):
                    return state
                await anyio.sleep(self.settings.rollout_poll_s)
                state = await anyio.to_thread.run_sync(
                    lambda: self.rollout_status(deployment, namespace=namespace, context=context)
                )
        return state.model_copy(update={"message": f"timed out after {limit:g}s: {state.message}"})

    # ------------------------------------------------------------------ writes

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
        self.policy.check_kind(canonical, write=True, identity=identity)
        name = k8s_name(name)
        ns = self.namespace(namespace, write=True)
        if not 0 <= replicas <= MAX_REPLICAS:
            raise InvalidArgument(f"replicas must be between 0 and {MAX_REPLICAS}")
        cluster = self.cluster(context)
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
                field_manager=self.settings.field_manager,
                _request_timeout=cluster.timeout_s,
            )
        return ScaleResult(
            kind=canonical, name=name, namespace=ns, previous_replicas=before, replicas=replicas
        )

    def rollout_restart(
        self, deployment: str, *, identity: Identity, namespace: str = "default", context: str | None = None
    ) -> RolloutAction:
        self.policy.check_kind("Deployment", write=True, identity=identity)
        name = k8s_name(deployment, what="deployment")
        ns = self.namespace(namespace, write=True)
        cluster = self.cluster(context)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        with kube_errors(f"restart deployment {name!r}"):
            cluster.apps.patch_namespaced_deployment(
                name, ns, body, field_manager=self.settings.field_manager, _request_timeout=cluster.timeout_s
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
        self.policy.check_kind("Deployment", write=True, identity=identity)
        name = k8s_name(deployment, what="deployment")
        ns = self.namespace(namespace, write=True)
        if revision is not None and revision < 1:
            raise InvalidArgument(
                "revision must be a positive revision number (see the ReplicaSets' revisions)"
            )
        cluster = self.cluster(context)
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
                field_manager=self.settings.field_manager,
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
        cluster, resource, name, ns = self._target(
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
