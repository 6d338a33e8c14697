"""Plan → apply: a reviewed change, bound to a hash of exactly what will be applied.

`plan` validates the manifests, checks them against the policy, runs a server-side dry-run of
each object, diffs the result against the live object and stores the bodies under a random id.
The bodies carry the live `resourceVersion` they were planned against, so `apply` is refused —
by this code, and atomically by the API server — if any object changed in between. Plans live in
memory, expire, and are used at most once.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import yaml

from servers.deployment.k8s_client import Cluster, get_or_none, kube_errors, to_dict
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.k8s_views import clean_object
from servers.deployment.models import AppliedObject, ApplyResult, Plan, PlannedChange
from shared.errors import InvalidArgument, NotFound, PermissionDenied
from shared.identity import Identity
from shared.image_gate import pod_images
from shared.safe_yaml import load_documents
from shared.validation import k8s_name, no_nul

# Fields the server owns; a manifest that sets them is cleaned before planning.
_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
# libyaml's dumper writes the same text as the pure-Python one, about five times faster.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_DIFF_NOISE = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


@dataclass(frozen=True)
class PlanPreview:
    """What the person is shown before a plan runs, when `[policy.confirm]` asks them."""

    summary: str = ""
    namespace: str | None = None
    destructive: bool = True

    @classmethod
    def of(cls, data: object) -> PlanPreview:
        """Read one back from a store (anything malformed reads as an unknown, destructive change)."""
        if not isinstance(data, dict):
            return cls()
        namespace = data.get("namespace")
        return cls(
            summary=str(data.get("summary", "")),
            namespace=namespace if isinstance(namespace, str) else None,
            destructive=data.get("destructive") is not False,
        )


@dataclass(frozen=True)
class StoredPlan:
    """What `apply` will send, and for whom, until when."""

    plan_id: str
    sha256: str
    context: str
    owner: str
    bodies: tuple[dict[str, Any], ...]
    expires_at: float
    preview: PlanPreview = PlanPreview()


def change_lines(changes: Iterable[Any], *, max_chars: int = 4_000) -> str:
    """Each planned change as `action Kind namespace/name` and its diff, within `max_chars`."""
    lines: list[str] = []
    for change in changes:
        if change.action == "unchanged":
            continue
        where = f"{change.namespace}/" if getattr(change, "namespace", None) else ""
        label = f"{change.kind} {where}{change.name}" if hasattr(change, "kind") else change.service
        lines.append(f"{change.action} {label}")
        diff = getattr(change, "diff", "")
        if diff:
            lines.append(diff.rstrip())
    text = "\n".join(lines) or "no object changes"
    return text if len(text) <= max_chars else text[:max_chars] + "\n[… cut: the plan's diff has the rest]"


def plan_hash(context: str, bodies: list[dict[str, Any]]) -> str:
    """sha256 of the context and the canonical JSON of every body, in order."""
    canonical = json.dumps({"context": context, "objects": bodies}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def unknown_message(plan_id: str) -> str:
    return f"plan {plan_id[:40]!r} is unknown or was already applied; run k8s_plan again"


def expired_message(plan_id: str) -> str:
    return f"plan {plan_id} has expired; run k8s_plan again and review the new diff"


class PlanStorage(Protocol):
    """Where plans wait between `k8s_plan` and `k8s_apply`: `PlanStore` or `RedisPlanStore`."""

    ttl_s: float
    max_plans: int
    clock: Callable[[], float]

    def add(
        self,
        *,
        sha256: str,
        context: str,
        owner: str,
        bodies: list[dict[str, Any]],
        preview: PlanPreview | None = None,
    ) -> StoredPlan: ...

    def take(self, plan_id: str, *, owner: str) -> StoredPlan: ...

    def peek(self, plan_id: str, *, owner: str) -> StoredPlan:
        """The live plan, left in place; the same refusals as `take`."""
        ...

    def close(self) -> None: ...


class PlanStore:
    """Plans in memory: bounded, expiring, single-use. Thread-safe."""

    def __init__(self, *, ttl_s: float, max_plans: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_plans = max_plans
        self.clock = clock
        self._plans: OrderedDict[str, StoredPlan] = OrderedDict()
        self._lock = threading.Lock()

    def add(
        self,
        *,
        sha256: str,
        context: str,
        owner: str,
        bodies: list[dict[str, Any]],
        preview: PlanPreview | None = None,
    ) -> StoredPlan:
        with self._lock:
            now = self.clock()
            for plan_id in [p for p, plan in self._plans.items() if plan.expires_at <= now]:
                del self._plans[plan_id]
            while len(self._plans) >= self.max_plans:
                self._plans.popitem(last=False)
            plan = StoredPlan(
                plan_id="plan-" + secrets.token_urlsafe(12),
                sha256=sha256,
                context=context,
                owner=owner,
                bodies=tuple(copy.deepcopy(bodies)),
                expires_at=now + self.ttl_s,
                preview=preview or PlanPreview(),
            )
            self._plans[plan.plan_id] = plan
            return plan

    def take(self, plan_id: str, *, owner: str) -> StoredPlan:
        """Remove and return a live plan; refuse unknown, expired and other callers' plans."""
        return self._get(plan_id, owner, remove=True)

    def peek(self, plan_id: str, *, owner: str) -> StoredPlan:
        """The live plan, left in place; the same refusals as `take`."""
        return self._get(plan_id, owner, remove=False)

    def _get(self, plan_id: str, owner: str, *, remove: bool) -> StoredPlan:
        no_nul(plan_id, what="plan_id")
        with self._lock:
            plan = self._plans.get(plan_id)
            if plan is None:
                raise NotFound(unknown_message(plan_id))
            if plan.owner != owner:
                raise PermissionDenied("this plan was made by another caller; run k8s_plan yourself")
            expired = plan.expires_at <= self.clock()
            if remove or expired:
                del self._plans[plan_id]
            if expired:
                raise InvalidArgument(expired_message(plan_id))
            return plan

    def __len__(self) -> int:
        return len(self._plans)

    def close(self) -> None:
        """Nothing to release: the plans go with the process."""


