"""Secrets planted where each tool reads (cluster objects, container output and labels, Prometheus
label values, provider answers, scanned source) must not leave in any tool result: not in the
structured content, not in the text. Every secret format of the redaction table, every output path,
through real MCP sessions on the real components."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as kube_config
from mcp import Client
from mcp_types import CallToolResult

from tests.hostile.conftest import Attempt
from tests.integration.deployment.docker_engine import DockerEngine
from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import deployment_session
from tests.support.services import wait_until
from tests.unit.shared.test_redaction import CASES

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SINGLE_LINE = [case for case in CASES if "\n" not in case.text and len(case.text) < 1000]


def everything(result: CallToolResult) -> str:
    """All a client receives of a result, as one string (text blocks and structured content)."""
    texts = " ".join(getattr(block, "text", "") for block in result.content)
    return texts + json.dumps(result.structured_content or {}) + json.dumps(result.meta or {})


def check_each(attempt: Attempt, path: str, result: CallToolResult, cases: Any = CASES) -> None:
    assert not result.is_error, result.content
    seen = everything(result)
    for case in cases:
        with attempt(f"redaction: {path}", case.id):
            assert case.secret not in seen, f"{case.id} leaked through {path}"


@pytest.fixture(scope="module")
def secret_namespace(cluster: KubeCluster) -> Iterator[tuple[str, k8s.ApiClient]]:
    api = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core = k8s.CoreV1Api(api)
    name = f"leaks-{secrets.token_hex(3)}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    wait_until(
        lambda: core.read_namespaced_service_account("default", name) is not None, timeout=30, what="sa"
    )
    yield name, api
    core.delete_namespace(name)
    api.close()


def k8s_config(cluster: KubeCluster, tmp: Path, engine: DockerEngine | None = None) -> dict[str, Any]:
    return {
        "role": "admin",  # admin may read Secrets: what leaves must still be redacted
        "audit": {"path": str(tmp / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {"tiers": {"deployment": "write"}, "k8s_namespaces": ["*"]},
        "limits": {"identity": {"rate": 1000, "burst": 1000}},
        "deployment": {
            "kubeconfig": str(cluster.kubeconfig),
            "docker_host": engine.host if engine is not None else "unix:///nonexistent/docker.sock",
        },
    }


@pytest.fixture(scope="module")
async def admin(
    cluster: KubeCluster, engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Client]:
    async with deployment_session(k8s_config(cluster, tmp_path_factory.mktemp("leaks"), engine)) as client:
        yield client


def data_of(cases: Any) -> dict[str, str]:
    return {case.id.replace("_", "-")[:200]: case.text for case in cases}


async def test_configmap_values_do_not_leave_through_k8s_get(
    admin: Client, secret_namespace: tuple[str, k8s.ApiClient], attempt: Attempt
) -> None:
    namespace, api = secret_namespace
    k8s.CoreV1Api(api).create_namespaced_config_map(
        namespace, {"metadata": {"name": "leaky"}, "data": data_of(CASES)}
    )
    result = await admin.call_tool("k8s_get", {"kind": "ConfigMap", "name": "leaky", "namespace": namespace})
    check_each(attempt, "k8s_get ConfigMap", result)


async def test_secret_values_do_not_leave_through_k8s_get(
    admin: Client, secret_namespace: tuple[str, k8s.ApiClient], attempt: Attempt
) -> None:
    namespace, api = secret_namespace
    k8s.CoreV1Api(api).create_namespaced_secret(
        namespace, {"metadata": {"name": "leaky"}, "stringData": data_of(CASES)}
    )
    result = await admin.call_tool("k8s_get", {"kind": "Secret", "name": "leaky", "namespace": namespace})
    check_each(attempt, "k8s_get Secret", result)


async def test_env_values_do_not_leave_through_k8s_get(
    admin: Client, secret_namespace: tuple[str, k8s.ApiClient], attempt: Attempt
) -> None:
    namespace, api = secret_namespace
    env = [{"name": f"VAR_{i}", "value": case.text} for i, case in enumerate(CASES)]
    deployment = {
        "metadata": {"name": "leaky"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "leaky"}},
            "template": {
                "metadata": {"labels": {"app": "leaky"}},
                "spec": {"containers": [{"name": "app", "image": "busybox:1", "env": env}]},
            },
        },
    }
    k8s.AppsV1Api(api).create_namespaced_deployment(namespace, deployment)
    result = await admin.call_tool("k8s_get", {"kind": "Deployment", "name": "leaky", "namespace": namespace})
    check_each(attempt, "k8s_get Deployment env", result)


async def test_live_values_do_not_leave_through_a_plan_diff(
    admin: Client, secret_namespace: tuple[str, k8s.ApiClient], attempt: Attempt
) -> None:
    namespace, api = secret_namespace
    k8s.CoreV1Api(api).create_namespaced_config_map(
        namespace, {"metadata": {"name": "diffed"}, "data": data_of(CASES)}
    )
    changed = {key: f"rotated {index}" for index, key in enumerate(data_of(CASES))}
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "diffed"}, "data": changed}
    result = await admin.call_tool(
        "k8s_plan", {"manifests": json.dumps(manifest), "namespace": namespace, "force_conflicts": True}
    )
    check_each(attempt, "k8s_plan diff", result)
    assert "rotated 0" in everything(result)  # the diff still shows what changes


async def test_planned_values_do_not_leave_through_the_plan_manifests_resource(
    admin: Client, secret_namespace: tuple[str, k8s.ApiClient], attempt: Attempt
) -> None:
    namespace, _ = secret_namespace
    planned = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planned"}, "data": data_of(CASES)},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "planned"}, "stringData": data_of(CASES)},
    ]
    plan = await admin.call_tool(
        "k8s_plan", {"manifests": "\n---\n".join(json.dumps(m) for m in planned), "namespace": namespace}
    )
    assert not plan.is_error, plan.content
    plan_id = str((plan.structured_content or {})["plan_id"])
    read = await admin.read_resource(f"plan://{plan_id}/manifests")
    seen = " ".join(getattr(content, "text", "") for content in read.contents)
    assert "kind: ConfigMap" in seen and "kind: Secret" in seen  # the manifests are there...
    for case in CASES:
        with attempt("redaction: plan://{id}/manifests", case.id):
            assert case.secret not in seen, f"{case.id} leaked through the plan's manifests"


async def test_container_output_and_labels_do_not_leave(
    admin: Client, engine: DockerEngine, attempt: Attempt
) -> None:
    import docker

    client = docker.DockerClient(base_url=engine.host)
    try:
        lines = "\n".join(case.text for case in SINGLE_LINE)
        labels = {f"leak.{i}": case.text for i, case in enumerate(SINGLE_LINE)}
        container = client.containers.run(
            engine.image, ["echo", lines], detach=True, network_mode="none", labels=labels
        )
        with anyio.fail_after(30):
            while container.status != "exited":
                await anyio.sleep(0.1)
                container.reload()
        logs = await admin.call_tool("docker_container_logs", {"container": container.id, "tail": 5000})
        inspected = await admin.call_tool("docker_inspect_container", {"container": container.id})
        assert SINGLE_LINE[0].text.split()[0] in everything(logs)  # the output itself came through
        check_each(attempt, "docker_container_logs", logs, SINGLE_LINE)
        check_each(attempt, "docker_inspect_container labels", inspected, SINGLE_LINE)
    finally:
        client.containers.prune()
        client.close()


async def test_provider_answers_do_not_leave_through_experts_ask(attempt: Attempt, fake: Any) -> None:
    from servers.experts.server import build_server
    from shared.settings import SuiteConfig
    from tests.integration.experts.circle_setup import KEY_ENV, fake_settings
    from tests.integration.experts.conftest import FAKE_KEY
    from tests.integration.experts.fake_providers import Behaviour

    planted = "\n".join(case.text for case in CASES)
    fake.script.update({"leaker": Behaviour(answer=f"Here is what I found:\n{planted}\nVERDICT: yes")})
    experts = [{"name": "leaker", "provider": "compat", "model": "leaker"}]
    section = fake_settings(fake, experts).model_dump(mode="json", exclude_none=True)
    config = SuiteConfig.model_validate({"experts": section, "role": "viewer"})
    async with Client(build_server(config, environ={KEY_ENV: FAKE_KEY})) as client:
        result = await client.call_tool("experts_ask", {"question": "what is in the config?"})
    check_each(attempt, "experts_ask", result)


async def test_label_values_do_not_leave_through_prometheus(
    prom_stack: Any, tmp_path: Path, attempt: Attempt
) -> None:
    from tests.support.connect import Connector

    lines = [
        f'code_leak_probe{{case="{i}",value={json.dumps(case.text)}}} 1' for i, case in enumerate(SINGLE_LINE)
    ]
    body = ("# TYPE code_leak_probe gauge\n" + "\n".join(lines) + "\n").encode()
    async with httpx.AsyncClient(timeout=5) as http:
        (await http.put(f"{prom_stack.pushgateway}/metrics/job/leaks", content=body)).raise_for_status()
    config = {"monitoring": {"endpoints": {"local": {"url": prom_stack.prometheus}}}}
    async with Connector("memory", tmp_path)("monitoring", config) as client:
        with anyio.fail_after(60):
            while True:
                found = await client.call_tool("prom_series", {"match": ["code_leak_probe"], "limit": 500})
                if (found.structured_content or {}).get("total", 0) >= len(SINGLE_LINE):
                    break
                await anyio.sleep(0.5)
        query = await client.call_tool("prom_query", {"expr": "code_leak_probe"})
    check_each(attempt, "prom_series", found, SINGLE_LINE)
    check_each(attempt, "prom_query", query, SINGLE_LINE)
