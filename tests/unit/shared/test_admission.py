"""Admission of Kubernetes objects: Pod Security Standards, Secret references, service accounts and
cluster scope, against what a hostile operator-tier caller would send."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from shared.admission import (
    Admission,
    AdmissionSettings,
    Level,
    PodTemplate,
    Violation,
    check_pod_security,
    object_label,
    pod_templates,
    refusal_message,
    secret_references,
)
from shared.admission._fields import MAX_ENTRIES
from shared.errors import InvalidArgument

# --------------------------------------------------------------------------- builders


def container(name: str = "app", **fields: Any) -> dict[str, Any]:
    """A container that passes the restricted level; `fields` replace or add keys."""
    body: dict[str, Any] = {
        "name": name,
        "image": "registry.example.com/app:1.0",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    body.update(fields)
    return body


def spec(
    *, pod_sc: dict[str, Any] | None = None, sc: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """A restricted-compliant PodSpec; `pod_sc`/`sc` merge into the pod's/the container's securityContext."""
    body: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
    }
    body["securityContext"].update(pod_sc or {})
    body["containers"][0]["securityContext"].update(sc or {})
    body.update(fields)
    return body


def pod(
    pod_spec: dict[str, Any] | None = None, *, annotations: dict[str, Any] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec or spec()}


def deployment(pod_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "team-a"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec or spec()},
        },
    }


def check(
    obj: Any,
    *,
    settings: AdmissionSettings | None = None,
    namespace: str | None = "team-a",
    namespaced: bool = True,
    is_admin: bool = False,
    may_read_secrets: bool = True,
) -> list[Violation]:
    return Admission(settings).check(
        obj, namespace=namespace, namespaced=namespaced, is_admin=is_admin, may_read_secrets=may_read_secrets
    )


def at(level: Level) -> AdmissionSettings:
    return AdmissionSettings(pod_security=Level.BASELINE) if level is Level.BASELINE else AdmissionSettings()


def controls(violations: list[Violation]) -> list[str]:
    return [v.control for v in violations]


# --------------------------------------------------------------------------- every control, both ways

# (id, level, violating spec, compliant twin, expected control, expected path)
CONTROLS = [
    (
        "hostNetwork",
        Level.BASELINE,
        spec(hostNetwork=True),
        spec(hostNetwork=False),
        "hostNamespaces",
        "spec.hostNetwork",
    ),
    ("hostPID", Level.BASELINE, spec(hostPID=True), spec(hostPID=False), "hostNamespaces", "spec.hostPID"),
    ("hostIPC", Level.BASELINE, spec(hostIPC=True), spec(hostIPC=False), "hostNamespaces", "spec.hostIPC"),
    (
        "privileged",
        Level.BASELINE,
        spec(sc={"privileged": True}),
        spec(sc={"privileged": False}),
        "privileged",
        "spec.containers[0].securityContext.privileged",
    ),
    (
        "capability SYS_ADMIN",
        Level.BASELINE,
        spec(sc={"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}),
        spec(sc={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}),
        "capabilities_baseline",
        "spec.containers[0].securityContext.capabilities.add[0]",
    ),
    (
        "hostPath volume",
        Level.BASELINE,
        spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
        spec(volumes=[{"name": "root", "emptyDir": {}}]),
        "hostPathVolumes",
        "spec.volumes[0].hostPath",
    ),
    (
        "hostPort",
        Level.BASELINE,
        spec(containers=[container(ports=[{"containerPort": 80, "hostPort": 80}])]),
        spec(containers=[container(ports=[{"containerPort": 80, "hostPort": 0}])]),
        "hostPorts",
        "spec.containers[0].ports[0].hostPort",
    ),
    (
        "AppArmor pod profile",
        Level.BASELINE,
        spec(pod_sc={"appArmorProfile": {"type": "Unconfined"}}),
        spec(pod_sc={"appArmorProfile": {"type": "RuntimeDefault"}}),
        "appArmorProfile",
        "spec.securityContext.appArmorProfile.type",
    ),
    (
        "AppArmor container profile",
        Level.BASELINE,
        spec(sc={"appArmorProfile": {"type": "Unconfined"}}),
        spec(sc={"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}),
        "appArmorProfile",
        "spec.containers[0].securityContext.appArmorProfile.type",
    ),
    (
        "SELinux type",
        Level.BASELINE,
        spec(sc={"seLinuxOptions": {"type": "spc_t"}}),
        spec(sc={"seLinuxOptions": {"type": "container_t", "level": "s0:c1"}}),
        "seLinuxOptions",
        "spec.containers[0].securityContext.seLinuxOptions.type",
    ),
    (
        "SELinux user",
        Level.BASELINE,
        spec(pod_sc={"seLinuxOptions": {"user": "system_u"}}),
        spec(pod_sc={"seLinuxOptions": {"type": "container_engine_t"}}),
        "seLinuxOptions",
        "spec.securityContext.seLinuxOptions.user",
    ),
    (
        "SELinux role",
        Level.BASELINE,
        spec(sc={"seLinuxOptions": {"role": "sysadm_r"}}),
        spec(sc={"seLinuxOptions": {}}),
        "seLinuxOptions",
        "spec.containers[0].securityContext.seLinuxOptions.role",
    ),
    (
        "procMount",
        Level.BASELINE,
        spec(sc={"procMount": "Unmasked"}),
        spec(sc={"procMount": "Default"}),
        "procMount",
        "spec.containers[0].securityContext.procMount",
    ),
    (
        "seccomp Unconfined",
        Level.BASELINE,
        spec(pod_sc={"seccompProfile": {"type": "Unconfined"}}),
        spec(pod_sc={"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}),
        "seccompProfile_baseline",
        "spec.securityContext.seccompProfile.type",
    ),
    (
        "sysctl",
        Level.BASELINE,
        spec(pod_sc={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
        spec(pod_sc={"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]}),
        "sysctls",
        "spec.securityContext.sysctls[0].name",
    ),
    (
        "windows hostProcess",
        Level.BASELINE,
        spec(sc={"windowsOptions": {"hostProcess": True}}),
        spec(sc={"windowsOptions": {"hostProcess": False}}),
        "windowsHostProcess",
        "spec.containers[0].securityContext.windowsOptions.hostProcess",
    ),
    (
        "probe host",
        Level.BASELINE,
        spec(containers=[container(livenessProbe={"httpGet": {"host": "169.254.169.254", "port": 80}})]),
        spec(containers=[container(livenessProbe={"httpGet": {"port": 80}})]),
        "hostProbesAndHostLifecycle",
        "spec.containers[0].livenessProbe.httpGet.host",
    ),
    (
        "lifecycle host",
        Level.BASELINE,
        spec(containers=[container(lifecycle={"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 22}}})]),
        spec(containers=[container(lifecycle={"preStop": {"sleep": {"seconds": 1}}})]),
        "hostProbesAndHostLifecycle",
        "spec.containers[0].lifecycle.preStop.tcpSocket.host",
    ),
    (
        "volume type nfs",
        Level.RESTRICTED,
        spec(volumes=[{"name": "v", "nfs": {"server": "s", "path": "/"}}]),
        spec(volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]),
        "restrictedVolumes",
        "spec.volumes[0].nfs",
    ),
    (
        "allowPrivilegeEscalation unset",
        Level.RESTRICTED,
        spec(containers=[container(securityContext={"capabilities": {"drop": ["ALL"]}})]),
        spec(),
        "allowPrivilegeEscalation",
        "spec.containers[0].securityContext.allowPrivilegeEscalation",
    ),
    (
        "allowPrivilegeEscalation true",
        Level.RESTRICTED,
        spec(sc={"allowPrivilegeEscalation": True}),
        spec(sc={"allowPrivilegeEscalation": False}),
        "allowPrivilegeEscalation",
        "spec.containers[0].securityContext.allowPrivilegeEscalation",
    ),
    (
        "runAsNonRoot false",
        Level.RESTRICTED,
        spec(pod_sc={"runAsNonRoot": False}),
        spec(pod_sc={"runAsNonRoot": True}, sc={"runAsNonRoot": True}),
        "runAsNonRoot",
        "spec.securityContext.runAsNonRoot",
    ),
    (
        "runAsNonRoot unset",
        Level.RESTRICTED,
        spec(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
        spec(
            securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
            containers=[
                container(
                    securityContext={
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True,
                    }
                )
            ],
        ),
        "runAsNonRoot",
        "spec.containers[0].securityContext.runAsNonRoot",
    ),
    (
        "runAsUser 0",
        Level.RESTRICTED,
        spec(sc={"runAsUser": 0}),
        spec(sc={"runAsUser": 1000}),
        "runAsUser",
        "spec.containers[0].securityContext.runAsUser",
    ),
    (
        "seccomp unset",
        Level.RESTRICTED,
        spec(securityContext={"runAsNonRoot": True}),
        spec(
            securityContext={"runAsNonRoot": True},
            containers=[
                container(
                    securityContext={
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
                    }
                )
            ],
        ),
        "seccompProfile_restricted",
        "spec.containers[0].securityContext.seccompProfile.type",
    ),
    (
        "capabilities not dropped",
        Level.RESTRICTED,
        spec(sc={"capabilities": {"drop": ["NET_RAW"]}}),
        spec(sc={"capabilities": {"drop": ["ALL", "NET_RAW"]}}),
        "capabilities_restricted",
        "spec.containers[0].securityContext.capabilities.drop",
    ),
    (
        "capability CHOWN added",
        Level.RESTRICTED,
        spec(sc={"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}),
        spec(sc={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}),
        "capabilities_restricted",
        "spec.containers[0].securityContext.capabilities.add[0]",
    ),
]
CONTROL_IDS = [row[0] for row in CONTROLS]


@pytest.mark.parametrize(
    ("level", "bad", "control", "path"), [row[1:3] + row[4:] for row in CONTROLS], ids=CONTROL_IDS
)
def test_violating_pod_is_refused_naming_the_control_and_the_field(
    level: Level, bad: dict[str, Any], control: str, path: str
) -> None:
    violations = check(pod(bad), settings=at(level))
    assert [(v.control, v.path) for v in violations] == [(control, path)]
    assert violations[0].rule == f'PodSecurity "{level.value}:latest"'


@pytest.mark.parametrize(("level", "good"), [(row[1], row[3]) for row in CONTROLS], ids=CONTROL_IDS)
def test_compliant_twin_passes(level: Level, good: dict[str, Any]) -> None:
    assert check(pod(good), settings=at(level)) == []


@pytest.mark.parametrize(
    "bad",
    [row[2] for row in CONTROLS if row[1] is Level.BASELINE],
    ids=[r[0] for r in CONTROLS if r[1] is Level.BASELINE],
)
def test_baseline_violations_are_refused_at_restricted_too(bad: dict[str, Any]) -> None:
    assert check(pod(bad), settings=at(Level.RESTRICTED)) != []


@pytest.mark.parametrize(
    "bad",
    [row[2] for row in CONTROLS if row[1] is Level.RESTRICTED],
    ids=[r[0] for r in CONTROLS if r[1] is Level.RESTRICTED],
)
def test_restricted_only_violations_pass_at_baseline(bad: dict[str, Any]) -> None:
    assert check(pod(bad), settings=at(Level.BASELINE)) == []


@pytest.mark.parametrize(
    ("annotation", "value", "allowed"),
    [
        ("container.apparmor.security.beta.kubernetes.io/app", "unconfined", False),
        ("container.apparmor.security.beta.kubernetes.io/app", "runtime/default", True),
        ("container.apparmor.security.beta.kubernetes.io/app", "localhost/profile", True),
        ("container.apparmor.security.beta.kubernetes.io/app", "", True),
        ("apparmor.example.com/app", "unconfined", True),
    ],
    ids=["unconfined", "runtime-default", "localhost", "empty", "other-annotation"],
)
def test_apparmor_annotation_on_the_pod_template_is_checked(
    annotation: str, value: str, allowed: bool
) -> None:
    violations = check(pod(annotations={annotation: value}), settings=at(Level.BASELINE))
    assert (
        violations == []
        if allowed
        else [(v.control, v.path) for v in violations]
        == [("appArmorProfile", f"metadata.annotations[{annotation}]")]
    )


def test_apparmor_annotation_in_a_deployment_template_is_found() -> None:
    obj = deployment()
    obj["spec"]["template"]["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/app": "unconfined"
    }
    assert [v.path for v in check(obj)] == [
        "spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]"
    ]


@pytest.mark.parametrize(
    "kind", ["initContainers", "ephemeralContainers"], ids=["init-container", "ephemeral-container"]
)
def test_every_container_kind_is_checked(kind: str) -> None:
    extra: dict[str, Any] = {kind: [container("side", securityContext={"privileged": True})]}
    bad = spec(**extra)
    violations = check(pod(bad))
    assert f"spec.{kind}[0].securityContext.privileged" in {p for v in violations for p in v.paths}
    assert "privileged" in controls(violations)


def test_user_namespace_relaxes_run_as_root_and_proc_mount_at_baseline_only() -> None:
    userns = spec(
        hostUsers=False, pod_sc={"runAsNonRoot": False, "runAsUser": 0}, sc={"procMount": "Unmasked"}
    )
    assert check(pod(userns), settings=at(Level.BASELINE)) == []
    assert controls(check(pod(userns))) == ["procMount_restricted"]


def test_windows_pod_is_exempt_from_the_linux_only_restricted_checks() -> None:
    windows = spec(
        os={"name": "windows"},
        securityContext={"runAsNonRoot": True},
        containers=[container(securityContext={})],
    )
    assert check(pod(windows)) == []
    linux = spec(
        os={"name": "linux"},
        securityContext={"runAsNonRoot": True},
        containers=[container(securityContext={})],
    )
    assert controls(check(pod(linux))) == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "seccompProfile_restricted",
    ]


def test_restricted_volume_types_allow_every_listed_source() -> None:
    sources = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ]
    volumes = [{"name": f"v{i}", source: {}} for i, source in enumerate(sources)]
    assert check(pod(spec(volumes=volumes))) == []


def test_compliant_restricted_deployment_has_zero_violations() -> None:
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team-a}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 8080}]
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {}}]
"""
    assert check(yaml.safe_load(manifest), may_read_secrets=False) == []