def parse_manifests(text: str, *, max_bytes: int, max_objects: int) -> list[dict[str, Any]]:
    """YAML or JSON documents (`---` separated, or a `List` / `<Kind>List`) → a list of object bodies.

    The text comes from a hostile caller: it is loaded with bounded work (`shared.safe_yaml`: aliases
    counted at their expanded size, nesting depth and node count bounded), and every body is a
    fresh copy (an alias never makes two objects share a subtree).
    """
    no_nul(text, what="manifests")
    documents = [
        d for d in load_documents(text, max_bytes=max_bytes, max_documents=max_objects) if d is not None
    ]
    objects: list[Any] = []
    for index, doc in enumerate(documents):
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
            items = doc["items"]
            if not isinstance(items, list):
                raise InvalidArgument(f"document {index + 1} ({kind[:60]}): items must be a list of objects")
            objects.extend(items)  # SecretList, RoleBindingList, ...: each item is checked as itself
        else:
            objects.append(doc)
        if len(objects) > max_objects:
            raise InvalidArgument(f"at most {max_objects} objects per plan; split the manifests")
    if not objects:
        raise InvalidArgument("no objects found in the manifests")
    bodies: list[dict[str, Any]] = []
    for index, obj in enumerate(objects):
        where = f"object {index + 1}"
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{where} is not a mapping with apiVersion, kind and metadata")
        for field in ("apiVersion", "kind"):
            if not isinstance(obj.get(field), str) or not obj[field]:
                raise InvalidArgument(f"{where} has no {field}")
        if obj["kind"].endswith("List") and "items" in obj:
            raise InvalidArgument(
                f"{where} ({obj['kind'][:60]}) is a list inside a list; send its items directly"
            )
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise InvalidArgument(
                f"{where} ({obj['kind'][:60]}) needs metadata.name (generateName is not supported)"
            )
        k8s_name(metadata["name"], what=f"{where} name")
        body = copy.deepcopy(obj)
        for field in _SERVER_FIELDS:
            body["metadata"].pop(field, None)
        body.pop("status", None)
        bodies.append(body)
    return bodies


