"""The baseline Pod Security Standards controls, each a port of one policy/check_*.go function.

Every function takes the decoded pod and returns `(reason, detail, paths)` or None; the reason
and detail are the Go check's `ForbiddenReason` and `ForbiddenDetail`, word for word.
"""

from __future__ import annotations

from typing import Final

from shared.admission._fields import quote, segment
from shared.admission._wording import Result, containers, jq, pl
from shared.admission.pod_view import PodView, SecurityContext

__all__ = [
    "app_armor",
    "capabilities_baseline",
    "host_namespaces",
    "host_path_volumes",
    "host_ports",
    "host_probes",
    "host_process",
    "privileged",
    "proc_mount",
    "proc_mount_baseline",
    "se_linux",
    "seccomp_baseline",
    "seccomp_explicit",
    "seccomp_message",
    "sysctls",
]

# capabilities_allowed_1_0
_CAPABILITIES: Final = frozenset(
    [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ]
)
# selinuxAllowedTypes1_31
_SELINUX_TYPES: Final = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
# sysctlsAllowedV1Dot37
_SYSCTLS: Final = frozenset(
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    ]
)
SECCOMP_TYPES: Final = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_TYPES: Final = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_PREFIX: Final = "container.apparmor.security.beta.kubernetes.io/"


def app_armor(pod: PodView) -> Result:  # check_appArmorProfile.go, appArmorProfile_1_0
    setters: list[str] = []
    values: set[str] = set()
    paths: list[str] = []
    if pod.sc is not None and pod.sc.app_armor is not None and pod.sc.app_armor not in _APPARMOR_TYPES:
        setters.append("pod")
        values.add(pod.sc.app_armor)
        paths.append(pod.sc.at("appArmorProfile.type"))
    names = []
    for c in pod.containers:
        if c.sc is not None and c.sc.app_armor is not None and c.sc.app_armor not in _APPARMOR_TYPES:
            names.append(c.name)
            values.add(c.sc.app_armor)
            paths.append(c.sc.at("appArmorProfile.type"))
    if names:
        setters.append(containers(names))
    annotations = []
    for key, value in pod.annotations.items():
        if key.startswith(_APPARMOR_PREFIX) and not (
            value in ("", "runtime/default") or value.startswith("localhost/")
        ):
            annotations.append(f"{segment(key)}={quote(value)}")
            paths.append(f"{pod.metadata_path}.annotations[{segment(key)}]")
    shown = [quote(v) for v in sorted(values)] + [f'"{a}"' for a in sorted(annotations)]
    if annotations:
        setters.append(pl("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    reason = pl("forbidden AppArmor profile", "forbidden AppArmor profiles", len(shown))
    return reason, f"{' and '.join(setters)} must not set AppArmor profile type to {', '.join(shown)}", paths


def capabilities_baseline(pod: PodView) -> Result:  # check_capabilities_baseline.go
    names: list[str] = []
    added: set[str] = set()
    paths: list[str] = []
    for c in pod.containers:
        if c.sc is None or c.sc.capabilities is None:
            continue
        bad = [(path, cap) for path, cap in c.sc.capabilities.add if cap not in _CAPABILITIES]
        if bad:
            names.append(c.name)
            added.update(cap for _, cap in bad)
            paths.extend(path for path, _ in bad)
    if not names:
        return None
    detail = f"{containers(names)} must not include {jq(sorted(added))} in securityContext.capabilities.add"
    return "non-default capabilities", detail, paths


def host_namespaces(pod: PodView) -> Result:  # check_hostNamespaces.go
    fields = (("hostNetwork", pod.host_network), ("hostPID", pod.host_pid), ("hostIPC", pod.host_ipc))
    shared = [name for name, value in fields if value]
    if not shared:
        return None
    return "host namespaces", ", ".join(f"{name}=true" for name in shared), [pod.at(name) for name in shared]


def host_path_volumes(pod: PodView) -> Result:  # check_hostPathVolumes.go
    bad = [v for v in pod.volumes if "hostPath" in v.sources]
    if not bad:
        return None
    names = [v.name for v in bad]
    return (
        "hostPath volumes",
        f"{pl('volume', 'volumes', len(names))} {jq(names)}",
        [f"{v.path}.hostPath" for v in bad],
    )


def host_ports(pod: PodView) -> Result:  # check_hostPorts.go
    bad = [c for c in pod.containers if c.host_ports]
    if not bad:
        return None
    ports = sorted({str(port) for c in bad for _, port in c.host_ports})  # sets.String.List(): as strings
    detail = (
        f"{containers([c.name for c in bad])} {pl('uses', 'use', len(bad))} "
        f"{pl('hostPort', 'hostPorts', len(ports))} {', '.join(ports)}"
    )
    return "hostPort", detail, [path for c in bad for path, _ in c.host_ports]


def host_probes(pod: PodView) -> Result:  # check_hostProbesAndhostLifecycle.go, V1Dot34
    bad = [c for c in pod.containers if c.probe_hosts]
    if not bad:
        return None
    names = sorted({c.name for c in bad})
    hosts = sorted({host for c in bad for _, host in c.probe_hosts})
    detail = (
        f"{containers(names)} {pl('uses', 'use', len(names))} "
        f"{pl('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} {jq(hosts)}"
    )
    return "probe or lifecycle host", detail, [path for c in bad for path, _ in c.probe_hosts]


def privileged(pod: PodView) -> Result:  # check_privileged.go
    bad = [c for c in pod.containers if c.sc is not None and c.sc.privileged]
    if not bad:
        return None
    detail = f"{containers([c.name for c in bad])} must not set securityContext.privileged=true"
    return "privileged", detail, [c.sc.at("privileged") for c in bad if c.sc is not None]


def proc_mount(pod: PodView) -> Result:  # check_procMount_baseline.go, procMount_1_0
    bad = [c for c in pod.containers if c.sc is not None and c.sc.proc_mount not in (None, "Default")]
    if not bad:
        return None
    types = sorted({c.sc.proc_mount for c in bad if c.sc is not None and c.sc.proc_mount is not None})
    detail = f"{containers([c.name for c in bad])} must not set securityContext.procMount to {jq(types)}"
    return "procMount", detail, [c.sc.at("procMount") for c in bad if c.sc is not None]


def proc_mount_baseline(pod: PodView) -> Result:  # procMount1_35baseline: relaxed in a user namespace
    return None if pod.host_users is False else proc_mount(pod)


def se_linux(pod: PodView) -> Result:  # check_seLinuxOptions.go, seLinuxOptions1_31
    bad_types: set[str] = set()
    paths: list[str] = []
    seen = {"user": False, "role": False}

    def forbidden(sc: SecurityContext | None) -> bool:
        opts = sc.se_linux if sc is not None else None
        if sc is None or opts is None:
            return False
        before = len(paths)
        if opts.type not in _SELINUX_TYPES:
            bad_types.add(opts.type)
            paths.append(sc.at("seLinuxOptions.type"))
        for name, value in (("user", opts.user), ("role", opts.role)):
            if value:
                seen[name] = True
                paths.append(sc.at(f"seLinuxOptions.{name}"))
        return len(paths) > before

    setters = ["pod"] if forbidden(pod.sc) else []
    names = [c.name for c in pod.containers if forbidden(c.sc)]
    if names:
        setters.append(containers(names))
    if not setters:
        return None
    data = [f"{pl('type', 'types', len(bad_types))} {jq(sorted(bad_types))}"] if bad_types else []
    data += [f"{name} may not be set" for name, value in seen.items() if value]
    detail = f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"
    return "seLinuxOptions", detail, paths


def seccomp_explicit(pod: PodView) -> tuple[list[str], set[str], list[str], bool]:
    """Setters of a bad seccompProfile.type, the bad values, their paths, and pod-level validity."""
    setters: list[str] = []
    values: set[str] = set()
    paths: list[str] = []
    pod_valid = False
    if pod.sc is not None and pod.sc.seccomp is not None:
        if pod.sc.seccomp in SECCOMP_TYPES:
            pod_valid = True
        else:
            setters.append("pod")
            values.add(pod.sc.seccomp)
            paths.append(pod.sc.at("seccompProfile.type"))
    names = []
    for c in pod.containers:
        if c.sc is not None and c.sc.seccomp is not None and c.sc.seccomp not in SECCOMP_TYPES:
            names.append(c.name)
            values.add(c.sc.seccomp)
            paths.append(c.sc.at("seccompProfile.type"))
    if names:
        setters.append(containers(names))
    return setters, values, paths, pod_valid


def seccomp_message(setters: list[str], values: set[str]) -> str:
    return f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {jq(sorted(values))}"


def seccomp_baseline(pod: PodView) -> Result:  # check_seccompProfile_baseline.go, _1_19
    setters, values, paths, _ = seccomp_explicit(pod)
    return ("seccompProfile", seccomp_message(setters, values), paths) if setters else None


def sysctls(pod: PodView) -> Result:  # check_sysctls.go, sysctlsV1Dot37
    bad = [(path, name) for path, name in (pod.sc.sysctls if pod.sc else []) if name not in _SYSCTLS]
    if not bad:
        return None
    return (
        "forbidden sysctls",
        ", ".join(segment(name) for _, name in bad),
        [f"{path}.name" for path, _ in bad],
    )


def host_process(pod: PodView) -> Result:  # check_windowsHostProcess.go
    setters, paths = [], []
    if pod.sc is not None and pod.sc.host_process:
        setters.append("pod")
        paths.append(pod.sc.at("windowsOptions.hostProcess"))
    bad = [c for c in pod.containers if c.sc is not None and c.sc.host_process]
    if bad:
        setters.append(containers([c.name for c in bad]))
        paths += [c.sc.at("windowsOptions.hostProcess") for c in bad if c.sc is not None]
    if not setters:
        return None
    return (
        "hostProcess",
        f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true",
        paths,
    )
