"""The Pod Security Standards, "latest" version, check for check as k8s.io/pod-security-admission.

Each check (modules `baseline` and `restricted`) ports one `policy/check_*.go` function at the
newest version the registry holds (its `VersionedCheck` with the highest `MinimumVersion`), with
the same forbidden reason and detail wording, so a refusal reads like the apiserver's own:

    violates PodSecurity "restricted:latest": privileged (container "c" must not set
    securityContext.privileged=true), ...

The order is the registry's: baseline IDs sorted, then restricted IDs sorted; at restricted the
four baseline checks a restricted one overrides are skipped (`OverrideCheckIDs`). Each result
also names the offending fields' paths. Two liberties, both stricter: where the Go check returns
only its first message (runAsNonRoot, seccompProfile), both are reported; and no check is
version-pinned (only "latest" exists here).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Final, TypeAlias

from shared.admission import baseline, restricted
from shared.admission._fields import Finding, Sink
from shared.admission._wording import Result
from shared.admission.pod_view import PodView, read_pod
from shared.admission.templates import PodTemplate
from shared.admission.violations import Violation

__all__ = [
    "BASELINE_CHECKS",
    "RESTRICTED_CHECKS",
    "VERSION",
    "Level",
    "check_pod_security",
    "evaluate",
    "rule_name",
]

VERSION: Final = "latest"


class Level(StrEnum):
    """A Pod Security Standards level: `privileged` < `baseline` < `restricted`."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK: Final = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}

Check: TypeAlias = Callable[[PodView], Result]

#: (check ID, function) in the registry's order: sorted IDs.
BASELINE_CHECKS: Final[tuple[tuple[str, Check], ...]] = (
    ("appArmorProfile", baseline.app_armor),
    ("capabilities_baseline", baseline.capabilities_baseline),
    ("hostNamespaces", baseline.host_namespaces),
    ("hostPathVolumes", baseline.host_path_volumes),
    ("hostPorts", baseline.host_ports),
    ("hostProbesAndHostLifecycle", baseline.host_probes),
    ("privileged", baseline.privileged),
    ("procMount", baseline.proc_mount_baseline),
    ("seLinuxOptions", baseline.se_linux),
    ("seccompProfile_baseline", baseline.seccomp_baseline),
    ("sysctls", baseline.sysctls),
    ("windowsHostProcess", baseline.host_process),
)
_OVERRIDDEN: Final = frozenset(
    {"capabilities_baseline", "hostPathVolumes", "procMount", "seccompProfile_baseline"}
)
RESTRICTED_CHECKS: Final[tuple[tuple[str, Check], ...]] = (
    *((check_id, check) for check_id, check in BASELINE_CHECKS if check_id not in _OVERRIDDEN),
    ("allowPrivilegeEscalation", restricted.allow_privilege_escalation),
    ("capabilities_restricted", restricted.capabilities_restricted),
    ("procMount_restricted", baseline.proc_mount),
    ("restrictedVolumes", restricted.restricted_volumes),
    ("runAsNonRoot", restricted.run_as_non_root),
    ("runAsUser", restricted.run_as_user),
    ("seccompProfile_restricted", restricted.seccomp_restricted),
)
_CHECKS: Final = {Level.PRIVILEGED: (), Level.BASELINE: BASELINE_CHECKS, Level.RESTRICTED: RESTRICTED_CHECKS}


def evaluate(pod: PodView, level: Level) -> list[Finding]:
    """Every control of `level` that `pod` violates, in the apiserver's order."""
    findings = []
    for check_id, check in _CHECKS[level]:
        result = check(pod)
        if result is not None:
            reason, detail, paths = result
            findings.append(Finding(check_id, reason, detail, tuple(paths)))
    return findings


def rule_name(level: Level) -> str:
    """`PodSecurity "restricted:latest"`, as the apiserver names the policy it enforces."""
    return f'PodSecurity "{level.value}:{VERSION}"'


def check_pod_security(template: PodTemplate, level: Level, *, subject: str = "pod") -> list[Violation]:
    """Check one pod template against `level`; malformed fields are violations too (rule "manifest").

    Args:
        template: a PodSpec and its metadata, e.g. from `pod_templates(obj)`.
        level: the Pod Security Standards level to enforce (`privileged` checks nothing).
        subject: how the violations name the object, e.g. "Deployment default/web".
    """
    if level is Level.PRIVILEGED:
        return []
    sink = Sink()
    pod = read_pod(template, sink)
    rule = rule_name(level)
    return [Violation.of(subject, "manifest", f) for f in sink.findings] + [
        Violation.of(subject, rule, f) for f in evaluate(pod, level)
    ]
