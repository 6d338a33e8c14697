"""`k8s_describe`: one object's whole story in one bounded view — the way `kubectl describe` helps.

The object's spec and conditions, its owner chain (controller references, nearest first, at most
five), the pods it owns or selects (at most 50) and the recent events about it and those pods (at
most 20). Everything is read with the caller's cluster identity, after the read policy checks.
"""

from __future__ import annotations

from typing import Any, Final

from servers.deployment.k8s_client import RAW, Cluster, get_or_none, kube_errors, to_dict
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.k8s_views import clean_object, iso_time, summary_status
from servers.deployment.models import KubeEvent
from servers.deployment.node_models import Condition, KubeDescription, RelatedPod
from shared.identity import Identity
from shared.redaction import redact_text

__all__ = ["describe"]

MAX_PODS: Final = 50
MAX_EVENTS: Final = 20
MAX_OWNERS: Final = 5


def describe(
    kube: KubeOps,
    kind: str,
    name: str,
    *,
    identity: Identity,
    namespace: str = "default",
    context: str | None = None,
) -> KubeDescription:
    """The description of one object (see the module docstring)."""
    cluster, resource, name, ns = kube.target(
        kind, name, identity=identity, namespace=namespace, context=context, write=False
    )
    with kube_errors(f"{resource.kind} {name!r}"):
        obj = to_dict(resource.get(name=name, namespace=ns, _request_timeout=cluster.timeout_s, **RAW))
    obj.setdefault("kind", resource.kind)
    clean = clean_object(obj)
    status = obj.get("status") or {}
    conditions = [
        Condition(
            type=str(c.get("type", "")),
            status=str(c.get("status", "")),
            reason=str(c.get("reason", "")),
            message=redact_text(str(c.get("message", ""))),
            last_transition=c.get("lastTransitionTime"),
        )
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    ]
    pods, pods_cut = _pods(cluster, obj, ns, resource.kind)
    events, events_cut = _events(cluster, ns, resource.kind, name, [p.name for p in pods])
    spec = clean.get("spec") if isinstance(clean.get("spec"), dict) else {}
    if resource.kind in ("Secret", "ConfigMap"):
        spec = {"keys": sorted((clean.get("data") or {}).keys())}
    return KubeDescription(
        kind=resource.kind,
        name=name,
        namespace=ns,
        status=summary_status(obj),
        labels=dict((obj.get("metadata") or {}).get("labels") or {}),
        conditions=conditions,
        owners=_owners(cluster, obj, ns),
        pods=pods,
        events=events,
        spec=spec or {},
        truncated=pods_cut or events_cut,
    )


def _owners(cluster: Cluster, obj: dict[str, Any], namespace: str | None) -> list[str]:
    chain: list[str] = []
    current = obj
    for _ in range(MAX_OWNERS):
        refs = (current.get("metadata") or {}).get("ownerReferences") or []
        ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
        if ref is None:
            break
        chain.append(f"{ref.get('kind')}/{ref.get('name')}")
        try:
            owner_resource = cluster.resource(str(ref.get("kind")), str(ref.get("apiVersion")))
            with kube_errors(f"owner {chain[-1]}"):
                found = get_or_none(
                    owner_resource,
                    str(ref.get("name")),
                    namespace if owner_resource.namespaced else None,
                    timeout_s=cluster.timeout_s,
                )
        except Exception:
            break
        if found is None:
            break
        current = found
    return chain


def _selector(obj: dict[str, Any], kind: str) -> str | None:
    spec = obj.get("spec") or {}
    if kind == "Service":
        labels = spec.get("selector")
    else:
        labels = (
            (spec.get("selector") or {}).get("matchLabels")
            if isinstance(spec.get("selector"), dict)
            else None
        )
    if not isinstance(labels, dict) or not labels:
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _pods(
    cluster: Cluster, obj: dict[str, Any], namespace: str | None, kind: str
) -> tuple[list[RelatedPod], bool]:
    if namespace is None:
        if kind != "Node":
            return [], False
        field, selector = f"spec.nodeName={obj['metadata']['name']}", None
    else:
        field, selector = None, _selector(obj, kind)
        if selector is None:
            return [], False
    with kube_errors("related pods"):
        if namespace is None:
            raw = cluster.core.list_pod_for_all_namespaces(
                field_selector=field, limit=MAX_PODS + 1, _request_timeout=cluster.timeout_s
            )
        else:
            raw = cluster.core.list_namespaced_pod(
                namespace, label_selector=selector, limit=MAX_PODS + 1, _request_timeout=cluster.timeout_s
            )
    pods = []
    items: list[Any] = list(raw.items)
    for pod in items[:MAX_PODS]:
        statuses = pod.status.container_statuses or []
        pods.append(
            RelatedPod(
                name=pod.metadata.name,
                phase=pod.status.phase or "Unknown",
                ready=f"{sum(1 for s in statuses if s.ready)}/{len(pod.spec.containers)}",
                restarts=sum(s.restart_count or 0 for s in statuses),
                node=pod.spec.node_name,
            )
        )
    return pods, len(items) > MAX_PODS


def _events(
    cluster: Cluster, namespace: str | None, kind: str, name: str, pods: list[str]
) -> tuple[list[KubeEvent], bool]:
    wanted = {(kind, name), *(("Pod", pod) for pod in pods)}
    with kube_errors("events"):
        if namespace is None:
            raw = cluster.core.list_event_for_all_namespaces(
                field_selector=f"involvedObject.kind={kind},involvedObject.name={name}",
                _request_timeout=cluster.timeout_s,
            )
        else:
            raw = cluster.core.list_namespaced_event(namespace, _request_timeout=cluster.timeout_s)
    rows = [
        KubeEvent(
            type=e.type or "",
            reason=e.reason or "",
            message=redact_text(e.message or ""),
            object=f"{e.involved_object.kind}/{e.involved_object.name}",
            count=e.count or 1,
            last_seen=iso_time(e.last_timestamp or e.event_time or e.metadata.creation_timestamp),
        )
        for e in raw.items
        if (e.involved_object.kind, e.involved_object.name) in wanted
    ]
    rows.sort(key=lambda row: row.last_seen or "", reverse=True)
    return rows[:MAX_EVENTS], len(rows) > MAX_EVENTS
