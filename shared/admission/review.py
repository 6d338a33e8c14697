"""`Admission`: every rule an object must pass before a write tool sends it to a cluster.

Four rules, all evaluated, all violations reported:

1. cluster scope — a cluster-scoped object (IngressClass, FlowSchema, ...) escapes the namespace
   allowlist, so only the admin role may send one unless `cluster_kinds` lists its kind. Whether a
   kind is cluster-scoped is not in the manifest: the caller says (`namespaced`, from discovery);
2. Pod Security Standards — every pod template, at the level of `AdmissionSettings.level_for`;
3. Secret access — a role that may not read Secrets may not mount them or put them in env
   either (image pull secrets excepted: the kubelet uses them, the pod never sees them);
4. service account — a pod of a non-admin role runs as `default` unless `service_accounts`
   lists the name.

A field of the wrong type or a misspelled field name inside a pod template is a violation too
(rule "manifest"): it cannot be checked, and must never pass as safe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from shared.admission._fields import Finding, Sink, quote
from shared.admission.pod_security import Level, evaluate, rule_name
from shared.admission.pod_view import read_pod
from shared.admission.references import secret_findings, service_account_findings
from shared.admission.settings import AdmissionSettings
from shared.admission.templates import find_templates
from shared.admission.violations import Violation
from shared.errors import InvalidArgument

__all__ = ["Admission", "object_label"]

_NAMESPACE: Final = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def object_label(obj: Mapping[str, Any], namespace: str | None) -> str:
    """`Kind namespace/name` (or `Kind name`), safe to show whatever the object holds."""
    kind = obj.get("kind")
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    kind_text = kind[:80] if isinstance(kind, str) and kind.isprintable() else "object"
    name_text = "(no name)"
    if isinstance(name, str):
        name_text = name[:253] if name.isprintable() else quote(name)
    return f"{kind_text} {namespace}/{name_text}" if namespace else f"{kind_text} {name_text}"


class Admission:
    """The configured admission rules; `check` one object at a time, at plan and at apply."""

    def __init__(self, settings: AdmissionSettings | None = None) -> None:
        self.settings = settings or AdmissionSettings()
        self._cluster_kinds = frozenset(self.settings.cluster_kinds)
        self._service_accounts = frozenset(self.settings.service_accounts)

    def level_for(self, namespace: str | None, *, is_admin: bool) -> Level:
        """The Pod Security Standards level for a pod in `namespace` (None: cluster-scoped owner)."""
        return self.settings.level_for(namespace, is_admin=is_admin)

    def check(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None,
        namespaced: bool,
        is_admin: bool,
        may_read_secrets: bool,
    ) -> list[Violation]:
        """Every violation of `obj`; empty when it may be sent.

        Args:
            obj: the object as it will be sent (a mapping from a hostile manifest).
            namespace: the namespace it will be created in, already allowed by the policy;
                ignored (may be None) when `namespaced` is False.
            namespaced: whether the kind is namespaced, as API discovery says.
            is_admin: whether the caller has the admin role.
            may_read_secrets: whether the caller's role may read Secrets.

        Raises:
            InvalidArgument: `obj` is not a mapping, or `namespace` is missing or malformed for a
                namespaced object.
        """
        if not isinstance(obj, Mapping):
            raise InvalidArgument("each object must be a mapping with apiVersion, kind and metadata")
        if namespaced:
            if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
                raise InvalidArgument(f"namespace {quote(namespace)} is not a valid namespace name")
        else:
            namespace = None
        subject = object_label(obj, namespace)
        violations = []
        if _is_list(obj):
            violations.append(Violation.of(subject, "manifest", _LIST))
        if not namespaced and not is_admin and not self._cluster_kind_allowed(obj):
            violations.append(Violation.of(subject, "cluster scope", _cluster_scoped(obj)))
        level = self.level_for(namespace, is_admin=is_admin)
        if level is Level.PRIVILEGED and may_read_secrets and is_admin:
            return violations  # nothing left to check: skip reading the pod templates at all
        sink = Sink()
        rule = rule_name(level)
        for template in find_templates(obj, sink):
            pod = read_pod(template, sink)
            violations += [Violation.of(subject, rule, finding) for finding in evaluate(pod, level)]
            if not may_read_secrets:
                violations += [Violation.of(subject, "Secret access", f) for f in secret_findings(pod)]
            if not is_admin:
                accounts = service_account_findings(pod, namespace, self._service_accounts)
                violations += [Violation.of(subject, "service account", f) for f in accounts]
        return [Violation.of(subject, "manifest", finding) for finding in sink.findings] + violations

    def _cluster_kind_allowed(self, obj: Mapping[str, Any]) -> bool:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if not isinstance(kind, str):
            return False
        group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
        return kind in self._cluster_kinds or (bool(group) and f"{kind}.{group}" in self._cluster_kinds)


_LIST: Final = Finding(
    "list",
    "List object",
    "a List is not an API object: split it into its items, and admit each one",
    ("items",),
)


def _is_list(obj: Mapping[str, Any]) -> bool:
    # kubectl expands `kind: List` (and `*List`) client-side; one that reaches here (say, nested
    # in another List) would carry objects past every check.
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and "items" in obj


def _cluster_scoped(obj: Mapping[str, Any]) -> Finding:
    kind = obj.get("kind")
    kind_text = quote(kind if isinstance(kind, str) else "")
    return Finding(
        "clusterScope",
        "cluster-scoped object",
        f"kind {kind_text} is cluster-scoped and escapes the namespace rules: only the admin role may "
        "send it unless [admission] cluster_kinds lists the kind",
        (),
    )
