"""A release's objects: read from helm's manifests, admitted one by one, diffed against the live ones.

Pure functions over the text helm prints (`helm get manifest`, the recorded render stream) and the
policy: no helm process is started here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from servers.deployment.helm_models import HelmChange
from servers.deployment.k8s_client import Cluster
from servers.deployment.plan_ops import object_diff
from shared.errors import InvalidArgument, PermissionDenied
from shared.identity import Identity
from shared.policy import Policy
from shared.safe_yaml import load_documents
from shared.validation import k8s_name

__all__ = [
    "ReleaseObject",
    "admit_objects",
    "check_removable",
    "diff_release",
    "parse_objects",
    "release_name",
]

POSTRENDER_ANNOTATION: Final = "postrenderer.helm.sh/postrender-filename"
HOOK_ANNOTATION: Final = "helm.sh/hook"


@dataclass(frozen=True)
class ReleaseObject:
    """One object of a release, admitted: where it goes and whether it is a hook."""

    kind: str
    name: str
    namespace: str | None
    hook: str | None
    body: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


def release_name(value: str) -> str:
    """A Helm release name: a DNS-1123 name of at most 53 characters."""
    name = k8s_name(value, what="release")
    if len(name) > 53:
        raise InvalidArgument("a release name has at most 53 characters")
    return name


def parse_objects(text: str, *, max_bytes: int, max_objects: int) -> list[dict[str, Any]]:
    """The mapping documents of a manifest stream, the post-render annotation removed."""
    docs = load_documents(text, max_bytes=max_bytes, max_documents=max_objects)
    objects = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidArgument("the chart rendered a document that is not an object")
        metadata = doc.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
            annotations = {k: v for k, v in metadata["annotations"].items() if k != POSTRENDER_ANNOTATION}
            if annotations:
                metadata["annotations"] = annotations
            else:
                del metadata["annotations"]
        objects.append(doc)
    return objects


def admit_objects(
    objects: list[dict[str, Any]],
    *,
    cluster: Cluster,
    policy: Policy,
    namespace: str,
    identity: Identity,
) -> list[ReleaseObject]:
    """Check every object as a write (kind, namespace, Pod Security Standards, Secret references,
    service accounts, cluster scope); the first refusal names the object and the control."""
    admitted = []
    for index, obj in enumerate(objects):
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        raw_metadata = obj.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        name = metadata.get("name")
        if not isinstance(kind, str) or not isinstance(api_version, str) or not isinstance(name, str):
            raise InvalidArgument(f"rendered object {index + 1} has no apiVersion, kind or metadata.name")
        policy.check_kind(kind, write=True, identity=identity)
        resource = cluster.resource(kind, api_version)
        ns: str | None = None
        if resource.namespaced:
            ns = policy.check_namespace(str(metadata.get("namespace") or namespace), write=True)
        policy.admit(obj, namespace=ns, namespaced=bool(resource.namespaced), identity=identity)
        annotations = metadata.get("annotations")
        hook = annotations.get(HOOK_ANNOTATION) if isinstance(annotations, dict) else None
        admitted.append(ReleaseObject(resource.kind, name, ns, str(hook) if hook else None, obj))
    return admitted


def check_removable(
    objects: list[dict[str, Any]], *, cluster: Cluster, policy: Policy, namespace: str, identity: Identity
) -> list[str]:
    """Labels of the objects an uninstall deletes, after the kind, namespace and scope checks."""
    labels = []
    for obj in objects:
        kind, api_version = str(obj.get("kind", "")), str(obj.get("apiVersion", ""))
        name = str((obj.get("metadata") or {}).get("name", ""))
        policy.check_kind(kind, write=True, identity=identity)
        resource = cluster.resource(kind, api_version)
        if resource.namespaced:
            ns = policy.check_namespace(
                str((obj.get("metadata") or {}).get("namespace") or namespace), write=True
            )
            labels.append(f"{resource.kind}/{ns}/{name}")
        elif identity.role != "admin":
            raise PermissionDenied(
                f"the release holds the cluster-scoped {resource.kind} {name!r}: only the admin role may "
                "delete it"
            )
        else:
            labels.append(f"{resource.kind}/{name}")
    return labels


def diff_release(
    live: list[ReleaseObject], planned: list[ReleaseObject], *, max_chars: int
) -> tuple[list[HelmChange], bool]:
    """Per object: create / update / unchanged / delete, with a unified diff, within `max_chars`."""
    remaining = {(o.kind, o.namespace, o.name): o for o in live if o.hook is None}
    budget, truncated = max_chars, False
    changes: list[HelmChange] = []
    pairs: list[tuple[ReleaseObject | None, ReleaseObject | None]] = [
        (remaining.pop((o.kind, o.namespace, o.name), None), o) for o in planned if o.hook is None
    ]
    pairs += [(old, None) for old in remaining.values()]
    for old, new in pairs:
        shown = new or old
        assert shown is not None
        diff = object_diff(old.body if old else None, new.body if new else None, shown.label)
        action = "delete" if new is None else "create" if old is None else "update" if diff else "unchanged"
        if len(diff) > budget:
            diff, truncated = diff[: max(budget, 0)] + "\n[diff cut: output budget]\n", True
        budget -= len(diff)
        changes.append(
            HelmChange(kind=shown.kind, name=shown.name, namespace=shown.namespace, action=action, diff=diff)
        )
    return changes, truncated


def locate_objects(objects: list[dict[str, Any]], *, cluster: Cluster, namespace: str) -> list[ReleaseObject]:
    """The release's live objects keyed like admitted ones (no policy check: they are only read)."""
    located = []
    for obj in objects:
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        kind, name = str(obj.get("kind", "")), str((metadata or {}).get("name", ""))
        try:
            resource = cluster.resource(kind, str(obj.get("apiVersion", "")) or None)
            kind, namespaced = resource.kind, bool(resource.namespaced)
        except InvalidArgument:  # a kind the cluster no longer serves: keep it, namespaced
            namespaced = True
        ns = str((metadata or {}).get("namespace") or namespace) if namespaced else None
        located.append(ReleaseObject(kind, name, ns, None, obj))
    return located
