"""Admission attacks on `k8s_plan`, as an operator-tier caller, against a real control plane started
with `--allow-privileged=true`: the suite's own policy must refuse, naming the object, the field path
and the control, and nothing may reach the cluster."""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as kube_config
from mcp import Client

from tests.hostile.conftest import Attempt
from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import deployment_session, error_text
from tests.support.services import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

RESTRICTED_POD: dict[str, Any] = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [
        {
            "name": "app",
            "image": "busybox:1",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
}


def pod(mutate: Callable[[dict[str, Any]], None], *, name: str = "attack") -> dict[str, Any]:
    spec = copy.deepcopy(RESTRICTED_POD)
    mutate(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def container(**security: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec["containers"][0]["securityContext"].update(security)

    return mutate


def pod_level(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec.update(fields)

    return mutate


def pod_security(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec["securityContext"].update(fields)

    return mutate


def volume(source: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec["volumes"] = [{"name": "v", **source}]
        spec["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/v"}]

    return mutate


def both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        for one in mutations:
            one(spec)

    return mutate


def drop_key(path: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def workload(kind: str, api_version: str, spec: dict[str, Any]) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": spec}
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": "x"}}, "template": template}
    if kind == "DaemonSet":
        pass
    elif kind == "StatefulSet":
        body["serviceName"] = "x"
    elif kind == "Job":
        body = {"template": {"spec": {**spec, "restartPolicy": "Never"}}}
    elif kind == "CronJob":
        body = {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {**spec, "restartPolicy": "Never"}}}},
        }
    elif kind == "ReplicationController":
        body = {"selector": {"app": "x"}, "template": template}
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "attack"}, "spec": body}


PRIVILEGED = container(privileged=True, allowPrivilegeEscalation=True)  # what the apiserver accepts

# (what, manifest, words the refusal must contain)
POD_ATTACKS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("privileged container", pod(PRIVILEGED), ("privileged", "containers[0].securityContext.privileged")),
    ("privileged as the string 'true'", pod(container(privileged="true")), ("privileged",)),
    ("hostPID", pod(pod_level(hostPID=True)), ("host namespaces", "hostPID")),
    ("hostNetwork", pod(pod_level(hostNetwork=True)), ("host namespaces", "hostNetwork")),
    ("hostIPC", pod(pod_level(hostIPC=True)), ("host namespaces", "hostIPC")),
    ("hostPath / volume", pod(volume({"hostPath": {"path": "/"}})), ("hostPath", "volumes[0].hostPath")),
    ("hostPath docker socket", pod(volume({"hostPath": {"path": "/var/run/docker.sock"}})), ("hostPath",)),
    (
        "hostPort",
        pod(lambda s: s["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}])),
        ("hostPort",),
    ),
    (
        "add SYS_ADMIN",
        pod(container(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]})),
        ("capabilities", "SYS_ADMIN"),
    ),
    ("add NET_RAW", pod(container(capabilities={"drop": ["ALL"], "add": ["NET_RAW"]})), ("capabilities",)),
    ("add ALL", pod(container(capabilities={"add": ["ALL"]})), ("capabilities",)),
    (
        "no capability drop",
        pod(drop_key(("containers", 0, "securityContext", "capabilities"))),
        ("capabilities",),
    ),
    (
        "allowPrivilegeEscalation true",
        pod(container(allowPrivilegeEscalation=True)),
        ("allowPrivilegeEscalation",),
    ),
    (
        "allowPrivilegeEscalation unset",
        pod(drop_key(("containers", 0, "securityContext", "allowPrivilegeEscalation"))),
        ("allowPrivilegeEscalation",),
    ),
    ("runAsNonRoot false", pod(pod_security(runAsNonRoot=False)), ("runAsNonRoot",)),
    ("runAsNonRoot unset", pod(drop_key(("securityContext", "runAsNonRoot"))), ("runAsNonRoot",)),
    ("runAsUser 0 on the pod", pod(pod_security(runAsUser=0)), ("runAsUser",)),
    ("runAsUser 0 on a container", pod(container(runAsUser=0)), ("runAsUser",)),
    ("seccomp Unconfined", pod(pod_security(seccompProfile={"type": "Unconfined"})), ("seccompProfile",)),
    ("seccomp unset", pod(drop_key(("securityContext", "seccompProfile"))), ("seccompProfile",)),
    (
        "container seccomp Unconfined",
        pod(container(seccompProfile={"type": "Unconfined"})),
        ("seccompProfile",),
    ),
    (
        "AppArmor unconfined field",
        pod(container(appArmorProfile={"type": "Unconfined"})),
        ("appArmorProfile",),
    ),
    ("SELinux spc_t", pod(container(seLinuxOptions={"type": "spc_t"})), ("seLinuxOptions",)),
    ("SELinux user", pod(container(seLinuxOptions={"user": "system_u"})), ("seLinuxOptions",)),
    ("procMount Unmasked", pod(container(procMount="Unmasked")), ("procMount",)),
    (
        "unsafe sysctl",
        pod(pod_security(sysctls=[{"name": "kernel.core_pattern", "value": "|/bin/sh"}])),
        ("sysctls",),
    ),
    ("windows hostProcess", pod(pod_security(windowsOptions={"hostProcess": True})), ("hostProcess",)),
    (
        "nfs volume",
        pod(volume({"nfs": {"server": "10.0.0.1", "path": "/"}})),
        ("restricted volume types", "nfs"),
    ),
    (
        "iscsi volume",
        pod(volume({"iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.x", "lun": 0}})),
        ("volume",),
    ),
    (
        "privileged init container",
        pod(
            lambda s: s.update(
                initContainers=[
                    {
                        **copy.deepcopy(s["containers"][0]),
                        "name": "init",
                        "securityContext": {"privileged": True},
                    }
                ]
            )
        ),
        ("privileged", "initContainers[0]"),
    ),
    (
        "privileged ephemeral container",
        pod(
            lambda s: s.update(
                ephemeralContainers=[
                    {"name": "debug", "image": "busybox:1", "securityContext": {"privileged": True}}
                ]
            )
        ),
        ("privileged", "ephemeralContainers[0]"),
    ),
    (
        "second container privileged",
        pod(
            lambda s: s["containers"].append(
                {**copy.deepcopy(s["containers"][0]), "name": "side", "securityContext": {"privileged": True}}
            )
        ),
        ("privileged", "containers[1]"),
    ),
    (
        "probe on the host",
        pod(
            lambda s: s["containers"][0].update(
                livenessProbe={"httpGet": {"host": "169.254.169.254", "port": 80, "path": "/"}}
            )
        ),
        ("host",),
    ),
    (
        "everything at once",
        pod(
            both(
                PRIVILEGED,
                pod_level(hostPID=True, hostNetwork=True, hostIPC=True),
                volume({"hostPath": {"path": "/"}}),
            )
        ),
        ("privileged", "hostPID", "hostPath"),
    ),
]