# ----------------------------------------------------------------- wording, ported from the Go tests


def _containers_spec(*containers_: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"containers": list(containers_), **fields}


WORDING = [
    (
        "allowPrivilegeEscalation",
        Level.RESTRICTED,
        _containers_spec(
            {"name": "a"},
            {"name": "b", "securityContext": {"allowPrivilegeEscalation": None}},
            {"name": "c", "securityContext": {"allowPrivilegeEscalation": True}},
            {"name": "d", "securityContext": {"allowPrivilegeEscalation": False}},
        ),
        "allowPrivilegeEscalation != false",
        'containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false',
    ),
    (
        "capabilities_baseline",
        Level.BASELINE,
        _containers_spec(
            {"name": "a", "securityContext": {"capabilities": {"add": ["FOO", "BAR"]}}},
            {"name": "b", "securityContext": {"capabilities": {"add": ["BAR", "BAZ"]}}},
        ),
        "non-default capabilities",
        'containers "a", "b" must not include "BAR", "BAZ", "FOO" in securityContext.capabilities.add',
    ),
    (
        "capabilities_restricted",
        Level.RESTRICTED,
        _containers_spec(
            {"name": "a", "securityContext": {"capabilities": {"add": ["FOO", "BAR"]}}},
            {"name": "b", "securityContext": {"capabilities": {"add": ["BAR", "BAZ"]}}},
            {
                "name": "c",
                "securityContext": {
                    "capabilities": {"add": ["NET_BIND_SERVICE", "CHOWN"], "drop": ["ALL", "FOO"]}
                },
            },
        ),
        "unrestricted capabilities",
        'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; '
        'containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in '
        "securityContext.capabilities.add",
    ),
    (
        "hostNamespaces",
        Level.BASELINE,
        {"hostNetwork": True, "hostIPC": True, "hostPID": True},
        "host namespaces",
        "hostNetwork=true, hostPID=true, hostIPC=true",
    ),
    (
        "hostPathVolumes",
        Level.BASELINE,
        {
            "volumes": [
                {"name": "a", "hostPath": {}},
                {"name": "b", "hostPath": {}},
                {"name": "c", "emptyDir": {}},
            ]
        },
        "hostPath volumes",
        'volumes "a", "b"',
    ),
    (
        "hostPorts",
        Level.BASELINE,
        _containers_spec(
            {"name": "a", "ports": [{"hostPort": 0}]},
            {"name": "b", "ports": [{"hostPort": 0}, {"hostPort": 10}, {"hostPort": 20}]},
            {"name": "c", "ports": [{"hostPort": 0}, {"hostPort": 10}, {"hostPort": 30}]},
        ),
        "hostPort",
        'containers "b", "c" use hostPorts 10, 20, 30',
    ),
    (
        "hostProbesAndHostLifecycle",
        Level.BASELINE,
        _containers_spec(
            {"name": "valid"},
            {"name": "invalid1", "livenessProbe": {"httpGet": {"host": "a.com"}}},
            {
                "name": "invalid2",
                "lifecycle": {"preStop": {"tcpSocket": {"host": "b.com"}}},
                "readinessProbe": {"httpGet": {"host": "a.com"}},
            },
        ),
        "probe or lifecycle host",
        'containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com"',
    ),
    (
        "privileged",
        Level.BASELINE,
        _containers_spec(
            {"name": "a", "securityContext": None},
            {"name": "b", "securityContext": {}},
            {"name": "c", "securityContext": {"privileged": False}},
            {"name": "d", "securityContext": {"privileged": True}},
            {"name": "e", "securityContext": {"privileged": True}},
        ),
        "privileged",
        'containers "d", "e" must not set securityContext.privileged=true',
    ),
    (
        "procMount",
        Level.BASELINE,
        _containers_spec(
            {"name": "a"},
            {"name": "b", "securityContext": {}},
            {"name": "c", "securityContext": {"procMount": "Default"}},
            {"name": "d", "securityContext": {"procMount": "Unmasked"}},
            {"name": "e", "securityContext": {"procMount": "other"}},
            hostUsers=True,
        ),
        "procMount",
        'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"',
    ),
    (
        "seLinuxOptions",
        Level.BASELINE,
        _containers_spec(
            *(
                {"name": n, "securityContext": {"seLinuxOptions": {"type": t}}}
                for n, t in [
                    ("a", "container_t"),
                    ("b", "container_init_t"),
                    ("c", "container_kvm_t"),
                    ("d", "container_engine_t"),
                    ("e", "bar"),
                ]
            ),
            {"name": "f", "securityContext": {"seLinuxOptions": {"user": "bar"}}},
            {"name": "g", "securityContext": {"seLinuxOptions": {"role": "baz"}}},
            securityContext={"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}},
        ),
        "seLinuxOptions",
        'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: '
        'types "bar", "foo"; user may not be set; role may not be set',
    ),
    (
        "seccompProfile_baseline",
        Level.BASELINE,
        _containers_spec(
            {"name": "a"},
            {"name": "b", "securityContext": {}},
            *(
                {"name": n, "securityContext": {"seccompProfile": {"type": t}}}
                for n, t in [("c", "Unconfined"), ("d", "Unconfined"), ("e", "RuntimeDefault")]
            ),
            securityContext={"seccompProfile": {"type": "Unconfined"}},
        ),
        "seccompProfile",
        'pod and containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    (
        "sysctls",
        Level.BASELINE,
        {"securityContext": {"sysctls": [{"name": "a"}, {"name": "b"}]}},
        "forbidden sysctls",
        "a, b",
    ),
    (
        "windowsHostProcess",
        Level.BASELINE,
        _containers_spec(
            {"name": "a"},
            {"name": "b", "securityContext": {"windowsOptions": {"hostProcess": False}}},
            {"name": "e", "securityContext": {"windowsOptions": {"hostProcess": True}}},
            {"name": "f", "securityContext": {"windowsOptions": {"hostProcess": True}}},
            securityContext={"windowsOptions": {"hostProcess": True}},
        ),
        "hostProcess",
        'pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true',
    ),
    (
        "restrictedVolumes",
        Level.RESTRICTED,
        {"volumes": [{"name": "b1", "hostPath": {}}, {"name": "b2", "gitRepo": {}}, {"name": "c1"}]},
        "restricted volume types",
        'volumes "b1", "b2", "c1" use restricted volume types "gitRepo", "hostPath", "unknown"',
    ),
    (
        "runAsNonRoot",
        Level.RESTRICTED,
        _containers_spec(
            {"name": "a"},
            {"name": "b", "securityContext": {}},
            {"name": "d", "securityContext": {"runAsNonRoot": True}},
        ),
        "runAsNonRoot != true",
        'pod or containers "a", "b" must set securityContext.runAsNonRoot=true',
    ),
    (
        "runAsUser",
        Level.RESTRICTED,
        _containers_spec(
            {"name": "a"},
            *({"name": n, "securityContext": {"runAsUser": u}} for n, u in [("c", 0), ("d", 0), ("e", 1)]),
            securityContext={"runAsUser": 1000},
        ),
        "runAsUser=0",
        'containers "c", "d" must not set runAsUser=0',
    ),
    (
        "seccompProfile_restricted",
        Level.RESTRICTED,
        _containers_spec({"name": "a"}),
        "seccompProfile",
        'pod or container "a" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost"',
    ),
]
WORDING_EXTRA = [
    (
        "runAsNonRoot-pod-false",
        "runAsNonRoot",
        Level.RESTRICTED,
        _containers_spec({"name": "a", "securityContext": None}, securityContext={"runAsNonRoot": False}),
        "runAsNonRoot != true",  # Go stops after the first sentence
        'pod must not set securityContext.runAsNonRoot=false; pod or container "a" must set '
        "securityContext.runAsNonRoot=true",
    ),
    (
        "runAsNonRoot-containers-false",
        "runAsNonRoot",
        Level.RESTRICTED,
        _containers_spec(
            *(
                {"name": n, "securityContext": {"runAsNonRoot": v}}
                for n, v in [("c", False), ("d", False), ("e", True)]
            ),
            {"name": "a"},
            securityContext={"runAsNonRoot": True},
        ),
        "runAsNonRoot != true",
        'containers "c", "d" must not set securityContext.runAsNonRoot=false',
    ),
    (
        "runAsUser-pod",
        "runAsUser",
        Level.RESTRICTED,
        _containers_spec({"name": "a", "securityContext": None}, securityContext={"runAsUser": 0}),
        "runAsUser=0",
        "pod must not set runAsUser=0",
    ),
    (
        "seccompProfile_restricted-containers",
        "seccompProfile_restricted",
        Level.RESTRICTED,
        _containers_spec(
            {"name": "a", "securityContext": None},
            {"name": "b", "securityContext": {}},
            *(
                {"name": n, "securityContext": {"seccompProfile": {"type": t}}}
                for n, t in [("c", "Unconfined"), ("d", "Unconfined"), ("e", "RuntimeDefault")]
            ),
            securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
        ),
        "seccompProfile",
        'containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
]


@pytest.mark.parametrize(
    ("control", "level", "pod_spec", "reason", "detail"), WORDING, ids=[w[0] for w in WORDING]
)
def test_reason_and_detail_match_the_apiservers_pod_security_admission(
    control: str, level: Level, pod_spec: dict[str, Any], reason: str, detail: str
) -> None:
    found = {v.control: v for v in check_pod_security(PodTemplate("spec", "metadata", pod_spec), level)}
    assert (found[control].reason, found[control].detail) == (reason, detail)


@pytest.mark.parametrize(
    ("control", "level", "pod_spec", "reason", "detail"),
    [w[1:] for w in WORDING_EXTRA],
    ids=[w[0] for w in WORDING_EXTRA],
)
def test_explicit_settings_are_worded_like_the_apiserver(
    control: str, level: Level, pod_spec: dict[str, Any], reason: str, detail: str
) -> None:
    found = {v.control: v for v in check_pod_security(PodTemplate("spec", "metadata", pod_spec), level)}
    assert (found[control].reason, found[control].detail) == (reason, detail)


def test_explicit_and_implicit_run_as_root_are_both_reported() -> None:
    # The Go check returns only the first message; reporting both saves the caller a round trip.
    pod_spec = _containers_spec({"name": "a"}, {"name": "b", "securityContext": {"runAsNonRoot": False}})
    [violation] = [
        v
        for v in check_pod_security(PodTemplate("spec", "metadata", pod_spec), Level.RESTRICTED)
        if v.control == "runAsNonRoot"
    ]
    assert violation.detail == (
        'container "b" must not set securityContext.runAsNonRoot=false; '
        'pod or container "a" must set securityContext.runAsNonRoot=true'
    )


def test_apparmor_annotation_wording_matches_the_apiserver() -> None:
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    annotations = {
        prefix: "bogus",
        prefix + "a": "",
        prefix + "b": "runtime/default",
        prefix + "c": "localhost/",
        prefix + "e": "unconfined",
        prefix + "f": "unknown",
    }
    [violation] = check_pod_security(
        PodTemplate("spec", "metadata", {}, {"annotations": annotations}), Level.BASELINE
    )
    assert violation.reason == "forbidden AppArmor profiles"
    assert violation.detail == (
        f'annotations must not set AppArmor profile type to "{prefix}="bogus"", "{prefix}e="unconfined"", '
        f'"{prefix}f="unknown""'
    )


def test_restricted_checks_run_in_the_apiservers_order() -> None:
    everything = {
        "hostNetwork": True,
        "securityContext": {"sysctls": [{"name": "kernel.msgmax"}]},
        "containers": [{"name": "c", "securityContext": {"privileged": True, "runAsUser": 0}}],
        "volumes": [{"name": "v", "hostPath": {"path": "/"}}],
    }
    assert controls(check(pod(everything))) == [
        "hostNamespaces",
        "privileged",
        "sysctls",
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "restrictedVolumes",
        "runAsNonRoot",
        "runAsUser",
        "seccompProfile_restricted",
    ]


# --------------------------------------------------------------------------- where pod templates are


def _wrap(kind: str, api_version: str, path: list[str], pod_spec: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"spec": pod_spec}
    for key in reversed(path):
        body = {key: body}
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}, **body}


