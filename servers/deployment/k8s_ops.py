"""Kubernetes domain logic: the policy checks every call passes, the reads and the rollout wait.

Changes (scale, restart, rollback, delete) are `k8s_changes.py`; plan/apply `plan_ops.py`.

Every call names its context (or uses the current one), is checked against the policy
(context, namespace, kind) before it reaches the API server, and blocks: the server runs it
through `anyio.to_thread`. `wait_rollout` is the one async function: it polls with bounded sleeps
and honours cancellation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

import anyio
import anyio.to_thread

from servers.deployment.impersonation import Impersonation, impersonation_for
from servers.deployment.k8s_client import RAW, Cluster, KubeConnections, kube_errors, to_dict
from servers.deployment.k8s_views import clean_object, iso_time, rollout_state, summary_columns
from servers.deployment.models import (
    KubeContext,
    KubeEvent,
    KubeObject,
    ObjectSummary,
    PodLogs,
    RolloutStatus,
)
from servers.deployment.settings import DeploymentSettings
from shared.calls import current_identity
from shared.errors import InvalidArgument
from shared.identity import Identity
from shared.image_gate import ImageGate
from shared.output import clip
from shared.policy import Policy
from shared.redaction import redact_text
from shared.validation import k8s_label, k8s_label_selector, k8s_name

if TYPE_CHECKING:
    from kubernetes.dynamic.resource import Resource

__all__ = ["KubeOps", "RolloutProgress", "clean_object", "rollout_state"]

RolloutProgress = Callable[[RolloutStatus], Awaitable[None]]


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
        self.image_gate = ImageGate(settings.image_gate)

    def close(self) -> None:
        self.connections.close()

    # ------------------------------------------------------------------ checks

    def acting_as(self, identity: Identity | None = None) -> Impersonation | None:
        """Who requests act as at the cluster: the caller, when impersonation is configured."""
        if identity is None:
            try:
                identity = current_identity()
            except RuntimeError:  # outside a tool call (benchmarks, setup): the kubeconfig's user
                return None
        return impersonation_for(identity, self.settings.impersonation)

    def cluster(self, context: str | None, identity: Identity | None = None) -> Cluster:
        """The clients for `context` (the current one always allowed, others by policy), acting as the
        caller when impersonation is configured."""
        who = self.acting_as(identity)
        if context is not None and context == self.connections.current_context():
            return self.connections.cluster(context, who)
        return self.connections.cluster(self.policy.check_context(context), who)

    def namespace(self, namespace: str, *, write: bool) -> str:
        return self.policy.check_namespace(namespace, write=write)

    def target(
        self, kind: str, name: str, *, identity: Identity, namespace: str, context: str | None, write: bool
    ) -> _Target:
        """Check kind, name, context and namespace, in that order, before a request names the object."""
        self.policy.check_kind(kind, write=write, identity=identity)
        name = k8s_name(name)
        cluster = self.cluster(context, identity)
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
        cluster = self.cluster(context, identity)
        resource = cluster.resource(kind)
        ns = self.namespace(namespace, write=False) if resource.namespaced else None
        with kube_errors(f"list {resource.kind}"):
            result = to_dict(
                resource.get(namespace=ns, label_selector=selector, _request_timeout=cluster.timeout_s, **RAW)
            )
        rows = []
        now = datetime.now(UTC)
        for item in result.get("items") or []:
            item.setdefault("kind", resource.kind)
            metadata = item.get("metadata") or {}
            rows.append(
                ObjectSummary(
                    kind=resource.kind,
                    name=metadata.get("name", ""),
                    namespace=metadata.get("namespace"),
                    created=iso_time(metadata.get("creationTimestamp")),
                    labels=dict(metadata.get("labels") or {}),
                    **summary_columns(item, now=now),
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
        cluster, resource, name, ns = self.target(
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
                    message=redact_text(event.message or ""),
                    object=f"{event.involved_object.kind}/{event.involved_object.name}",
                    count=event.count or 1,
                    last_seen=iso_time(last),
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
        text, cut = clip(redact_text(str(text)), max_chars)
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