WORKLOADS = [
    ("Deployment", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Job", "batch/v1"),
    ("CronJob", "batch/v1"),
    ("ReplicationController", "v1"),
]
WORKLOAD_ATTACKS = [
    (f"{kind} with {what}", workload(kind, version, manifest["spec"]), words)
    for kind, version in WORKLOADS
    for what, manifest, words in POD_ATTACKS
    if what in ("privileged container", "hostPath / volume", "hostPID", "runAsUser 0 on the pod")
]

SECRET_ATTACKS = [
    ("secret volume", pod(volume({"secret": {"secretName": "db"}})), ("Secret",)),
    ("projected secret", pod(volume({"projected": {"sources": [{"secret": {"name": "db"}}]}})), ("Secret",)),
    (
        "env secretKeyRef",
        pod(
            lambda s: s["containers"][0].update(
                env=[{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
            )
        ),
        ("Secret",),
    ),
    (
        "envFrom secretRef",
        pod(lambda s: s["containers"][0].update(envFrom=[{"secretRef": {"name": "db"}}])),
        ("Secret",),
    ),
    (
        "init container secret env",
        pod(
            lambda s: s.update(
                initContainers=[
                    {
                        **copy.deepcopy(s["containers"][0]),
                        "name": "init",
                        "envFrom": [{"secretRef": {"name": "db"}}],
                    }
                ]
            )
        ),
        ("Secret",),
    ),
    (
        "Deployment mounting a secret",
        workload("Deployment", "apps/v1", pod(volume({"secret": {"secretName": "db"}}))["spec"]),
        ("Secret",),
    ),
    (
        "service account of the namespace admin",
        pod(pod_level(serviceAccountName="namespace-admin")),
        ("service account",),
    ),
    (
        "deprecated serviceAccount field",
        pod(pod_level(serviceAccount="namespace-admin")),
        ("service account",),
    ),
]

CLUSTER_ATTACKS = [
    (
        "default IngressClass",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {
                "name": "evil",
                "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
            },
            "spec": {"controller": "example.com/evil"},
        },
        ("cluster",),
    ),
    (
        "FlowSchema throttling everyone",
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": "evil"},
            "spec": {
                "priorityLevelConfiguration": {"name": "evil"},
                "matchingPrecedence": 1,
                "rules": [
                    {
                        "subjects": [{"kind": "Group", "group": {"name": "system:authenticated"}}],
                        "resourceRules": [
                            {
                                "verbs": ["*"],
                                "apiGroups": ["*"],
                                "resources": ["*"],
                                "clusterScope": True,
                                "namespaces": ["*"],
                            }
                        ],
                    }
                ],
            },
        },
        ("cluster",),
    ),
    (
        "PriorityLevelConfiguration",
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "PriorityLevelConfiguration",
            "metadata": {"name": "evil"},
            "spec": {
                "type": "Limited",
                "limited": {"nominalConcurrencyShares": 1, "limitResponse": {"type": "Reject"}},
            },
        },
        ("cluster",),
    ),
    (
        "ClusterRole",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "evil"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        ("admin",),
    ),
    (
        "ClusterRoleBinding to cluster-admin",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "evil"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [
                {"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
        ("admin",),
    ),
    ("a Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "evil-ns"}}, ("admin",)),
    (
        "a StorageClass",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "evil"},
            "provisioner": "example.com/evil",
        },
        ("admin",),
    ),
    (
        "a webhook that sees every request",
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "evil"},
            "webhooks": [],
        },
        ("admin",),
    ),
    (
        "a SecretList smuggling a Secret",
        {
            "apiVersion": "v1",
            "kind": "SecretList",
            "items": [
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
            ],
        },
        ("Secret",),
    ),
    (
        "a RoleBindingList",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBindingList",
            "items": [
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": "b"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "admin",
                    },
                    "subjects": [
                        {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}
                    ],
                }
            ],
        },
        ("RoleBinding",),
    ),
    (
        "a List holding a privileged pod",
        {"apiVersion": "v1", "kind": "List", "items": [pod(PRIVILEGED)]},
        ("privileged",),
    ),
]