KINDS = [
    ("Pod", "v1", [], "spec"),
    ("PodTemplate", "v1", ["template"], "template.spec"),
    ("Deployment", "apps/v1", ["spec", "template"], "spec.template.spec"),
    ("ReplicaSet", "apps/v1", ["spec", "template"], "spec.template.spec"),
    ("StatefulSet", "apps/v1", ["spec", "template"], "spec.template.spec"),
    ("DaemonSet", "apps/v1", ["spec", "template"], "spec.template.spec"),
    ("Job", "batch/v1", ["spec", "template"], "spec.template.spec"),
    ("ReplicationController", "v1", ["spec", "template"], "spec.template.spec"),
    (
        "CronJob",
        "batch/v1",
        ["spec", "jobTemplate", "spec", "template"],
        "spec.jobTemplate.spec.template.spec",
    ),
    ("Rollout", "argoproj.io/v1alpha1", ["spec", "template"], "spec.template.spec"),
    (
        "ScheduledWorkload",
        "example.com/v1",
        ["spec", "jobTemplate", "spec", "template"],
        "spec.jobTemplate.spec.template.spec",
    ),
]


@pytest.mark.parametrize(("kind", "api_version", "path", "spec_path"), KINDS, ids=[k[0] for k in KINDS])
def test_privileged_pod_template_is_refused_in_every_workload_kind(
    kind: str, api_version: str, path: list[str], spec_path: str
) -> None:
    obj = _wrap(kind, api_version, path, spec(sc={"privileged": True}))
    assert [v.path for v in check(obj)] == [f"{spec_path}.containers[0].securityContext.privileged"]


