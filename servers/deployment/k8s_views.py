"""How the Kubernetes tools show objects: cleaned for reading, secrets replaced, a short status,
and where a Deployment's rollout stands. Pure functions over the API's JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from servers.deployment.models import RolloutStatus
from shared.redaction import redact_data, redacted_value

__all__ = [
    "LAST_APPLIED",
    "REVISION",
    "age",
    "clean_object",
    "iso_time",
    "rollout_state",
    "summary_columns",
    "summary_status",
]

REVISION: Final = "deployment.kubernetes.io/revision"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"


def clean_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without managedFields and last-applied annotations, every secret replaced.

    Secret data, env values and ConfigMap values under secret-like names become a stand-in that
    carries their length and a keyed digest (`shared.redaction.redacted_value`), so a diff still
    shows that such a value changed without showing it.
    """
    out = dict(obj)
    metadata = dict(out.get("metadata") or {})
    metadata.pop("managedFields", None)
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    out["metadata"] = metadata
    cleaned: dict[str, Any] = redact_data(out, mask=redacted_value)
    return cleaned


def summary_status(obj: dict[str, Any]) -> str | None:
    kind, status = obj.get("kind"), obj.get("status") or {}
    if kind == "Pod":
        for container in status.get("containerStatuses") or []:  # why it is not ready, as kubectl says
            state = container.get("state") or {}
            reason = (state.get("waiting") or state.get("terminated") or {}).get("reason")
            if reason and not container.get("ready"):
                return str(reason)
        return str(status.get("phase", "Unknown"))
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return f"{status.get('readyReplicas') or 0}/{(obj.get('spec') or {}).get('replicas', 0)} ready"
    if kind == "Node":
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        return "Ready" if ready and ready[0].get("status") == "True" else "NotReady"
    if kind == "Namespace":
        return str(status.get("phase", ""))
    return None


def summary_columns(obj: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """The `kubectl get` columns of an object: status, ready, restarts, age, node (None: no such)."""
    kind, spec, status = obj.get("kind"), obj.get("spec") or {}, obj.get("status") or {}
    ready: str | None = None
    restarts: int | None = None
    node: str | None = None
    if kind == "Pod":
        containers = status.get("containerStatuses") or []
        total = len(spec.get("containers") or []) or len(containers)
        ready = f"{sum(1 for c in containers if c.get('ready'))}/{total}"
        restarts = sum(int(c.get("restartCount") or 0) for c in containers)
        node = spec.get("nodeName")
    workload = kind in ("Deployment", "StatefulSet", "ReplicaSet")
    if workload:
        ready = f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 0)}"
    return {
        "status": None if workload else summary_status(obj),  # a workload's state is its ready count
        "ready": ready,
        "restarts": restarts,
        "age": age((obj.get("metadata") or {}).get("creationTimestamp"), now=now),
        "node": node,
    }


def age(created: Any, *, now: datetime | None = None) -> str | None:
    """kubectl's short age: 45s, 12m, 5h, 3d (None when the time is missing or unreadable)."""
    when = _parse_time(created)
    if when is None:
        return None
    seconds = max(int(((now or datetime.now(UTC)) - when).total_seconds()), 0)
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


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


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def iso_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)
