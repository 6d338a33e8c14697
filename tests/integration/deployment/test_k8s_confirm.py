"""The person confirms a Kubernetes change before it runs: real control plane, the official SDK
client's elicitation handler in both protocol eras, plans in memory and in the fleet's Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from kubernetes import client as k8s
from mcp_types import ElicitRequestParams, ElicitResult

from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.integration.deployment.test_k8s_server import config, deployment_yaml
from tests.integration.scale.redis_service import RedisServer, redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


class Person:
    """The client's elicitation handler: answers with the next scripted action, keeps each question."""

    def __init__(self, *actions: Literal["accept", "decline", "cancel"]) -> None:
        self.actions = list(actions)
        self.questions: list[str] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        action = self.actions.pop(0)
        return ElicitResult(action=action, content={"confirm": True} if action == "accept" else None)


async def plan_web(client: Any, namespace: str) -> dict[str, Any]:
    return data(await client.call_tool("k8s_plan", {"manifests": deployment_yaml(), "namespace": namespace}))


def confirming(cluster: KubeCluster, tmp_path: Path, **confirm: Any) -> dict[str, Any]:
    return config(cluster, tmp_path, confirm=confirm)


@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_apply_shows_the_plan_and_runs_only_after_a_yes(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient, era: str
) -> None:
    apps = k8s.AppsV1Api(api)
    person = Person("decline", "accept")
    conf = confirming(cluster, tmp_path, namespaces={namespace: "always"})
    async with deployment_session(conf, mode=era, elicitation_callback=person) as client:
        plan = await plan_web(client, namespace)
        declined = await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})
        assert "declined" in error_text(declined)
        with pytest.raises(k8s.ApiException):
            apps.read_namespaced_deployment("web", namespace)  # nothing was sent
        applied = data(await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))  # still usable
    assert applied["sha256"] == plan["sha256"]
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 2
    asked = person.questions[0]
    assert person.questions == [asked, asked]  # the same plan, the same question
    assert plan["plan_id"] in asked and plan["sha256"] in asked
    assert f"create Deployment {namespace}/web" in asked and f"namespace {namespace}" in asked


async def test_destructive_asks_for_scale_to_zero_only(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    apps = k8s.AppsV1Api(api)
    person = Person("cancel")
    conf = confirming(cluster, tmp_path, default="destructive")
    async with deployment_session(conf, elicitation_callback=person) as client:
        plan = await plan_web(client, namespace)
        data(await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))  # a create: not asked
        data(await client.call_tool("k8s_scale", {"name": "web", "replicas": 3, "namespace": namespace}))
        stopped = await client.call_tool("k8s_scale", {"name": "web", "replicas": 0, "namespace": namespace})
    assert "dismissed" in error_text(stopped)
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 3
    assert len(person.questions) == 1 and f"Deployment {namespace}/web to 0" in person.questions[0]


async def test_a_client_without_elicitation_is_refused_what_needs_a_yes(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    conf = confirming(cluster, tmp_path, tools={"k8s_apply": "always"})
    async with deployment_session(conf) as client:
        plan = await plan_web(client, namespace)
        refused = await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})
    assert "does not offer form elicitation" in error_text(refused)


@pytest.fixture
def redis_srv(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


async def test_a_plan_in_the_fleets_redis_is_shown_and_applied_by_another_replica(
    cluster: KubeCluster, namespace: str, tmp_path: Path, redis_srv: RedisServer, api: k8s.ApiClient
) -> None:
    person = Person("accept")
    pods = []
    for _ in range(2):
        conf = confirming(cluster, tmp_path, default="always")
        conf["deployment"]["plan_store"] = "redis"
        conf["redis"] = {"url": redis_srv.url, "timeout_s": 2}
        pods.append(conf)
    async with (
        deployment_session(pods[0]) as replica_a,
        deployment_session(pods[1], mode="auto", elicitation_callback=person) as replica_b,
    ):
        plan = await plan_web(replica_a, namespace)
        data(await replica_b.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))
        replay = await replica_b.call_tool("k8s_apply", {"plan_id": plan["plan_id"]})
    assert "already applied" in error_text(replay)
    assert len(person.questions) == 1 and plan["sha256"] in person.questions[0]
    assert k8s.AppsV1Api(api).read_namespaced_deployment("web", namespace).spec.replicas == 2