@pytest.mark.parametrize(("kind", "api_version", "path", "spec_path"), KINDS, ids=[k[0] for k in KINDS])
def test_compliant_pod_template_passes_in_every_workload_kind(
    kind: str, api_version: str, path: list[str], spec_path: str
) -> None:
    obj = _wrap(kind, api_version, path, spec())
    assert [t.spec_path for t in pod_templates(obj)] == [spec_path]
    assert check(obj) == []


def test_custom_resource_with_containers_in_its_spec_is_checked_as_a_pod() -> None:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "PodLike",
        "metadata": {"name": "x"},
        "spec": spec(hostPID=True),
    }
    assert [v.path for v in check(obj)] == ["spec.hostPID"]


def test_kind_in_odd_case_is_still_checked_as_a_pod() -> None:
    obj = pod(spec(hostNetwork=True))
    obj["kind"] = "pod"
    assert controls(check(obj)) == ["hostNamespaces"]


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"privileged": "true"}},
        {
            "apiVersion": "example.com/v1",
            "kind": "Machine",
            "metadata": {"name": "m"},
            "spec": {"template": "not a pod template"},
        },
        {
            "apiVersion": "example.com/v1",
            "kind": "Machine",
            "metadata": {"name": "m"},
            "spec": {"template": {"spec": ["not", "a", "pod"]}},
        },
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}},
    ],
    ids=["configmap", "crd-template-string", "crd-template-spec-list", "deployment-without-template"],
)
def test_objects_without_a_pod_template_have_nothing_to_refuse(obj: dict[str, Any]) -> None:
    assert pod_templates(obj) == []
    assert check(obj) == []


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": "x"}}, "spec.template"),
        (
            {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": []}}},
            "spec.jobTemplate.spec",
        ),
        ({"kind": "Pod", "metadata": {"name": "p"}, "spec": "privileged"}, "spec"),
    ],
    ids=["deployment-template-string", "cronjob-spec-list", "pod-spec-string"],
)
def test_malformed_template_of_a_builtin_kind_is_refused(obj: dict[str, Any], path: str) -> None:
    assert [(v.rule, v.control, v.path) for v in check(obj)] == [("manifest", "fieldType", path)]


