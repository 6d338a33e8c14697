"""The deployment server's resources, prompts and completions against the real control plane,
read with the official SDK client: a plan shown without being used up, a pod's log, namespaces
and Deployments completed from the cluster (and the policy)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
import yaml
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference, TextResourceContents

from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import data, deployment_session
from tests.integration.deployment.test_k8s_server import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    config,
    deployment_yaml,
    plan_and_apply,
)
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


LOGS = "k8s://{namespace}/pods/{pod}/logs"


def text_of(result: object) -> str:
    content = result.contents[0]  # type: ignore[attr-defined]
    assert isinstance(content, TextResourceContents)
    return content.text


async def test_a_plan_resource_shows_the_plan_and_leaves_it_usable(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    async with deployment_session(config(cluster, tmp_path)) as client:
        plan = data(
            await client.call_tool("k8s_plan", {"manifests": deployment_yaml(), "namespace": namespace})
        )
        shown = text_of(await client.read_resource(f"plan://{plan['plan_id']}"))
        sent = yaml.safe_load(text_of(await client.read_resource(f"plan://{plan['plan_id']}/manifests")))
        applied = data(await client.call_tool("k8s_apply", {"plan_id": plan["plan_id"]}))
        with pytest.raises(MCPError) as used:
            await client.read_resource(f"plan://{plan['plan_id']}")
    assert plan["sha256"] in shown and f"create Deployment {namespace}/web" in shown
    assert (sent["kind"], sent["metadata"]["name"], sent["metadata"]["namespace"]) == (
        "Deployment",
        "web",
        namespace,
    )
    assert applied["sha256"] == plan["sha256"]
    assert "unknown, used or expired" in str(used.value)


async def test_a_pod_log_resource_and_completions_come_from_the_cluster(
    cluster: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\n"
        f"spec:\n  {POD_SECURITY}\n"
        f"  containers:\n  - name: app\n    image: busybox:1\n    {CONTAINER_SECURITY}\n"
    )
    conf = config(cluster, tmp_path, k8s_namespaces=[namespace, "default"])
    async with deployment_session(conf) as client:
        await plan_and_apply(client, deployment_yaml(name="shop"), namespace)
        await plan_and_apply(client, pod, namespace)
        with anyio.fail_after(60):
            while True:
                got = data(await client.call_tool("k8s_list", {"kind": "pods", "namespace": namespace}))
                if any(r["name"] == "app" and r["status"] == "Running" for r in rows(got)):
                    break
                await anyio.sleep(0.2)
        log = text_of(await client.read_resource(f"k8s://{namespace}/pods/app/logs"))
        with pytest.raises(MCPError) as traversal:
            await client.read_resource(f"k8s://{namespace}/pods/..%2F..%2Fetc/logs")
        with pytest.raises(MCPError) as hostile:
            await client.read_resource(f"k8s://{namespace}/pods/Bad_Name;rm/logs")
        with pytest.raises(MCPError) as elsewhere:
            await client.read_resource("k8s://kube-system/pods/app/logs")
        prompt = PromptReference(type="ref/prompt", name="rollout_check")
        spaces = await client.complete(prompt, {"name": "namespace", "value": ""})
        deployments = await client.complete(
            prompt, {"name": "deployment", "value": "sh"}, context_arguments={"namespace": namespace}
        )
        logs_ref = ResourceTemplateReference(type="ref/resource", uri=LOGS)
        pods = await client.complete(
            logs_ref, {"name": "pod", "value": "a"}, context_arguments={"namespace": namespace}
        )
    assert log.splitlines()[-2:] == ["listening on :8080", "ready"]
    assert "Unknown resource" in str(traversal.value)  # the SDK's path safety, before our code
    assert "not a valid Kubernetes name" in str(hostile.value)
    assert "namespace" in str(elsewhere.value) and "kube-system" in str(elsewhere.value)
    assert spaces.completion.values == sorted([namespace, "default"])  # the policy's allowlist only
    assert deployments.completion.values == ["shop"]
    assert pods.completion.values == ["app"]
