"""The restricted-only Pod Security Standards controls, ports of policy/check_*.go like baseline."""

from __future__ import annotations

from typing import Final

from shared.admission._wording import Result, containers, jq, pl
from shared.admission.baseline import seccomp_explicit, seccomp_message
from shared.admission.pod_view import ALLOWED_VOLUME_SOURCES, PodView

__all__ = [
    "allow_privilege_escalation",
    "capabilities_restricted",
    "restricted_volumes",
    "run_as_non_root",
    "run_as_user",
    "seccomp_restricted",
]

_ALLOWED_VOLUMES: Final = frozenset(ALLOWED_VOLUME_SOURCES)


def allow_privilege_escalation(pod: PodView) -> Result:  # check_allowPrivilegeEscalation.go, _1_25
    if pod.windows:
        return None
    bad = [c for c in pod.containers if c.sc is None or c.sc.allow_privilege_escalation is not False]
    if not bad:
        return None
    detail = f"{containers([c.name for c in bad])} must set securityContext.allowPrivilegeEscalation=false"
    return (
        "allowPrivilegeEscalation != false",
        detail,
        [c.at("securityContext.allowPrivilegeEscalation") for c in bad],
    )


def capabilities_restricted(pod: PodView) -> Result:  # check_capabilities_restricted.go, _1_25
    if pod.windows:
        return None
    missing: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    paths: list[str] = []
    for c in pod.containers:
        caps = c.sc.capabilities if c.sc is not None else None
        if caps is None or "ALL" not in caps.drop:
            missing.append(c.name)
            paths.append(c.at("securityContext.capabilities.drop"))
        bad = [
            (path, cap) for path, cap in (caps.add if caps is not None else []) if cap != "NET_BIND_SERVICE"
        ]
        if bad:
            adding.append(c.name)
            forbidden.update(cap for _, cap in bad)
            paths.extend(path for path, _ in bad)
    details = [f'{containers(missing)} must set securityContext.capabilities.drop=["ALL"]'] if missing else []
    if adding:
        listed = jq(sorted(forbidden))
        details.append(f"{containers(adding)} must not include {listed} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details), paths) if details else None


def restricted_volumes(pod: PodView) -> Result:  # check_restrictedVolumes.go
    bad = [v for v in pod.volumes if not any(source in _ALLOWED_VOLUMES for source in v.sources)]
    if not bad:
        return None
    # `sources` follow the Go switch's order, so the first one is the type Go would name.
    types = sorted({v.sources[0] if v.sources else "unknown" for v in bad})
    detail = (
        f"{pl('volume', 'volumes', len(bad))} {jq(v.name for v in bad)} {pl('uses', 'use', len(bad))} "
        f"{pl('restricted volume type', 'restricted volume types', len(types))} {jq(types)}"
    )
    return (
        "restricted volume types",
        detail,
        [f"{v.path}.{v.sources[0]}" if v.sources else v.path for v in bad],
    )


def run_as_non_root(pod: PodView) -> Result:  # check_runAsNonRoot.go, runAsNonRoot1_35
    if pod.host_users is False:
        return None
    setters, paths, pod_true = [], [], False
    if pod.sc is not None and pod.sc.run_as_non_root is not None:
        if pod.sc.run_as_non_root:
            pod_true = True
        else:
            setters.append("pod")
            paths.append(pod.sc.at("runAsNonRoot"))
    explicit, implicit = [], []
    for c in pod.containers:
        value = c.sc.run_as_non_root if c.sc is not None else None
        if value is False:
            explicit.append(c.name)
            paths.append(c.at("securityContext.runAsNonRoot"))
        elif value is None and not pod_true:
            implicit.append(c.name)
            paths.append(c.at("securityContext.runAsNonRoot"))
    if explicit:
        setters.append(containers(explicit))
    details = [f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"] if setters else []
    if implicit:
        details.append(f"pod or {containers(implicit)} must set securityContext.runAsNonRoot=true")
    return ("runAsNonRoot != true", "; ".join(details), paths) if details else None


def run_as_user(pod: PodView) -> Result:  # check_runAsUser.go, runAsUser1_35
    if pod.host_users is False:
        return None
    setters, paths = [], []
    if pod.sc is not None and pod.sc.run_as_user == 0:
        setters.append("pod")
        paths.append(pod.sc.at("runAsUser"))
    bad = [c for c in pod.containers if c.sc is not None and c.sc.run_as_user == 0]
    if bad:
        setters.append(containers([c.name for c in bad]))
        paths += [c.at("securityContext.runAsUser") for c in bad]
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0", paths) if setters else None


def seccomp_restricted(pod: PodView) -> Result:  # check_seccompProfile_restricted.go, _1_25
    if pod.windows:
        return None
    setters, values, paths, pod_valid = seccomp_explicit(pod)
    details = [seccomp_message(setters, values)] if setters else []
    implicit = [] if pod_valid else [c for c in pod.containers if c.sc is None or c.sc.seccomp is None]
    if implicit:
        details.append(
            f"pod or {containers([c.name for c in implicit])} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"'
        )
        paths += [c.at("securityContext.seccompProfile.type") for c in implicit]
    return ("seccompProfile", "; ".join(details), paths) if details else None