@pytest.mark.parametrize("kind", ["List", "PodList"], ids=["List", "PodList"])
def test_list_object_is_refused_until_split_into_its_items(kind: str) -> None:
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "l"}, "items": [pod(spec(hostPID=True))]}
    assert [(v.rule, v.control) for v in check(obj)] == [("manifest", "list")]


def test_pod_templates_of_a_non_mapping_is_empty() -> None:
    assert pod_templates(["not", "an", "object"]) == []


# --------------------------------------------------------------------------- Secret references

SECRET_PATHS = [
    ("volume", spec(volumes=[{"name": "s", "secret": {"secretName": "db"}}]), "spec.volumes[0].secret"),
    (
        "projected",
        spec(
            volumes=[
                {
                    "name": "p",
                    "projected": {"sources": [{"configMap": {"name": "c"}}, {"secret": {"name": "db"}}]},
                }
            ]
        ),
        "spec.volumes[0].projected.sources[1].secret",
    ),
    (
        "env",
        spec(
            containers=[
                container(
                    env=[
                        {"name": "A", "value": "1"},
                        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                    ]
                )
            ]
        ),
        "spec.containers[0].env[1].valueFrom.secretKeyRef",
    ),
    (
        "envFrom",
        spec(containers=[container(envFrom=[{"secretRef": {"name": "db"}}])]),
        "spec.containers[0].envFrom[0].secretRef",
    ),
    (
        "init-container-env",
        spec(initContainers=[container(env=[{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db"}}}])]),
        "spec.initContainers[0].env[0].valueFrom.secretKeyRef",
    ),
    (
        "ephemeral-container-envFrom",
        spec(ephemeralContainers=[container(envFrom=[{"secretRef": {"name": "db"}}])]),
        "spec.ephemeralContainers[0].envFrom[0].secretRef",
    ),
    (
        "csi-plugin",
        spec(volumes=[{"name": "c", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "db"}}}]),
        "spec.volumes[0].csi.nodePublishSecretRef",
    ),
    (
        "azureFile-plugin",
        spec(volumes=[{"name": "a", "azureFile": {"secretName": "db", "shareName": "s"}}]),
        "spec.volumes[0].azureFile",
    ),
]


@pytest.mark.parametrize(
    ("pod_spec", "path"), [row[1:] for row in SECRET_PATHS], ids=[r[0] for r in SECRET_PATHS]
)
def test_secret_reference_is_refused_for_a_role_that_may_not_read_secrets(
    pod_spec: dict[str, Any], path: str
) -> None:
    violations = [v for v in check(pod(pod_spec), may_read_secrets=False) if v.rule == "Secret access"]
    assert [(v.control, v.path) for v in violations] == [("secretReference", path)]
    assert 'Secret "db"' in violations[0].detail


@pytest.mark.parametrize("pod_spec", [row[1] for row in SECRET_PATHS], ids=[r[0] for r in SECRET_PATHS])
def test_secret_reference_is_allowed_for_a_role_that_may_read_secrets(pod_spec: dict[str, Any]) -> None:
    assert [v for v in check(pod(pod_spec), may_read_secrets=True) if v.rule == "Secret access"] == []


def test_image_pull_secrets_are_allowed_and_listed_separately() -> None:
    pod_spec = spec(
        imagePullSecrets=[{"name": "registry"}], volumes=[{"name": "s", "secret": {"secretName": "db"}}]
    )
    assert check(pod(spec(imagePullSecrets=[{"name": "registry"}])), may_read_secrets=False) == []
    refs = secret_references(PodTemplate("spec", "metadata", pod_spec))
    assert [(r.kind, r.secret, r.path) for r in refs] == [
        ("imagePull", "registry", "spec.imagePullSecrets[0]"),
        ("volume", "db", "spec.volumes[0].secret"),
    ]


def test_secret_reference_without_a_name_is_still_refused() -> None:
    violations = check(pod(spec(volumes=[{"name": "s", "secret": {}}])), may_read_secrets=False)
    assert [v.control for v in violations] == ["secretReference"]


# --------------------------------------------------------------------------- service accounts


@pytest.mark.parametrize(
    ("fields", "allowed", "namespace", "refused"),
    [
        ({}, [], "team-a", False),
        ({"serviceAccountName": "default"}, [], "team-a", False),
        ({"serviceAccountName": ""}, [], "team-a", False),
        ({"serviceAccountName": "cluster-admin"}, [], "team-a", True),
        ({"serviceAccount": "cluster-admin"}, [], "team-a", True),
        ({"serviceAccountName": "builder"}, ["builder"], "team-a", False),
        ({"serviceAccountName": "builder"}, ["team-a/builder"], "team-a", False),
        ({"serviceAccountName": "builder"}, ["team-b/builder"], "team-a", True),
        ({"serviceAccountName": "builder", "serviceAccount": "other"}, ["builder"], "team-a", True),
    ],
    ids=[
        "unset",
        "default",
        "empty",
        "other",
        "deprecated-field",
        "allowed-name",
        "allowed-in-namespace",
        "allowed-in-other-namespace",
        "deprecated-field-differs",
    ],
)
def test_service_account_other_than_default_needs_an_allowlist_entry(
    fields: dict[str, Any], allowed: list[str], namespace: str, refused: bool
) -> None:
    settings = AdmissionSettings(service_accounts=allowed)
    violations = check(pod(spec(**fields)), settings=settings, namespace=namespace)
    assert controls(violations) == (["serviceAccount"] if refused else [])


def test_admin_may_run_any_service_account() -> None:
    assert check(pod(spec(serviceAccountName="cluster-admin")), is_admin=True) == []


def test_automount_service_account_token_is_not_an_issue() -> None:
    assert check(pod(spec(automountServiceAccountToken=True))) == []


# --------------------------------------------------------------------------- cluster scope

INGRESS_CLASS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "IngressClass",
    "metadata": {"name": "default"},
}
FLOW_SCHEMA = {
    "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
    "kind": "FlowSchema",
    "metadata": {"name": "f"},
}


@pytest.mark.parametrize("obj", [INGRESS_CLASS, FLOW_SCHEMA], ids=["IngressClass", "FlowSchema"])
def test_cluster_scoped_object_is_refused_for_a_non_admin(obj: dict[str, Any]) -> None:
    [violation] = check(obj, namespace=None, namespaced=False)
    assert (violation.rule, violation.control, violation.object) == (
        "cluster scope",
        "clusterScope",
        f"{obj['kind']} {obj['metadata']['name']}",
    )


def test_cluster_scoped_object_is_allowed_for_admin() -> None:
    assert check(INGRESS_CLASS, namespace=None, namespaced=False, is_admin=True) == []


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        (["IngressClass"], False),
        (["IngressClass.networking.k8s.io"], False),
        (["IngressClass.example.com"], True),
        (["FlowSchema"], True),
    ],
    ids=["kind", "kind-and-group", "other-group", "other-kind"],
)
def test_cluster_kinds_allowlist_admits_the_listed_kinds(allowed: list[str], refused: bool) -> None:
    violations = check(
        INGRESS_CLASS, settings=AdmissionSettings(cluster_kinds=allowed), namespace=None, namespaced=False
    )
    assert controls(violations) == (["clusterScope"] if refused else [])


