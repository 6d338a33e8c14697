"""The Helm tools through a real MCP client against the real control plane, with the real helm v4:
plan → apply → upgrade → rollback → uninstall, a chart repository on loopback, and hostile charts."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tests.integration.deployment.helm_charts import (
    HOST_PATH,
    PRIVILEGED_HOOK,
    chart_repository,
    helm_binary,
    write_chart,
)
from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def config(
    cluster: KubeCluster,
    tmp_path: Path,
    *,
    role: str = "operator",
    chart_repositories: tuple[str, ...] = (),
    **helm: Any,
) -> dict[str, Any]:
    return {
        "role": role,
        "audit": {"path": str(tmp_path / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {
            "tiers": {"deployment": "write"},
            "k8s_namespaces": ["*"],
            "scan_roots": [str(tmp_path)],
            "chart_repositories": list(chart_repositories),
        },
        "deployment": {
            "kubeconfig": str(cluster.kubeconfig),
            "docker_host": "unix:///nonexistent/docker.sock",
            "helm": {"helm_path": str(helm_binary()), **helm},
        },
    }


async def test_plan_apply_upgrade_rollback_uninstall(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    chart = write_chart(tmp_path)
    apps = k8s.AppsV1Api(api)
    async with deployment_session(config(cluster, tmp_path)) as client:
        plan = data(
            await client.call_tool(
                "helm_plan",
                {"chart": str(chart), "release": "shop", "namespace": namespace, "values": {"replicas": 2}},
            )
        )
        assert plan["action"] == "install" and plan["base_revision"] is None
        assert {(c["kind"], c["action"]) for c in plan["changes"]} == {
            ("ConfigMap", "create"),
            ("Deployment", "create"),
        }
        with pytest.raises(k8s.ApiException):
            apps.read_namespaced_deployment("shop", namespace)  # a plan changes nothing
        (rendered,) = (await client.read_resource(f"plan://{plan['plan_id']}/manifests")).contents
        documents = [d for d in yaml.safe_load_all(getattr(rendered, "text", "")) if d]
        assert {d["kind"] for d in documents} == {"ConfigMap", "Deployment"}  # the chart as rendered
        assert next(d for d in documents if d["kind"] == "Deployment")["spec"]["replicas"] == 2

        chart.joinpath("templates", "configmap.yaml").write_text(
            "this is not yaml: ["
        )  # changed after the plan
        applied = data(await client.call_tool("helm_apply", {"plan_id": plan["plan_id"]}))
        assert (applied["revision"], applied["status"], applied["sha256"]) == (1, "deployed", plan["sha256"])
        assert apps.read_namespaced_deployment("shop", namespace).spec.replicas == 2  # the planned chart ran
        again = await client.call_tool("helm_apply", {"plan_id": plan["plan_id"]})
        assert "already applied" in error_text(again)

        write_chart(tmp_path / "v2", version="0.2.0")
        upgrade = data(
            await client.call_tool(
                "helm_plan",
                {
                    "chart": str(tmp_path / "v2" / "web"),
                    "release": "shop",
                    "namespace": namespace,
                    "values": {"replicas": 2, "image": "busybox:2.0"},
                },
            )
        )
        changes = {c["kind"]: c for c in upgrade["changes"]}
        assert upgrade["action"] == "upgrade" and upgrade["base_revision"] == 1
        assert changes["ConfigMap"]["action"] == "unchanged"
        assert "-      - image: busybox:1.0" in changes["Deployment"]["diff"]
        assert "+      - image: busybox:2.0" in changes["Deployment"]["diff"]
        assert data(await client.call_tool("helm_apply", {"plan_id": upgrade["plan_id"]}))["revision"] == 2

        history = data(await client.call_tool("helm_history", {"release": "shop", "namespace": namespace}))
        assert [(r["revision"], r["chart"]) for r in rows(history)] == [(1, "web-0.1.0"), (2, "web-0.2.0")]
        values = data(await client.call_tool("helm_values", {"release": "shop", "namespace": namespace}))
        assert values["values"] == {"replicas": 2, "image": "busybox:2.0"}

        back = data(
            await client.call_tool(
                "helm_rollback", {"release": "shop", "revision": 1, "namespace": namespace}
            )
        )
        assert back["action"] == "rollback" and back["target_revision"] == 1
        assert "+      - image: busybox:1.0" in {c["kind"]: c for c in back["changes"]}["Deployment"]["diff"]
        assert data(await client.call_tool("helm_apply", {"plan_id": back["plan_id"]}))["revision"] == 3
        live = apps.read_namespaced_deployment("shop", namespace)
        assert live.spec.template.spec.containers[0].image == "busybox:1.0"

        status = data(await client.call_tool("helm_status", {"release": "shop", "namespace": namespace}))
        assert (status["revision"], status["status"]) == (3, "deployed")
        assert "Deployment/shop" in status["resources"]
        listed = data(await client.call_tool("helm_list", {"namespace": namespace}))
        assert [r["name"] for r in rows(listed)] == ["shop"]

        stale = data(
            await client.call_tool(
                "helm_plan",
                {"chart": str(chart.parent / "v2" / "web"), "release": "shop", "namespace": namespace},
            )
        )
        gone = data(await client.call_tool("helm_uninstall", {"release": "shop", "namespace": namespace}))
        assert sorted(gone["removed"]) == [
            f"ConfigMap/{namespace}/shop-config",
            f"Deployment/{namespace}/shop",
        ]
        moved = await client.call_tool("helm_apply", {"plan_id": stale["plan_id"]})
        assert "since the plan" in error_text(moved)


async def test_hostile_charts_are_refused_at_plan_time(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    good = write_chart(tmp_path / "good")
    host_path = write_chart(tmp_path / "hostpath", extra={"reader.yaml": HOST_PATH})
    hook = write_chart(tmp_path / "hook", extra={"migrate.yaml": PRIVILEGED_HOOK})
    (tmp_path / "escape").symlink_to("/etc")
    async with deployment_session(config(cluster, tmp_path)) as client:

        async def plan(chart: str, release: str = "x", **extra: Any) -> str:
            return error_text(
                await client.call_tool(
                    "helm_plan", {"chart": chart, "release": release, "namespace": namespace, **extra}
                )
            )

        privileged = await plan(str(good), values={"privileged": True})
        host = await plan(str(host_path))
        hooked = await plan(str(hook))
        injected = await plan("--post-renderer=/bin/sh")
        release = await plan(str(good), release="--post-renderer=/bin/sh")
        dotdot = await plan(str(tmp_path / ".." / ".." / "etc"))
        link = await plan(str(tmp_path / "escape"))
        remote = await plan("web", repo="http://169.254.169.254/charts")
        protected = error_text(
            await client.call_tool(
                "helm_plan", {"chart": str(good), "release": "x", "namespace": "kube-system"}
            )
        )
        releases = data(await client.call_tool("helm_list", {"namespace": namespace}))

    assert 'violates PodSecurity "restricted:latest": privileged' in privileged
    assert 'restricted volume type "hostPath"' in host and "Pod" in host
    assert "Job" in hooked and "privileged" in hooked
    assert "dash" in injected
    assert "not a valid Kubernetes name" in release
    assert "outside the allowed roots" in dotdot and "outside the allowed roots" in link
    assert "no chart repository is allowed" in remote
    assert "protected" in protected
    assert rows(releases) == []


async def test_charts_from_a_repository_on_loopback(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    charts = [
        write_chart(tmp_path / "src1", version="0.1.0"),
        write_chart(tmp_path / "src2", version="0.2.0"),
    ]
    with chart_repository(helm_binary(), charts, tmp_path / "repo") as url:
        async with deployment_session(config(cluster, tmp_path, chart_repositories=(url,))) as client:
            plan = data(
                await client.call_tool(
                    "helm_plan",
                    {
                        "chart": "web",
                        "repo": url,
                        "version": "0.1.0",
                        "release": "repo",
                        "namespace": namespace,
                    },
                )
            )
            applied = data(await client.call_tool("helm_apply", {"plan_id": plan["plan_id"]}))
            missing = await client.call_tool(
                "helm_plan",
                {"chart": "web", "repo": url, "version": "9.9.9", "release": "r", "namespace": namespace},
            )
            elsewhere = await client.call_tool(
                "helm_plan",
                {"chart": "web", "repo": "http://127.0.0.1:6379/", "release": "r", "namespace": namespace},
            )

    assert plan["chart"] == "web-0.1.0" and applied["status"] == "deployed"
    assert "no version '9.9.9'" in error_text(missing)
    assert "not in the allowlist" in error_text(elsewhere)
