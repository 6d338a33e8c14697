"""Two deployment replicas (each its own Runtime, as two pods) sharing plans through a real Redis,
against the real control plane: plan on one, apply on the other, replay refused on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.integration.deployment.test_k8s_server import config, deployment_yaml
from tests.integration.scale.redis_service import RedisServer, redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def redis_srv(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def apps(api: k8s.ApiClient) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api)


def replica_config(cluster: KubeCluster, tmp_path: Path, store: str, redis_url: str) -> dict[str, Any]:
    """One pod's configuration: its own audit log (a random name), the fleet's Redis."""
    conf = config(cluster, tmp_path)
    conf["deployment"]["plan_store"] = store
    conf["redis"] = {"url": redis_url, "timeout_s": 2}
    return conf


async def test_a_plan_made_on_one_replica_is_applied_on_another_once(
    cluster: KubeCluster, namespace: str, tmp_path: Path, redis_srv: RedisServer, apps: k8s.AppsV1Api
) -> None:
    pod_a, pod_b = (replica_config(cluster, tmp_path, "redis", redis_srv.url) for _ in range(2))
    async with deployment_session(pod_a) as replica_a, deployment_session(pod_b) as replica_b:
        plan = data(
            await replica_a.call_tool(
                "k8s_plan", {"manifests": deployment_yaml(name="shared"), "namespace": namespace}
            )
        )
        with pytest.raises(k8s.ApiException):
            apps.read_namespaced_deployment("shared", namespace)  # a plan changes nothing

        applied = data(await replica_b.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))

        assert applied["sha256"] == plan["sha256"]
        assert [(o["kind"], o["name"]) for o in applied["applied"]] == [("Deployment", "shared")]
        assert apps.read_namespaced_deployment("shared", namespace).spec.replicas == 2
        for replica in (replica_a, replica_b):
            replay = await replica.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})
            assert "already applied" in error_text(replay)


async def test_in_memory_plans_do_not_cross_replicas(
    cluster: KubeCluster, namespace: str, tmp_path: Path, redis_srv: RedisServer
) -> None:
    """The failure the Redis store removes: with `memory`, replica B has never heard of A's plan."""
    pod_a, pod_b = (replica_config(cluster, tmp_path, "memory", redis_srv.url) for _ in range(2))
    async with deployment_session(pod_a) as replica_a, deployment_session(pod_b) as replica_b:
        plan = data(
            await replica_a.call_tool("k8s_plan", {"manifests": deployment_yaml(), "namespace": namespace})
        )
        refused = await replica_b.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})

        assert "unknown" in error_text(refused)
        assert data(await replica_a.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))["applied"]


async def test_redis_down_refuses_plan_and_apply_clearly(
    cluster: KubeCluster, namespace: str, tmp_path: Path, redis_srv: RedisServer, apps: k8s.AppsV1Api
) -> None:
    pod_a, pod_b = (replica_config(cluster, tmp_path, "redis", redis_srv.url) for _ in range(2))
    async with deployment_session(pod_a) as replica_a, deployment_session(pod_b) as replica_b:
        plan = data(
            await replica_a.call_tool("k8s_plan", {"manifests": deployment_yaml(), "namespace": namespace})
        )
        redis_srv.kill()

        applying = await replica_b.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})
        planning = await replica_a.call_tool(
            "k8s_plan", {"manifests": deployment_yaml(), "namespace": namespace}
        )

        for refused in (applying, planning):
            assert "plan store (Redis) is unreachable" in error_text(refused)
        with pytest.raises(k8s.ApiException):
            apps.read_namespaced_deployment("web", namespace)