def test_cluster_scoped_custom_resource_with_a_pod_template_gets_both_checks() -> None:
    obj = _wrap("ClusterRunner", "example.com/v1", ["spec", "template"], spec(hostPID=True))
    assert controls(check(obj, namespace=None, namespaced=False)) == ["clusterScope", "hostNamespaces"]


def test_cluster_scoped_object_without_a_kind_is_refused() -> None:
    settings = AdmissionSettings(cluster_kinds=["IngressClass"])
    obj = {"kind": ["IngressClass"], "metadata": {"name": "x"}}
    assert controls(check(obj, settings=settings, namespace=None, namespaced=False)) == ["clusterScope"]


def test_namespace_argument_is_ignored_for_a_cluster_scoped_object() -> None:
    [violation] = check(INGRESS_CLASS, namespace="team-a", namespaced=False)
    assert violation.object == "IngressClass default"


# --------------------------------------------------------------------------- levels per role and namespace


@pytest.mark.parametrize(
    ("namespaces", "namespace", "is_admin", "level"),
    [
        ({}, "team-a", False, Level.RESTRICTED),
        ({}, "team-a", True, Level.PRIVILEGED),
        ({"team-a": Level.BASELINE}, "team-a", False, Level.BASELINE),
        ({"team-a": Level.BASELINE}, "team-b", False, Level.RESTRICTED),
        ({"ops": Level.PRIVILEGED}, "ops", False, Level.BASELINE),
        ({"ops": Level.PRIVILEGED}, "ops", True, Level.PRIVILEGED),
        ({"prod": Level.RESTRICTED}, "prod", True, Level.RESTRICTED),
        ({"team-a": Level.BASELINE}, None, False, Level.RESTRICTED),
    ],
    ids=[
        "default-non-admin",
        "default-admin",
        "baseline-namespace",
        "other-namespace",
        "privileged-namespace-non-admin",
        "privileged-namespace-admin",
        "restricted-namespace-binds-admin",
        "cluster-scoped-owner",
    ],
)
def test_level_depends_on_role_and_namespace(
    namespaces: dict[str, Level], namespace: str | None, is_admin: bool, level: Level
) -> None:
    assert (
        Admission(AdmissionSettings(namespaces=namespaces)).level_for(namespace, is_admin=is_admin) is level
    )


def test_non_admin_never_runs_a_privileged_pod_even_in_a_privileged_namespace() -> None:
    settings = AdmissionSettings(namespaces={"ops": Level.PRIVILEGED})
    privileged = pod(spec(sc={"privileged": True}))
    assert controls(check(privileged, settings=settings, namespace="ops")) == ["privileged"]
    assert check(privileged, settings=settings, namespace="ops", is_admin=True) == []


def test_admin_is_unchecked_by_default_but_still_checked_for_secrets_when_told() -> None:
    evil = pod(spec(hostPID=True, volumes=[{"name": "s", "secret": {"secretName": "db"}}]))
    assert check(evil, is_admin=True) == []
    assert controls(check(evil, is_admin=True, may_read_secrets=False)) == ["secretReference"]


def test_admin_pod_security_setting_raises_the_admin_level() -> None:
    settings = AdmissionSettings(admin_pod_security=Level.BASELINE)
    assert controls(check(pod(spec(hostPID=True)), settings=settings, is_admin=True)) == ["hostNamespaces"]


