"""A PodSpec decoded into the few typed fields admission reads, as the apiserver would decode it.

`read_pod` walks a pod template once and keeps, for every container (init, regular, ephemeral —
the order of pod-security-admission's `visitContainers`), the security-relevant fields with
their paths, plus every Secret reference and service account name. `None` means "not set", as a
nil pointer does in Go; a value of the wrong type is recorded in the `Sink` and read as unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from shared.admission._fields import NO_FIELDS, Fields, Finding, Known, Sink, known, quote
from shared.admission.templates import PodTemplate

__all__ = [
    "ALLOWED_VOLUME_SOURCES",
    "OTHER_VOLUME_SOURCES",
    "Capabilities",
    "Container",
    "PodView",
    "SELinux",
    "SecretReference",
    "SecurityContext",
    "Volume",
    "read_pod",
]

#: Volume sources the restricted level allows (check_restrictedVolumes.go).
ALLOWED_VOLUME_SOURCES: Final = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
#: Every other `VolumeSource` field, in the order check_restrictedVolumes.go names them.
OTHER_VOLUME_SOURCES: Final = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)
_SOURCES: Final = ALLOWED_VOLUME_SOURCES + OTHER_VOLUME_SOURCES
# Volume plugins handed a Secret by name: source -> the field naming it.
_PLUGIN_SECRETS: Final = {
    "csi": "nodePublishSecretRef",
    "cephfs": "secretRef",
    "cinder": "secretRef",
    "flexVolume": "secretRef",
    "iscsi": "secretRef",
    "rbd": "secretRef",
    "scaleIO": "secretRef",
    "storageos": "secretRef",
}

_META: Final = known("annotations")
_POD: Final = known(
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostUsers",
    "os",
    "securityContext",
    "containers",
    "initContainers",
    "ephemeralContainers",
    "volumes",
    "serviceAccountName",
    "serviceAccount",
    "imagePullSecrets",
)
_POD_SC: Final = known(
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "windowsOptions",
    "sysctls",
)
_CONTAINER: Final = known(
    "name",
    "securityContext",
    "ports",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "env",
    "envFrom",
)
_CONTAINER_SC: Final = known(
    "privileged",
    "allowPrivilegeEscalation",
    "runAsNonRoot",
    "runAsUser",
    "capabilities",
    "seLinuxOptions",
    "procMount",
    "seccompProfile",
    "appArmorProfile",
    "windowsOptions",
)
_CAPS: Final = known("add", "drop")
_SELINUX: Final = known("type", "user", "role")
_TYPE: Final = known("type")
_NAME: Final = known("name")
_WINDOWS: Final = known("hostProcess")
_PORT: Final = known("hostPort")
_HANDLER: Final = known("httpGet", "tcpSocket")
_LIFECYCLE: Final = known("postStart", "preStop")
_HOST: Final = known("host")
_VOLUME: Final = known("name", *_SOURCES)
_ENV: Final = known("valueFrom")
_VALUE_FROM: Final = known("secretKeyRef")
_ENV_FROM: Final = known("secretRef")
_PROJECTION: Final = known("secret")
_SOURCE_FIELDS: Final[dict[str, Known]] = {
    "secret": known("secretName"),
    "azureFile": known("secretName"),
    "projected": known("sources"),
    **{source: known(name) for source, name in _PLUGIN_SECRETS.items()},
}


@dataclass(slots=True)
class SELinux:
    type: str
    user: str
    role: str


@dataclass(slots=True)
class Capabilities:
    path: str
    add: list[tuple[str, str]]  # (path, capability)
    drop: list[str]


@dataclass(slots=True)
class SecurityContext:
    """A pod's or a container's securityContext (the pod has no privileged, capabilities, ...)."""

    path: str
    privileged: bool | None = None
    allow_privilege_escalation: bool | None = None
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    capabilities: Capabilities | None = None
    se_linux: SELinux | None = None
    proc_mount: str | None = None
    seccomp: str | None = None  # seccompProfile.type; "" when the profile has no type
    app_armor: str | None = None  # appArmorProfile.type, likewise
    host_process: bool | None = None
    sysctls: list[tuple[str, str]] = field(default_factory=list)  # (path, name)

    def at(self, name: str) -> str:
        return f"{self.path}.{name}"


@dataclass(slots=True)
class Container:
    name: str
    path: str
    sc: SecurityContext | None
    host_ports: list[tuple[str, int]]  # (path, port) for every hostPort != 0
    probe_hosts: list[tuple[str, str]]  # (path, host) for every probe or lifecycle handler host

    def at(self, name: str) -> str:
        return f"{self.path}.{name}"


@dataclass(slots=True)
class Volume:
    name: str
    path: str
    sources: list[str]  # the VolumeSource fields that are set


@dataclass(frozen=True, slots=True)
class SecretReference:
    """A Secret a pod would read: `kind` is volume, projected, volumePlugin, env, envFrom or imagePull."""

    kind: str
    secret: str
    path: str
    owner: str  # 'container "web"', 'volume "data"' or 'pod'


@dataclass(slots=True)
class PodView:
    spec_path: str
    metadata_path: str
    annotations: dict[str, str]
    host_network: bool | None
    host_pid: bool | None
    host_ipc: bool | None
    host_users: bool | None
    windows: bool
    sc: SecurityContext | None
    containers: list[Container]
    volumes: list[Volume]
    secrets: list[SecretReference]
    service_accounts: list[tuple[str, str]]  # (path, name)

    def at(self, name: str) -> str:
        return f"{self.spec_path}.{name}"


def read_pod(template: PodTemplate, sink: Sink) -> PodView:
    """Decode `template` (bounded by `sink`'s budget), recording malformed fields in `sink`."""
    meta = Fields(template.metadata, template.metadata_path, sink, _META)
    spec = Fields(template.spec, template.spec_path, sink, _POD)
    os = spec.child("os", _NAME)
    pod_sc = spec.child("securityContext", _POD_SC)
    secrets: list[SecretReference] = []
    containers = [
        _container(entry, secrets)
        for kind in ("initContainers", "containers", "ephemeralContainers")
        for entry in spec.children(kind, _CONTAINER)
    ]
    for entry in spec.children("imagePullSecrets", _NAME):
        secrets.append(SecretReference("imagePull", entry.text("name") or "", entry.path, "pod"))
    return PodView(
        spec_path=template.spec_path,
        metadata_path=template.metadata_path,
        annotations=meta.string_map("annotations"),
        host_network=spec.flag("hostNetwork"),
        host_pid=spec.flag("hostPID"),
        host_ipc=spec.flag("hostIPC"),
        host_users=spec.flag("hostUsers"),
        windows=os is not None and os.text("name") == "windows",
        sc=_security_context(pod_sc, pod=True) if pod_sc is not None else None,
        containers=containers,
        volumes=[_volume(entry, secrets) for entry in spec.children("volumes", _VOLUME)],
        secrets=secrets,
        service_accounts=[
            (spec.at(name), value)
            for name in ("serviceAccountName", "serviceAccount")
            if (value := spec.text(name))
        ],
    )


def _security_context(sc: Fields, *, pod: bool) -> SecurityContext:
    result = SecurityContext(
        sc.path, run_as_non_root=sc.flag("runAsNonRoot"), run_as_user=sc.number("runAsUser")
    )
    if (se := sc.child("seLinuxOptions", _SELINUX)) is not None:
        result.se_linux = SELinux(se.text("type") or "", se.text("user") or "", se.text("role") or "")
    if (seccomp := sc.child("seccompProfile", _TYPE)) is not None:
        result.seccomp = seccomp.text("type") or ""
    if (apparmor := sc.child("appArmorProfile", _TYPE)) is not None:
        result.app_armor = apparmor.text("type") or ""
    if (windows := sc.child("windowsOptions", _WINDOWS)) is not None:
        result.host_process = windows.flag("hostProcess")
    if pod:
        result.sysctls = [(entry.path, entry.text("name") or "") for entry in sc.children("sysctls", _NAME)]
        return result
    result.privileged = sc.flag("privileged")
    result.allow_privilege_escalation = sc.flag("allowPrivilegeEscalation")
    result.proc_mount = sc.text("procMount")
    if (caps := sc.child("capabilities", _CAPS)) is not None:
        result.capabilities = Capabilities(
            caps.path, list(caps.strings("add")), [value for _, value in caps.strings("drop")]
        )
    return result


def _container(entry: Fields, secrets: list[SecretReference]) -> Container:
    name = entry.text("name") or ""
    owner = f"container {quote(name)}"
    sc = entry.child("securityContext", _CONTAINER_SC)
    host_ports = [
        (port.at("hostPort"), number)
        for port in entry.children("ports", _PORT)
        if (number := port.number("hostPort"))
    ]
    handlers = [entry.child(probe, _HANDLER) for probe in ("livenessProbe", "readinessProbe", "startupProbe")]
    if (lifecycle := entry.child("lifecycle", _LIFECYCLE)) is not None:
        handlers += [lifecycle.child(hook, _HANDLER) for hook in ("postStart", "preStop")]
    probe_hosts = [
        (action.at("host"), host)
        for handler in handlers
        if handler is not None
        for kind in ("httpGet", "tcpSocket")
        if (action := handler.child(kind, _HOST)) is not None and (host := action.text("host"))
    ]
    for env in entry.children("env", _ENV):
        value_from = env.child("valueFrom", _VALUE_FROM)
        ref = value_from.child("secretKeyRef", _NAME) if value_from is not None else None
        if ref is not None:
            secrets.append(SecretReference("env", ref.text("name") or "", ref.path, owner))
    for env_from in entry.children("envFrom", _ENV_FROM):
        if (ref := env_from.child("secretRef", _NAME)) is not None:
            secrets.append(SecretReference("envFrom", ref.text("name") or "", ref.path, owner))
    return Container(
        name=name,
        path=entry.path,
        sc=_security_context(sc, pod=False) if sc is not None else None,
        host_ports=host_ports,
        probe_hosts=probe_hosts,
    )


def _volume(entry: Fields, secrets: list[SecretReference]) -> Volume:
    name = entry.text("name") or ""
    owner = f"volume {quote(name)}"
    sources = [source for source in _SOURCES if entry.raw(source) is not None]
    for source in sources:
        plugin = entry.child(source, _SOURCE_FIELDS.get(source, NO_FIELDS))
        if plugin is None:
            continue
        if source == "secret":
            secrets.append(SecretReference("volume", plugin.text("secretName") or "", plugin.path, owner))
        elif source == "projected":
            for projection in plugin.children("sources", _PROJECTION):
                if (ref := projection.child("secret", _NAME)) is not None:
                    secrets.append(SecretReference("projected", ref.text("name") or "", ref.path, owner))
        elif source == "azureFile":
            secrets.append(
                SecretReference("volumePlugin", plugin.text("secretName") or "", plugin.path, owner)
            )
        elif (field_name := _PLUGIN_SECRETS.get(source)) is not None and (
            ref := plugin.child(field_name, _NAME)
        ) is not None:
            secrets.append(SecretReference("volumePlugin", ref.text("name") or "", ref.path, owner))
    if len(sources) > 1:
        listed = ", ".join(quote(source) for source in sources)
        entry.sink.findings.append(
            Finding(
                "volumeSource",
                "more than one volume source",
                f"volume {quote(name)} sets {listed}; a volume has exactly one source",
                tuple(entry.at(source) for source in sources),
            )
        )
    return Volume(name=name, path=entry.path, sources=sources)