def as_text(manifest: dict[str, Any], form: str) -> str:
    return json.dumps(manifest) if form == "json" else yaml.safe_dump(manifest, sort_keys=False)


ALL = [*POD_ATTACKS, *WORKLOAD_ATTACKS, *SECRET_ATTACKS, *CLUSTER_ATTACKS]


@pytest.fixture(scope="module")
def hostile_namespace(cluster: KubeCluster) -> Iterator[str]:
    api = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core = k8s.CoreV1Api(api)
    name = f"hostile-{secrets.token_hex(3)}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    wait_until(
        lambda: core.read_namespaced_service_account("default", name) is not None, timeout=30, what="sa"
    )
    yield name
    core.delete_namespace(name)
    api.close()


def operator_config(cluster: KubeCluster, tmp: Path) -> dict[str, Any]:
    return {
        "role": "operator",
        "audit": {"path": str(tmp / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {"tiers": {"deployment": "write"}, "k8s_namespaces": ["*"]},
        "limits": {"identity": {"rate": 1000, "burst": 1000}},  # hundreds of attempts in one session
        "deployment": {
            "kubeconfig": str(cluster.kubeconfig),
            "docker_host": "unix:///nonexistent/docker.sock",
        },
    }


@pytest.fixture(scope="module")
async def operator(cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    async with deployment_session(operator_config(cluster, tmp_path_factory.mktemp("operator"))) as client:
        yield client


@pytest.mark.parametrize("form", ["yaml", "json"])
@pytest.mark.parametrize(("what", "manifest", "words"), ALL, ids=[a[0] for a in ALL])
async def test_an_operator_cannot_plan_past_the_admission_policy(
    operator: Client, hostile_namespace: str, attempt: Attempt, what: str, manifest: dict[str, Any],
    words: tuple[str, ...], form: str,
) -> None:  # fmt: skip
    with attempt("k8s admission", f"{what} ({form})"):
        result = await operator.call_tool(
            "k8s_plan", {"manifests": as_text(manifest, form), "namespace": hostile_namespace}
        )
        assert result.is_error, result.structured_content
        assert "plan_id" not in str(result.structured_content)
    message = error_text(result)  # the refusal names the object, the field path and the control
    for word in words:
        assert word in message, (what, message)


async def test_the_apiserver_itself_would_admit_a_privileged_pod(
    cluster: KubeCluster, hostile_namespace: str
) -> None:
    """The control of this suite: with --allow-privileged=true the cluster accepts what we refuse."""
    api = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        core = k8s.CoreV1Api(api)
        body = pod(
            both(PRIVILEGED, pod_level(hostPID=True), volume({"hostPath": {"path": "/"}})), name="control"
        )
        created = core.create_namespaced_pod(hostile_namespace, body, dry_run="All")
        assert created.spec.containers[0].security_context.privileged is True
    finally:
        api.close()


async def test_an_aliased_privileged_block_is_refused_too(
    operator: Client, hostile_namespace: str, attempt: Attempt
) -> None:
    text = (
        "x-priv: &priv {privileged: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: aliased}\n"
        "spec:\n  securityContext: {runAsNonRoot: true, runAsUser: 1000,\n"
        "    seccompProfile: {type: RuntimeDefault}}\n"
        "  containers:\n  - name: app\n    image: busybox:1\n    securityContext: *priv\n"
    )
    with attempt("k8s admission", "privileged through a YAML alias"):
        message = error_text(
            await operator.call_tool("k8s_plan", {"manifests": text, "namespace": hostile_namespace})
        )
        assert "privileged" in message