def test_baseline_namespace_is_named_in_the_rule() -> None:
    settings = AdmissionSettings(namespaces={"team-a": Level.BASELINE})
    [violation] = check(pod(spec(sc={"privileged": True})), settings=settings)
    assert violation.rule == 'PodSecurity "baseline:latest"'


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pod_security": "strict"}, "'privileged', 'baseline' or 'restricted'"),
        ({"pod_security": "privileged"}, "non-admin roles, which never run below 'baseline'"),
        ({"namespaces": {"Team_A": "baseline"}}, "not a Kubernetes namespace name"),
        ({"namespaces": {"team-a": "lax"}}, "'privileged', 'baseline' or 'restricted'"),
        ({"service_accounts": ["Builder"]}, "must be 'name' or 'namespace/name'"),
        ({"service_accounts": ["a.b/builder"]}, "must be 'name' or 'namespace/name'"),
        ({"cluster_kinds": ["ingressclass"]}, "must be a Kubernetes kind"),
        ({"cluster_kinds": ["IngressClass/v1"]}, "must be a Kubernetes kind"),
        ({"pod_securty": "baseline"}, "Extra inputs are not permitted"),
    ],
    ids=[
        "unknown-level",
        "privileged-default",
        "bad-namespace",
        "bad-namespace-level",
        "bad-account",
        "bad-account-namespace",
        "lowercase-kind",
        "kind-with-version",
        "misspelled-field",
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AdmissionSettings.model_validate(fields)


def test_settings_accept_the_documented_forms_and_are_frozen() -> None:
    settings = AdmissionSettings.model_validate(
        {
            "pod_security": "baseline",
            "namespaces": {"ops": "privileged"},
            "service_accounts": ["ci/builder", "app"],
            "cluster_kinds": ["IngressClass.networking.k8s.io", "PriorityClass"],
        }
    )
    assert settings.namespaces == {"ops": Level.PRIVILEGED}
    with pytest.raises(ValidationError):
        settings.pod_security = Level.RESTRICTED  # type: ignore[misc]


def test_every_settings_field_is_described_for_an_operator() -> None:
    assert all(field.description for field in AdmissionSettings.model_fields.values())


def test_levels_order_privileged_baseline_restricted() -> None:
    assert [level.rank for level in (Level.PRIVILEGED, Level.BASELINE, Level.RESTRICTED)] == [0, 1, 2]


# --------------------------------------------------------------------------- the refusal message


def test_refusal_names_object_rule_control_and_field_like_the_apiserver() -> None:
    message = refusal_message(check(deployment(spec(sc={"privileged": True}))))
    assert (
        '- Deployment team-a/web is forbidden: violates PodSecurity "restricted:latest": '
        'privileged (container "app" must not set securityContext.privileged=true)'
    ) in message
    assert "fields: spec.template.spec.containers[0].securityContext.privileged" in message
    assert message.startswith("admission refused 1 object; nothing was sent:")


def test_refusal_reports_every_violation_of_every_object() -> None:
    hostile = pod(
        spec(
            hostPID=True,
            hostNetwork=True,
            hostIPC=True,
            sc={"privileged": True},
            serviceAccountName="root",
            volumes=[
                {"name": "root", "hostPath": {"path": "/"}},
                {"name": "s", "secret": {"secretName": "x"}},
            ],
        )
    )
    violations = check(hostile, may_read_secrets=False) + check(
        INGRESS_CLASS, namespace=None, namespaced=False
    )
    message = refusal_message(violations)
    assert controls(violations) == [
        "hostNamespaces",
        "privileged",
        "restrictedVolumes",
        "secretReference",
        "serviceAccount",
        "clusterScope",
    ]
    for needle in (
        "hostNetwork=true, hostPID=true, hostIPC=true",
        "privileged (",
        "restricted volume types (",
        "Secret access: Secret reference (",
        "service account: service account not allowed (",
        "- IngressClass default is forbidden: cluster scope:",
        "admission refused 2 objects",
        "ask an admin",
    ):
        assert needle in message


def test_refusal_of_many_violations_is_bounded() -> None:
    many = [
        Violation(f"Pod ns/p{i}", "manifest", "fieldType", "invalid field type", "x" * 200, (f"spec.f{i}",))
        for i in range(500)
    ]
    message = refusal_message(many)
    assert len(message) <= 12_000
    assert "and 480 more objects" in message


def test_refusal_of_one_object_with_many_violations_is_bounded() -> None:
    many = [
        Violation("Pod ns/p", "manifest", "fieldType", "invalid field type", "d", (f"spec.f{i}",))
        for i in range(40)
    ]
    message = refusal_message(many)
    assert "and 10 more violations" in message
    assert "... (20 more)" in message


def test_refusal_of_nothing_says_so() -> None:
    assert refusal_message([]) == "admission allows every object"


def test_violation_path_is_its_first_field_or_empty() -> None:
    assert Violation("o", "r", "c", "reason", "", ()).path == ""


def test_object_label_is_safe_whatever_the_object_holds() -> None:
    assert object_label({"kind": "Pod", "metadata": {"name": "a\nb"}}, "ns") == 'Pod ns/"a\\nb"'
    assert object_label({"kind": 5, "metadata": "x"}, None) == "object (no name)"


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("sc", "path"),
    [
        ({"privileged": "true"}, "spec.containers[0].securityContext.privileged"),
        ({"privileged": "false"}, "spec.containers[0].securityContext.privileged"),
        ({"privileged": 1}, "spec.containers[0].securityContext.privileged"),
        (
            {"allowPrivilegeEscalation": "false"},
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
        ),
        ({"runAsUser": True}, "spec.containers[0].securityContext.runAsUser"),
        ({"runAsUser": "0"}, "spec.containers[0].securityContext.runAsUser"),
        ({"runAsUser": 0.0}, "spec.containers[0].securityContext.runAsUser"),
        ({"capabilities": ["ALL"]}, "spec.containers[0].securityContext.capabilities"),
        ({"capabilities": {"drop": "ALL"}}, "spec.containers[0].securityContext.capabilities.drop"),
        (
            {"capabilities": {"drop": ["ALL"], "add": [["SYS_ADMIN"]]}},
            "spec.containers[0].securityContext.capabilities.add[0]",
        ),
        ({"seccompProfile": "RuntimeDefault"}, "spec.containers[0].securityContext.seccompProfile"),
        ({"procMount": 1}, "spec.containers[0].securityContext.procMount"),
        (
            {"windowsOptions": {"hostProcess": "yes"}},
            "spec.containers[0].securityContext.windowsOptions.hostProcess",
        ),
    ],
    ids=[
        "privileged-string-true",
        "privileged-string-false",
        "privileged-number",
        "ape-string",
        "uid-bool",
        "uid-string",
        "uid-float",
        "capabilities-list",
        "drop-string",
        "add-nested-list",
        "seccomp-string",
        "procmount-number",
        "hostprocess-string",
    ],
)
def test_wrong_type_is_refused_never_taken_as_safe(sc: dict[str, Any], path: str) -> None:
    violations = check(pod(spec(sc=sc)), settings=at(Level.BASELINE))
    assert ("manifest", "fieldType", path) in [(v.rule, v.control, v.path) for v in violations]


