"""The Kubernetes tools through a real MCP client against a real control plane (apiserver, controllers,
scheduler, etcd, kwok): plan → apply → rollout → scale → restart → rollback → delete, and refusals."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes import client as k8s

from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


# What the restricted Pod Security Standard asks of every pod: the suite's default admission level.
POD_SECURITY = (
    "securityContext: {runAsNonRoot: true, runAsUser: 65534, seccompProfile: {type: RuntimeDefault}}"
)
CONTAINER_SECURITY = "securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}"


def deployment_yaml(image: str = "busybox:1.0", replicas: int = 2, name: str = "web") -> str:
    """A Deployment that passes the restricted Pod Security Standard (what a careful team ships)."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      {POD_SECURITY}
      containers:
      - name: {name}
        image: {image}
        {CONTAINER_SECURITY}
"""


def config(
    cluster: KubeCluster, tmp_path: Path, *, tier: str = "write", role: str = "operator", **policy: Any
) -> dict[str, Any]:
    return {
        "role": role,
        "audit": {"path": str(tmp_path / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {"tiers": {"deployment": tier}, "k8s_namespaces": ["*"], **policy},
        "deployment": {
            "kubeconfig": str(cluster.kubeconfig),
            "docker_host": "unix:///nonexistent/docker.sock",
            "rollout_poll_s": 0.2,
            "rollout_timeout_s": 120,
        },
    }


async def plan_and_apply(client: Any, manifests: str, namespace: str) -> dict[str, Any]:
    plan = data(await client.call_tool("k8s_plan", {"manifests": manifests, "namespace": namespace}))
    return data(await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))


async def rollout(client: Any, namespace: str, name: str = "web") -> dict[str, Any]:
    return data(
        await client.call_tool(
            "k8s_rollout_status", {"deployment": name, "namespace": namespace, "timeout_s": 90}
        )
    )


async def test_plan_apply_rollout_scale_restart_rollback_delete(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    apps = k8s.AppsV1Api(api)
    async with deployment_session(config(cluster, tmp_path, tier="admin", role="admin")) as client:
        plan = data(
            await client.call_tool("k8s_plan", {"manifests": deployment_yaml(), "namespace": namespace})
        )
        assert [(c["kind"], c["name"], c["action"]) for c in plan["changes"]] == [
            ("Deployment", "web", "create")
        ]
        assert "image: busybox:1.0" in plan["changes"][0]["diff"]
        with pytest.raises(k8s.ApiException):
            apps.read_namespaced_deployment("web", namespace)  # a plan changes nothing

        applied = data(await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))
        assert applied["sha256"] == plan["sha256"]
        again = await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})
        assert "already applied" in error_text(again)

        updates: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            updates.append((progress, total, message))

        status = data(
            await client.call_tool(
                "k8s_rollout_status",
                {"deployment": "web", "namespace": namespace, "timeout_s": 90},
                progress_callback=on_progress,
            )
        )
        assert status["complete"] and status["available"] == 2, status
        assert updates and "rollout complete" in (updates[-1][2] or "")

        pods = data(
            await client.call_tool(
                "k8s_list", {"kind": "Pod", "namespace": namespace, "label_selector": "app=web"}
            )
        )
        assert [p["status"] for p in rows(pods)] == ["Running", "Running"]

        scaled = data(
            await client.call_tool("k8s_scale", {"name": "web", "replicas": 3, "namespace": namespace})
        )
        assert (scaled["previous_replicas"], scaled["replicas"]) == (2, 3)
        assert (await rollout(client, namespace))["available"] == 3

        await plan_and_apply(client, deployment_yaml(image="busybox:2.0", replicas=3), namespace)
        status = await rollout(client, namespace)
        assert status["complete"] and status["revision"] == 2

        restarted = data(
            await client.call_tool("k8s_rollout_restart", {"deployment": "web", "namespace": namespace})
        )
        assert restarted["action"] == "restarted"
        status = await rollout(client, namespace)
        assert status["complete"] and status["revision"] == 3

        back = data(
            await client.call_tool(
                "k8s_rollback", {"deployment": "web", "revision": 1, "namespace": namespace}
            )
        )
        assert back["revision"] == 1
        status = await rollout(client, namespace)
        assert status["complete"], status
        live = apps.read_namespaced_deployment("web", namespace)
        assert live.spec.template.spec.containers[0].image == "busybox:1.0"

        previous = data(await client.call_tool("k8s_rollback", {"deployment": "web", "namespace": namespace}))
        assert previous["revision"] == 3
        await rollout(client, namespace)
        live = apps.read_namespaced_deployment("web", namespace)
        assert live.spec.template.spec.containers[0].image == "busybox:2.0"
        assert "kubectl.kubernetes.io/restartedAt" in (live.spec.template.metadata.annotations or {})

        events = data(
            await client.call_tool(
                "k8s_events", {"namespace": namespace, "kind": "Deployment", "name": "web"}
            )
        )
        assert any(e["reason"] == "ScalingReplicaSet" for e in rows(events))

        deleted = data(
            await client.call_tool(
                "k8s_delete", {"kind": "Deployment", "name": "web", "namespace": namespace}
            )
        )
        assert deleted["status"] in ("deleted", "deleting")
        with anyio.fail_after(30):
            while True:
                gone = await client.call_tool(
                    "k8s_get", {"kind": "Deployment", "name": "web", "namespace": namespace}
                )
                if gone.is_error:
                    assert "not found" in error_text(gone)
                    break
                await anyio.sleep(0.2)


async def test_apply_is_refused_when_the_live_object_changed_after_the_plan(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    core = k8s.CoreV1Api(api)
    first = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: a}\n"
    second = first.replace("mode: a", "mode: b")
    async with deployment_session(config(cluster, tmp_path)) as client:
        await plan_and_apply(client, first, namespace)
        plan = data(await client.call_tool("k8s_plan", {"manifests": second, "namespace": namespace}))
        assert plan["changes"][0]["action"] == "update"
        assert "-  mode: a" in plan["changes"][0]["diff"] and "+  mode: b" in plan["changes"][0]["diff"]

        core.patch_namespaced_config_map("settings", namespace, {"data": {"mode": "someone-else"}})
        refused = await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})

        assert "changed since the plan" in error_text(refused)
        assert core.read_namespaced_config_map("settings", namespace).data == {"mode": "someone-else"}

        # The field now belongs to another manager: a new plan says so, unless told to take it over.
        conflict = await client.call_tool("k8s_plan", {"manifests": second, "namespace": namespace})
        assert "conflict" in error_text(conflict)
        replanned = data(
            await client.call_tool(
                "k8s_plan", {"manifests": second, "namespace": namespace, "force_conflicts": True}
            )
        )
        assert "-  mode: someone-else" in replanned["changes"][0]["diff"]
        data(await client.call_tool("k8s_apply", {"plan_id": replanned["plan_id"]}))
        assert core.read_namespaced_config_map("settings", namespace).data == {"mode": "b"}


async def test_an_unchanged_object_plans_as_unchanged(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\ndata: {k: v}\n"
    async with deployment_session(config(cluster, tmp_path)) as client:
        await plan_and_apply(client, manifest, namespace)
        plan = data(await client.call_tool("k8s_plan", {"manifests": manifest, "namespace": namespace}))

    assert plan["changes"][0]["action"] == "unchanged"
    assert plan["changes"][0]["diff"] == ""


async def test_protected_namespaces_are_never_changed(cluster: KubeCluster, tmp_path: Path) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n"
    async with deployment_session(config(cluster, tmp_path, tier="admin", role="admin")) as client:
        plan = await client.call_tool("k8s_plan", {"manifests": manifest})
        scale = await client.call_tool(
            "k8s_scale", {"name": "coredns", "replicas": 0, "namespace": "kube-system"}
        )
        delete = await client.call_tool(
            "k8s_delete", {"kind": "ConfigMap", "name": "kube-root-ca.crt", "namespace": "kube-system"}
        )
        delete_namespace = await client.call_tool("k8s_delete", {"kind": "Namespace", "name": "kube-system"})
        read = await client.call_tool("k8s_list", {"kind": "ConfigMap", "namespace": "kube-system"})
        read_namespace = await client.call_tool("k8s_get", {"kind": "Namespace", "name": "kube-system"})

    for refused in (plan, scale, delete, delete_namespace):
        assert "protected" in error_text(refused)
    assert "kube-root-ca.crt" in [c["name"] for c in rows(data(read))]
    assert data(read_namespace)["name"] == "kube-system"  # protected means read-only, not hidden


async def test_namespace_context_and_kind_policies_are_enforced(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    k8s.CoreV1Api(api).create_namespaced_secret(
        namespace,
        k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="db"), string_data={"password": "hunter2-db-pass"}),
    )
    role = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
        f"metadata: {{name: r, namespace: {namespace}}}\nrules: []\n"
    )
    async with deployment_session(config(cluster, tmp_path, k8s_namespaces=[namespace])) as client:
        other_ns = await client.call_tool("k8s_list", {"kind": "Pod", "namespace": "default"})
        other_context = await client.call_tool(
            "k8s_list", {"kind": "Pod", "namespace": namespace, "context": "prod"}
        )
        rbac = await client.call_tool("k8s_plan", {"manifests": role})
        secret = await client.call_tool("k8s_get", {"kind": "Secret", "name": "db", "namespace": namespace})
        contexts = data(await client.call_tool("k8s_contexts", {}))
    async with deployment_session(config(cluster, tmp_path, tier="admin", role="admin")) as client:
        as_admin = data(
            await client.call_tool("k8s_get", {"kind": "Secret", "name": "db", "namespace": namespace})
        )

    assert "not allowed by policy" in error_text(other_ns)
    assert "context 'prod' is not allowed" in error_text(other_context)
    assert "admin role" in error_text(rbac)
    assert "admin role" in error_text(secret)
    assert [(c["name"], c["current"]) for c in rows(contexts)] == [(cluster.context, True)]
    assert "aHVudGVyMi1kYi1wYXNz" not in str(as_admin) and "hunter2" not in str(as_admin)
    assert "redacted" in as_admin["object"]["data"]["password"].lower()
    assert "managedFields" not in as_admin["object"]["metadata"]


async def test_a_plan_cannot_be_applied_by_another_caller_or_below_the_tier(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
    async with deployment_session(config(cluster, tmp_path, tier="read", role="viewer")) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "k8s_plan" not in tools and "k8s_apply" not in tools and "k8s_delete" not in tools
        unknown = await client.call_tool("k8s_apply", {"plan_id": "plan-x"})
        assert unknown.is_error
    async with deployment_session(config(cluster, tmp_path, role="viewer")) as client:
        refused = await client.call_tool("k8s_plan", {"manifests": manifest, "namespace": namespace})
        assert "deployment:write" in error_text(refused)


async def test_pod_logs_come_from_the_kubelet_api(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\n"
        f"spec:\n  {POD_SECURITY}\n"
        f"  containers:\n  - name: app\n    image: busybox:1\n    {CONTAINER_SECURITY}\n"
    )
    async with deployment_session(config(cluster, tmp_path)) as client:
        await plan_and_apply(client, pod, namespace)
        with anyio.fail_after(60):
            while True:
                got = data(await client.call_tool("k8s_list", {"kind": "pods", "namespace": namespace}))
                if rows(got) and rows(got)[0]["status"] == "Running":
                    break
                await anyio.sleep(0.2)
        logs = data(await client.call_tool("k8s_logs", {"pod": "app", "namespace": namespace, "tail": 2}))
        hostile = await client.call_tool("k8s_logs", {"pod": "../../etc/passwd", "namespace": namespace})

    assert logs["text"].splitlines() == ["listening on :8080", "ready"]
    assert "not a valid Kubernetes name" in error_text(hostile)


async def test_rollout_status_times_out_with_the_state_so_far(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    # A node selector no node matches: the pods stay Pending and the rollout cannot complete.
    stuck = deployment_yaml(name="stuck").replace(
        "    spec:\n", "    spec:\n      nodeSelector: {missing: label}\n", 1
    )
    async with deployment_session(config(cluster, tmp_path)) as client:
        await plan_and_apply(client, stuck, namespace)
        status = data(
            await client.call_tool(
                "k8s_rollout_status", {"deployment": "stuck", "namespace": namespace, "timeout_s": 2}
            )
        )

    assert status["complete"] is False
    assert status["message"].startswith("timed out after 2s")
