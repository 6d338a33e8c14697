"""k8s_describe, node maintenance, k8s_exec's refusals, and the caller's own identity at the cluster
(impersonation checked by the real apiserver's RBAC)."""

from __future__ import annotations

import getpass
import secrets
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes import client as k8s

from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.integration.deployment.test_k8s_server import deployment_yaml, plan_and_apply
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def config(
    cluster: KubeCluster,
    tmp_path: Path,
    *,
    tier: str = "admin",
    role: str = "admin",
    namespaces: tuple[str, ...] = ("*",),
    exec_commands: tuple[str, ...] = (),
    **deployment: Any,
) -> dict[str, Any]:
    return {
        "role": role,
        "audit": {"path": str(tmp_path / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {
            "tiers": {"deployment": tier},
            "k8s_namespaces": list(namespaces),
            "k8s_exec_commands": list(exec_commands),
        },
        "deployment": {
            "kubeconfig": str(cluster.kubeconfig),
            "docker_host": "unix:///nonexistent/docker.sock",
            "rollout_poll_s": 0.2,
            **deployment,
        },
    }


async def test_describe_tells_the_whole_story(cluster: KubeCluster, namespace: str, tmp_path: Path) -> None:
    async with deployment_session(config(cluster, tmp_path)) as client:
        await plan_and_apply(client, deployment_yaml(replicas=2), namespace)
        await client.call_tool(
            "k8s_rollout_status", {"deployment": "web", "namespace": namespace, "timeout_s": 90}
        )
        story = data(
            await client.call_tool(
                "k8s_describe", {"kind": "Deployment", "name": "web", "namespace": namespace}
            )
        )
        pod = story["pods"][0]["name"]
        pod_story = data(
            await client.call_tool("k8s_describe", {"kind": "Pod", "name": pod, "namespace": namespace})
        )

    assert {c["type"] for c in story["conditions"]} >= {"Available", "Progressing"}
    assert [p["phase"] for p in story["pods"]] == ["Running", "Running"]
    assert any(e["reason"] == "ScalingReplicaSet" for e in story["events"])
    assert story["spec"]["replicas"] == 2 and story["owners"] == []
    assert pod_story["owners"][0].startswith("ReplicaSet/web-") and pod_story["owners"][1] == "Deployment/web"


async def test_cordon_drain_plan_respects_budgets_and_uncordon(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    pdb = (
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\n"
        f"metadata: {{name: keep, namespace: {namespace}}}\n"
        "spec: {minAvailable: 2, selector: {matchLabels: {app: web}}}\n"
    )
    core = k8s.CoreV1Api(api)
    # Only this test's namespace is writable: pods of other tests on the node are left alone.
    async with deployment_session(config(cluster, tmp_path, namespaces=(namespace,))) as client:
        await plan_and_apply(client, deployment_yaml(replicas=2) + "---\n" + pdb, namespace)
        await client.call_tool(
            "k8s_rollout_status", {"deployment": "web", "namespace": namespace, "timeout_s": 90}
        )
        try:
            cordoned = data(await client.call_tool("k8s_cordon", {"node": "kwok-node-0"}))
            assert cordoned["unschedulable"] is True
            with anyio.fail_after(30):
                while True:  # the budget controller has to see both pods ready before it allows anything
                    plan = data(await client.call_tool("k8s_drain_plan", {"node": "kwok-node-0"}))
                    if any(b.startswith(f"{namespace}/keep: 0") for b in plan["disruption_budgets"]):
                        break
                    await anyio.sleep(0.3)
            mine = [p for p in plan["pods"] if p["namespace"] == namespace]
            assert [p["action"] for p in mine] == ["evict", "evict"]
            assert all(p["action"] == "skip" for p in plan["pods"] if p["namespace"] != namespace)
            drained = data(await client.call_tool("k8s_drain", {"plan_id": plan["plan_id"]}))
            assert sorted(drained["blocked"]) == sorted(f"{namespace}/{p['name']}" for p in mine)
            assert drained["evicted"] == [] or all(not e.startswith(namespace) for e in drained["evicted"])
            assert len(core.list_namespaced_pod(namespace).items) == 2  # the budget kept both
        finally:
            uncordoned = data(await client.call_tool("k8s_uncordon", {"node": "kwok-node-0"}))
        assert uncordoned["unschedulable"] is False
    operator = config(cluster, tmp_path, tier="admin", role="operator")
    async with deployment_session(operator) as client:
        refused = await client.call_tool("k8s_cordon", {"node": "kwok-node-0"})
    assert "deployment:admin" in error_text(refused)


async def test_exec_refuses_what_is_not_allowlisted(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    settings = config(cluster, tmp_path, exec_commands=("date",))
    async with deployment_session(settings) as client:
        shell = await client.call_tool(
            "k8s_exec", {"pod": "p", "command": ["sh", "-c", "id"], "namespace": namespace}
        )
        path = await client.call_tool(
            "k8s_exec", {"pod": "p", "command": ["/bin/date"], "namespace": namespace}
        )
        protected = await client.call_tool(
            "k8s_exec", {"pod": "p", "command": ["date"], "namespace": "kube-system"}
        )
        missing = await client.call_tool(
            "k8s_exec", {"pod": "p", "command": ["date"], "namespace": namespace}
        )
    async with deployment_session(config(cluster, tmp_path, tier="write", role="operator")) as client:
        tools = {t.name for t in (await client.list_tools()).tools}

    assert "not in the exec allowlist" in error_text(shell) and "not in the exec allowlist" in error_text(
        path
    )
    assert "protected" in error_text(protected)
    assert "not found" in error_text(missing)
    assert "k8s_exec" not in tools  # admin tier by default


async def test_each_caller_acts_as_their_own_cluster_user(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    user = f"code:dev-{secrets.token_hex(3)}"
    mapping = {"enabled": True, "methods": ["local"], "users": {getpass.getuser(): user}}
    settings = config(cluster, tmp_path, tier="write", role="operator", impersonation=mapping)
    async with deployment_session(settings) as client:
        before = await client.call_tool("k8s_list", {"kind": "ConfigMap", "namespace": namespace})
        rbac = k8s.RbacAuthorizationV1Api(api)
        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "cm-reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "cm-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            },
        )
        with anyio.fail_after(30):
            while True:  # RBAC caches settle within a moment
                after = await client.call_tool("k8s_list", {"kind": "ConfigMap", "namespace": namespace})
                if not after.is_error:
                    break
                await anyio.sleep(0.2)
        write = await client.call_tool(
            "k8s_plan",
            {"manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "namespace": namespace},
        )

    assert "RBAC forbids it" in error_text(before) and user in error_text(before)
    assert "kube-root-ca.crt" in [c["name"] for c in rows(data(after))]
    assert "forbids" in error_text(write)  # may list, may not create: the cluster decides per caller


POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: shell-less}\n"
    "spec:\n  securityContext: {runAsNonRoot: true, runAsUser: 65534,\n"
    "    seccompProfile: {type: RuntimeDefault}}\n"
    "  containers:\n  - name: app\n    image: busybox:1\n"
    "    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n"
)


async def running_pod(client: Any, namespace: str) -> None:
    await plan_and_apply(client, POD, namespace)
    with anyio.fail_after(60):
        while True:
            pods = data(await client.call_tool("k8s_list", {"kind": "pods", "namespace": namespace}))
            if rows(pods) and rows(pods)[0]["status"] == "Running":
                return
            await anyio.sleep(0.2)


async def test_exec_runs_the_argv_without_a_shell_bounded_and_redacted(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    """kwok runs the exec for real (its ClusterExec, as nobody): argv reaches the program as given."""
    settings = config(cluster, tmp_path, exec_commands=("date", "echo", "sleep"), exec={"timeout_s": 2})
    async with deployment_session(settings) as client:
        await running_pod(client, namespace)
        year = data(
            await client.call_tool(
                "k8s_exec", {"pod": "shell-less", "command": ["date", "-u", "+%Y"], "namespace": namespace}
            )
        )
        literal = data(
            await client.call_tool(
                "k8s_exec",
                {"pod": "shell-less", "command": ["echo", "$(id)", ";", "id"], "namespace": namespace},
            )
        )
        secret = data(
            await client.call_tool(
                "k8s_exec",
                {"pod": "shell-less", "command": ["echo", "DB_PASSWORD=hunter2"], "namespace": namespace},
            )
        )
        slow = data(
            await client.call_tool(
                "k8s_exec", {"pod": "shell-less", "command": ["sleep", "30"], "namespace": namespace}
            )
        )
    assert year["exit_code"] == 0 and year["stdout"].strip().isdigit()
    assert literal["stdout"].strip() == "$(id) ; id"  # no shell ever read the arguments
    assert "hunter2" not in secret["stdout"] and "DB_PASSWORD=" in secret["stdout"]
    assert slow["timed_out"] is True and slow["exit_code"] is None