@pytest.mark.parametrize(
    ("pod_spec", "path"),
    [
        (spec(hostNetwork="true"), "spec.hostNetwork"),
        (spec(containers={"name": "app"}), "spec.containers"),
        (spec(containers=["app"]), "spec.containers[0]"),
        (spec(securityContext=[]), "spec.securityContext"),
        (spec(volumes=[{"name": "v", "hostPath": "/"}]), "spec.volumes[0].hostPath"),
        (spec(containers=[container(ports=[{"hostPort": "80"}])]), "spec.containers[0].ports[0].hostPort"),
        (spec(pod_sc={"sysctls": ["kernel.msgmax"]}), "spec.securityContext.sysctls[0]"),
        (spec(serviceAccountName=["admin"]), "spec.serviceAccountName"),
        (spec(os={"name": 1}), "spec.os.name"),
        (spec(hostIPC=None, hostPID=b"true"), "spec.hostPID"),
    ],
    ids=[
        "hostNetwork-string",
        "containers-mapping",
        "container-string",
        "securityContext-list",
        "hostPath-string",
        "hostPort-string",
        "sysctl-string",
        "serviceAccount-list",
        "os-name-number",
        "hostPID-bytes",
    ],
)
def test_malformed_pod_spec_is_refused(pod_spec: dict[str, Any], path: str) -> None:
    violations = check(pod(pod_spec), settings=at(Level.BASELINE))
    assert ("fieldType", path) in [(v.control, v.path) for v in violations]


@pytest.mark.parametrize(
    ("sc", "path", "field"),
    [
        ({"Privileged": True}, "spec.containers[0].securityContext.Privileged", "privileged"),
        ({"PRIVILEGED": True}, "spec.containers[0].securityContext.PRIVILEGED", "privileged"),
        (
            {"\u017feccompProfile": {"type": "Unconfined"}},  # long s: Go's EqualFold folds it to "s"
            "spec.containers[0].securityContext.\u017feccompProfile",
            "seccompProfile",
        ),
    ],
    ids=["capitalised", "upper-case", "long-s-folds-to-s"],
)
def test_field_name_in_odd_case_is_refused(sc: dict[str, Any], path: str, field: str) -> None:
    violations = check(pod(spec(sc=sc)))
    [violation] = [v for v in violations if v.control == "fieldName"]
    assert violation.path == path
    assert f'must be spelled "{field}"' in violation.detail


def test_odd_case_template_location_is_refused() -> None:
    obj = deployment()
    obj["spec"]["Template"] = obj["spec"].pop("template")
    assert [(v.control, v.path) for v in check(obj)] == [("fieldName", "spec.Template")]


def test_volume_with_two_sources_is_refused() -> None:
    volumes = [{"name": "v", "configMap": {"name": "c"}, "hostPath": {"path": "/"}}]
    violations = check(pod(spec(volumes=volumes)))
    assert ("volumeSource", ("spec.volumes[0].configMap", "spec.volumes[0].hostPath")) in [
        (v.control, v.paths) for v in violations
    ]


def test_null_fields_are_unset_as_the_apiserver_reads_them() -> None:
    nulls = spec(
        hostNetwork=None,
        volumes=None,
        sc={"privileged": None, "capabilities": {"drop": ["ALL"], "add": None}},
    )
    assert check(pod(nulls)) == []


def test_duplicate_containers_are_each_reported() -> None:
    twins = spec(containers=[container("app", securityContext={"privileged": True})] * 2)
    [violation] = [v for v in check(pod(twins)) if v.control == "privileged"]
    assert violation.detail == 'containers "app", "app" must not set securityContext.privileged=true'
    assert violation.paths == (
        "spec.containers[0].securityContext.privileged",
        "spec.containers[1].securityContext.privileged",
    )


def test_hostile_names_are_quoted_and_cut_in_messages() -> None:
    name = 'a"b\n' + "x" * 5000
    [violation] = check(
        pod(spec(containers=[container(name, securityContext={"privileged": True})])),
        settings=at(Level.BASELINE),
    )
    assert "\n" not in violation.detail
    assert len(violation.detail) < 300


def test_huge_object_is_refused_quickly_with_a_size_violation() -> None:
    many = spec(containers=[container(f"c{i}") for i in range(MAX_ENTRIES)])
    started = time.perf_counter()
    violations = check(pod(many))
    assert time.perf_counter() - started < 2.0
    assert [v.control for v in violations if v.rule == "manifest"] == ["size"]


def test_recursive_structure_is_checked_without_looping() -> None:
    cyclic: dict[str, Any] = spec()
    cyclic["containers"][0]["securityContext"]["capabilities"]["self"] = cyclic
    cyclic["volumes"] = [{"name": "v", "projected": {"sources": [{"projected": cyclic}]}}]
    assert check(pod(cyclic)) == []


@pytest.mark.parametrize(
    ("annotations", "path"),
    [
        (
            {"container.apparmor.security.beta.kubernetes.io/app": 5},
            "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]",
        ),
        ({1: "unconfined"}, "metadata.annotations[1]"),
        ("unconfined", "metadata.annotations"),
    ],
    ids=["number-value", "number-key", "string"],
)
def test_malformed_annotations_are_refused(annotations: Any, path: str) -> None:
    assert ("fieldType", path) in [(v.control, v.path) for v in check(pod(annotations=annotations))]


def test_null_annotation_value_reads_as_empty() -> None:
    assert check(pod(annotations={"container.apparmor.security.beta.kubernetes.io/app": None})) == []


@pytest.mark.parametrize("obj", [None, "kind: Pod", ["Pod"], 5], ids=["none", "string", "list", "number"])
def test_non_mapping_object_is_an_invalid_argument(obj: Any) -> None:
    with pytest.raises(InvalidArgument, match="must be a mapping"):
        check(obj)


@pytest.mark.parametrize(
    "namespace", [None, "", "Team_A", "a" * 64, 5], ids=["none", "empty", "bad", "long", "number"]
)
def test_namespaced_object_needs_a_valid_namespace(namespace: Any) -> None:
    with pytest.raises(InvalidArgument, match="not a valid namespace name"):
        check(pod(), namespace=namespace)


def test_check_does_not_change_the_object() -> None:
    obj = deployment(spec(sc={"privileged": True}, volumes=[{"name": "v", "configMap": {"name": "c"}}]))
    before = copy.deepcopy(obj)
    check(obj, may_read_secrets=False)
    assert obj == before


def test_check_pod_security_at_privileged_checks_nothing() -> None:
    template = PodTemplate("spec", "metadata", spec(hostPID="yes", hostNetwork=True))
    assert check_pod_security(template, Level.PRIVILEGED) == []
    assert [v.rule for v in check_pod_security(template, Level.BASELINE)] == [
        "manifest",
        'PodSecurity "baseline:latest"',
    ]


# --------------------------------------------------------------------------- cost


def test_fifty_object_plan_is_checked_in_milliseconds() -> None:
    objects = [deployment() for _ in range(25)] + [pod() for _ in range(25)]
    admission = Admission()
    started = time.perf_counter()
    for obj in objects:
        assert (
            admission.check(obj, namespace="team-a", namespaced=True, is_admin=False, may_read_secrets=False)
            == []
        )
    assert time.perf_counter() - started < 0.5  # ~2 ms measured; generous for a loaded CI machine
