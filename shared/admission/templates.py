"""Where an object carries pods: every pod template, with its metadata and field paths.

The apiserver's PodSecurity admission knows the built-in kinds (`DefaultPodSpecExtractor`). Here
any kind counts: custom resources that embed a pod template where the built-ins do are checked
too, because their controllers create the pods later, past this check:

| where                                 | kinds                                                    |
|---------------------------------------|----------------------------------------------------------|
| `spec` (+ `metadata`)                 | Pod; any kind whose `spec` has `containers`              |
| `template.spec`                       | PodTemplate                                              |
| `spec.template.spec`                  | Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,     |
|                                       | ReplicationController; any other kind                    |
| `spec.jobTemplate.spec.template.spec` | CronJob; any other kind                                  |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from shared.admission._fields import NO_FIELDS, Fields, Known, Sink, known

__all__ = ["WORKLOAD_KINDS", "PodTemplate", "find_templates", "pod_templates"]

#: Built-in kinds whose pod template is required where the table says; a malformed one is refused.
WORKLOAD_KINDS: Final = frozenset(
    k.casefold()
    for k in (
        "Pod",
        "PodTemplate",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicationController",
    )
)

_OBJECT: Final = known("kind", "metadata", "spec", "template")
_SPEC: Final = known("template", "jobTemplate", "containers")
_TEMPLATE: Final = known("metadata", "spec")
_JOB_TEMPLATE: Final = known("spec")
_JOB_SPEC: Final = known("template")


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """One PodSpec inside an object, its pod metadata, and where both sit in the object."""

    spec_path: str
    metadata_path: str
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)


def pod_templates(obj: Any) -> list[PodTemplate]:
    """Every pod template `obj` carries (see the module table); `[]` for anything else."""
    if not isinstance(obj, Mapping):
        return []
    return find_templates(obj, Sink())


def find_templates(obj: Mapping[str, Any], sink: Sink) -> list[PodTemplate]:
    """`pod_templates`, recording malformed or misspelled template fields in `sink`."""
    root = Fields(obj, "", sink, _OBJECT)
    kind = obj.get("kind")
    folded = kind.casefold() if isinstance(kind, str) else ""
    strict = folded in WORKLOAD_KINDS
    found: list[PodTemplate] = []
    if folded == "pod":
        spec = _child(root, "spec", strict=True)
        if spec is not None:
            found.append(PodTemplate(spec.path, "metadata", spec.data, _mapping(root, "metadata", strict)))
        return found
    if folded == "podtemplate":
        _add_template(found, _child(root, "template", strict=True, fields=_TEMPLATE), strict=True)
    spec = _child(root, "spec", strict=strict, fields=_SPEC)
    if spec is None:
        return found
    _add_template(found, _child(spec, "template", strict=strict, fields=_TEMPLATE), strict=strict)
    job = _child(spec, "jobTemplate", strict=strict, fields=_JOB_TEMPLATE)
    job_spec = _child(job, "spec", strict=strict, fields=_JOB_SPEC) if job is not None else None
    if job_spec is not None:
        _add_template(found, _child(job_spec, "template", strict=strict, fields=_TEMPLATE), strict=strict)
    if "containers" in spec.data:
        found.append(PodTemplate(spec.path, "metadata", spec.data, _mapping(root, "metadata", strict)))
    return found


def _child(parent: Fields, name: str, *, strict: bool, fields: Known = NO_FIELDS) -> Fields | None:
    # A custom resource may use `template` for something that is not a pod: only a built-in
    # workload kind is refused for a malformed one.
    if strict:
        return parent.child(name, fields)
    value = parent.raw(name)
    return Fields(value, parent.at(name), parent.sink, fields) if isinstance(value, Mapping) else None


def _mapping(parent: Fields, name: str, strict: bool) -> Mapping[str, Any]:
    value = _child(parent, name, strict=strict)
    return value.data if value is not None else {}


def _add_template(found: list[PodTemplate], template: Fields | None, *, strict: bool) -> None:
    if template is None:
        return
    spec = _child(template, "spec", strict=strict)
    if spec is not None:
        found.append(
            PodTemplate(spec.path, template.at("metadata"), spec.data, _mapping(template, "metadata", strict))
        )