def _for_diff(obj: dict[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    cleaned = clean_object(obj)
    cleaned.pop("status", None)
    metadata = cleaned.get("metadata") or {}
    for field in _DIFF_NOISE:
        metadata.pop(field, None)
    text: str = yaml.dump(cleaned, Dumper=_DUMPER, sort_keys=True, default_flow_style=False)
    return text.splitlines(keepends=True)


def object_diff(live: dict[str, Any] | None, planned: dict[str, Any] | None, label: str) -> str:
    """Unified diff between the live object and the planned one (None: absent; Secret values redacted)."""
    return "".join(
        difflib.unified_diff(
            _for_diff(live), _for_diff(planned), fromfile=f"live/{label}", tofile=f"planned/{label}"
        )
    )


class PlanOps:
    """`k8s_plan` and `k8s_apply` over `KubeOps`' connections and policy."""

    def __init__(self, kube: KubeOps, store: PlanStorage) -> None:
        self.kube = kube
        self.store = store

    def _target(
        self, cluster: Cluster, obj: dict[str, Any], *, namespace: str, identity: Identity
    ) -> tuple[Any, str | None]:
        """The API resource of `obj` and its namespace, after the policy checks (write) and admission."""
        policy = self.kube.policy
        policy.check_kind(obj["kind"], write=True, identity=identity)
        resource = cluster.resource(obj["kind"], obj["apiVersion"])
        metadata = obj["metadata"]
        if not resource.namespaced:
            metadata.pop("namespace", None)
            if resource.kind == "Namespace":
                policy.check_namespace(metadata["name"], write=True)
            policy.admit(obj, namespace=None, namespaced=False, identity=identity)
            return resource, None
        ns = policy.check_namespace(str(metadata.get("namespace") or namespace), write=True)
        metadata["namespace"] = ns
        policy.admit(obj, namespace=ns, namespaced=True, identity=identity)
        return resource, ns

    def plan(
        self,
        manifests: str,
        *,
        identity: Identity,
        namespace: str = "default",
        context: str | None = None,
        force_conflicts: bool = False,
        max_diff_chars: int = 20_000,
        image_scans: list[str] | None = None,
    ) -> Plan:
        settings = self.kube.settings
        objects = parse_manifests(
            manifests, max_bytes=settings.max_manifest_bytes, max_objects=settings.max_objects_per_plan
        )
        # Pinned by digest, so what is checked here is what the apply runs.
        self.kube.image_gate.require_pinned(
            dict.fromkeys(i for obj in objects for i in pod_images(obj)), tokens=image_scans
        )
        cluster = self.kube.cluster(context)
        changes: list[PlannedChange] = []
        bodies: list[dict[str, Any]] = []
        seen: set[tuple[str, str | None, str]] = set()
        diff_budget, truncated = max_diff_chars, False
        for obj in objects:
            resource, ns = self._target(cluster, obj, namespace=namespace, identity=identity)
            name = obj["metadata"]["name"]
            key = (resource.kind, ns, name)
            if key in seen:
                raise InvalidArgument(f"{resource.kind} {name!r} appears twice in the manifests")
            seen.add(key)
            label = f"{resource.kind}/{ns + '/' if ns else ''}{name}"
            with kube_errors(f"read {label}"):
                live = get_or_none(resource, name, ns, timeout_s=cluster.timeout_s)
            live_rv = str(live["metadata"]["resourceVersion"]) if live is not None else None
            body = copy.deepcopy(obj)
            if live_rv is not None:
                body["metadata"]["resourceVersion"] = live_rv
            with kube_errors(f"dry-run {label}"):
                result = to_dict(
                    resource.server_side_apply(
                        body=body,
                        name=name,
                        namespace=ns,
                        field_manager=settings.field_manager,
                        force_conflicts=force_conflicts,
                        dry_run="All",
                        _request_timeout=cluster.timeout_s,
                    )
                )
            diff = object_diff(live, result, label)
            action = "create" if live is None else ("update" if diff else "unchanged")
            if len(diff) > diff_budget:
                diff, truncated = diff[: max(diff_budget, 0)] + "\n[diff cut: output budget]\n", True
            diff_budget -= len(diff)
            changes.append(
                PlannedChange(
                    kind=resource.kind,
                    name=name,
                    namespace=ns,
                    action=action,
                    live_resource_version=live_rv,
                    diff=diff,
                )
            )
            bodies.append({"body": body, "force": force_conflicts, "apiVersion": obj["apiVersion"]})
        sha = plan_hash(cluster.context, bodies)
        namespaces = {c.namespace for c in changes if c.namespace}
        preview = PlanPreview(
            summary=change_lines(changes),
            namespace=namespaces.pop() if len(namespaces) == 1 else None,
            destructive=any(c.action not in ("create", "unchanged") for c in changes),
        )
        stored = self.store.add(
            sha256=sha, context=cluster.context, owner=identity.subject, bodies=bodies, preview=preview
        )
        expires = datetime.now(UTC) + timedelta(seconds=stored.expires_at - self.store.clock())
        return Plan(
            plan_id=stored.plan_id,
            sha256=sha,
            context=cluster.context,
            expires_at=expires.isoformat(timespec="seconds"),
            changes=changes,
            diff_truncated=truncated,
        )

    def apply(self, plan_id: str, *, identity: Identity) -> ApplyResult:
        stored = self.store.take(plan_id, owner=identity.subject)
        bodies = [copy.deepcopy(b) for b in stored.bodies]
        if plan_hash(stored.context, bodies) != stored.sha256:
            raise PermissionDenied("the stored plan does not match its hash; run k8s_plan again")
        cluster = self.kube.cluster(stored.context)
        targets = []
        for entry in bodies:
            body = entry["body"]
            # The policy is asked again: the caller's role may not be the planner's.
            resource, ns = self._target(
                cluster, body, namespace=body["metadata"].get("namespace", ""), identity=identity
            )
            name = body["metadata"]["name"]
            label = f"{resource.kind}/{ns + '/' if ns else ''}{name}"
            planned_rv = body["metadata"].get("resourceVersion")
            with kube_errors(f"read {label}"):
                live = get_or_none(resource, name, ns, timeout_s=cluster.timeout_s)
            live_rv = live["metadata"]["resourceVersion"] if live is not None else None
            if live_rv != planned_rv:
                raise InvalidArgument(
                    f"{label} changed since the plan (resourceVersion {planned_rv} -> {live_rv}); "
                    "nothing was applied; run k8s_plan again and review the new diff"
                )
            targets.append((resource, ns, name, label, entry))
        applied: list[AppliedObject] = []
        for resource, ns, name, label, entry in targets:
            with kube_errors(f"apply {label} (after {len(applied)} of {len(targets)} objects were applied)"):
                result = to_dict(
                    resource.server_side_apply(
                        body=entry["body"],
                        name=name,
                        namespace=ns,
                        field_manager=self.kube.settings.field_manager,
                        force_conflicts=entry["force"],
                        _request_timeout=cluster.timeout_s,
                    )
                )
            applied.append(
                AppliedObject(
                    kind=resource.kind,
                    name=name,
                    namespace=ns,
                    resource_version=str(result["metadata"]["resourceVersion"]),
                )
            )
        return ApplyResult(plan_id=stored.plan_id, sha256=stored.sha256, applied=applied)
