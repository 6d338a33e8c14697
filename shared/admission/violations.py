"""What admission refuses, and the one message that tells the caller all of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from shared.admission._fields import Finding

__all__ = ["Violation", "refusal_message"]

_MAX_OBJECTS: Final = 20
_MAX_PER_OBJECT: Final = 30
_MAX_PATHS: Final = 20
_MAX_CHARS: Final = 12_000
_PSS_URL: Final = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"


@dataclass(frozen=True, slots=True)
class Violation:
    """One refused control of one object.

    Attributes:
        object: the object, as `Kind namespace/name` (`Kind name` when cluster-scoped).
        rule: what refused it: `PodSecurity "restricted:latest"` (or baseline), "Secret access",
            "service account", "cluster scope", or "manifest" (a field that cannot be checked).
        control: the check's ID, e.g. "privileged", "runAsNonRoot", "secretReference".
        reason: the short reason, worded as the apiserver's PodSecurity admission words it.
        detail: which containers or fields, and what they must (not) set.
        paths: every offending field, e.g. `spec.template.spec.containers[0].securityContext.privileged`.
    """

    object: str
    rule: str
    control: str
    reason: str
    detail: str
    paths: tuple[str, ...]

    @property
    def path(self) -> str:
        """The first offending field ("" when the whole object is refused)."""
        return self.paths[0] if self.paths else ""

    @classmethod
    def of(cls, subject: str, rule: str, finding: Finding) -> Violation:
        return cls(subject, rule, finding.control, finding.reason, finding.detail, finding.paths)


def refusal_message(violations: Sequence[Violation]) -> str:
    """All violations in one message, grouped per object the way the apiserver words a refusal:

    `Deployment default/web is forbidden: violates PodSecurity "restricted:latest": privileged
    (container "c" must not set securityContext.privileged=true); fields: spec.template...`
    """
    if not violations:
        return "admission allows every object"
    by_object: dict[str, list[Violation]] = {}
    for violation in violations:
        by_object.setdefault(violation.object, []).append(violation)
    lines = [
        f"admission refused {len(by_object)} {'object' if len(by_object) == 1 else 'objects'}; "
        "nothing was sent:"
    ]
    for subject, found in list(by_object.items())[:_MAX_OBJECTS]:
        lines.append(_object_line(subject, found))
    if len(by_object) > _MAX_OBJECTS:
        lines.append(f"- ... and {len(by_object) - _MAX_OBJECTS} more objects")
    lines.append(_advice(violations))
    message = "\n".join(lines)
    if len(message) > _MAX_CHARS:
        message = message[: _MAX_CHARS - 40] + "\n[message cut: too many violations]"
    return message


def _object_line(subject: str, found: list[Violation]) -> str:
    by_rule: dict[str, list[Violation]] = {}
    for violation in found[:_MAX_PER_OBJECT]:
        by_rule.setdefault(violation.rule, []).append(violation)
    parts = []
    for rule, group in by_rule.items():
        listed = ", ".join(f"{v.reason} ({v.detail})" if v.detail else v.reason for v in group)
        parts.append(f"violates {rule}: {listed}" if rule.startswith("PodSecurity") else f"{rule}: {listed}")
    if len(found) > _MAX_PER_OBJECT:
        parts.append(f"and {len(found) - _MAX_PER_OBJECT} more violations")
    paths = list(dict.fromkeys(path for v in found for path in v.paths))
    shown = ", ".join(paths[:_MAX_PATHS]) + (
        f", ... ({len(paths) - _MAX_PATHS} more)" if len(paths) > _MAX_PATHS else ""
    )
    return f"- {subject} is forbidden: {'; '.join(parts)}" + (f"\n  fields: {shown}" if paths else "")


def _advice(violations: Sequence[Violation]) -> str:
    rules = {v.rule for v in violations}
    advice = []
    if any(rule.startswith("PodSecurity") for rule in rules):
        advice.append(f"set the fields as the Pod Security Standards require ({_PSS_URL})")
    if "manifest" in rules:
        advice.append("give every field the type and spelling of the Kubernetes API")
    if rules & {"Secret access", "service account", "cluster scope"}:
        advice.append("ask an admin for what this role may not do")
    return "To proceed: " + "; ".join(advice) + "."
