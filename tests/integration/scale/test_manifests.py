"""The Kubernetes manifests in deploy/: accepted by a real kube-apiserver (server-side dry-run, with
the namespace's "restricted" Pod Security enforced), and clean of high findings in the
security-scan server's own IaC scan (checkov)."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from shared.config import load_config
from tests.integration.deployment.k8s_cluster import KubeCluster, kube_cluster
from tests.integration.security_scan.conftest import scanners_installed  # noqa: F401 - fixture
from tests.support.connect import Connector

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
FILES = [
    "namespace.yaml", "serviceaccount.yaml", "configmap.yaml", "redis.yaml", "deployment.yaml",
    "service.yaml", "hpa.yaml", "networkpolicy.yaml",
]  # fmt: skip


def documents(name: str) -> list[dict[str, Any]]:
    with (DEPLOY / name).open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(FILES)
    assert sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml") == sorted(FILES)


def test_every_container_runs_restricted() -> None:
    deployments = [d for name in FILES for d in documents(name) if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"code-mcp", "code-mcp-redis"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert "resources" in container
            assert not [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    suite = next(d for d in deployments if d["metadata"]["name"] == "code-mcp")
    container = suite["spec"]["template"]["spec"]["containers"][0]
    assert "--stateless" in container["args"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"


def test_the_configmap_holds_a_valid_configuration(tmp_path: Path) -> None:
    configmap = documents("configmap.yaml")[0]
    path = tmp_path / "config.toml"
    path.write_text(configmap["data"]["config.toml"])
    config = load_config(path)
    assert str(config.limits.backend) == "redis"
    assert config.redis.url_file is not None and config.output.cursor_key_file is not None
    assert config.auth.allow_unauthenticated_loopback is False and config.auth.allowed_hosts


# ----------------------------------------------------------------------------- real kube-apiserver


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    with kube_cluster(tmp_path_factory.mktemp("k8s")) as running:
        yield running


@pytest.fixture(scope="module")
def api(cluster: KubeCluster) -> DynamicClient:
    kubeconfig = str(cluster.kubeconfig)
    api_client = k8s_config.new_client_from_config(kubeconfig, cluster.context)  # type: ignore[no-untyped-call]
    dynamic = DynamicClient(api_client)  # type: ignore[no-untyped-call]
    # The namespace and service accounts for real: the other objects are dry-run against them.
    for doc in documents("namespace.yaml") + documents("serviceaccount.yaml"):
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        try:
            resource.create(body=doc, namespace=doc["metadata"].get("namespace"))
        except ApiException as exc:
            if exc.status != 409:
                raise
    return dynamic


def dry_run(api: DynamicClient, doc: dict[str, Any]) -> Any:
    resource = api.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    namespace = doc["metadata"].get("namespace")
    return resource.create(body=doc, namespace=namespace, dry_run="All")


@pytest.mark.parametrize("name", [f for f in FILES if f not in ("namespace.yaml", "serviceaccount.yaml")])
def test_the_api_server_accepts_each_manifest(api: DynamicClient, name: str) -> None:
    for doc in documents(name):
        created = dry_run(api, doc)
        assert created.metadata.name == doc["metadata"]["name"]
        assert created.metadata.namespace == "code-mcp"


def pod_from(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    template = copy.deepcopy(deployment["spec"]["template"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {**template["metadata"], "name": name,
            "namespace": "code-mcp"}, "spec": template["spec"]}  # fmt: skip


@pytest.mark.parametrize("name", ["code-mcp", "code-mcp-redis"])
def test_pods_pass_the_restricted_pod_security_standard(api: DynamicClient, name: str) -> None:
    deployment = next(
        d for f in FILES for d in documents(f) if d["kind"] == "Deployment" and d["metadata"]["name"] == name
    )
    created = dry_run(api, pod_from(deployment, f"{name}-probe"))
    assert created.status.phase in (None, "Pending")


def test_an_escalating_pod_is_refused_in_the_namespace(api: DynamicClient) -> None:
    """The namespace really enforces "restricted": the same pod allowed to escalate privileges is refused."""
    deployment = next(d for d in documents("deployment.yaml") if d["kind"] == "Deployment")
    pod = pod_from(deployment, "hostile")
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    with pytest.raises(ApiException) as refused:
        dry_run(api, pod)
    body = str(refused.value.body)
    assert refused.value.status == 403, body
    assert "restricted" in body


# ----------------------------------------------------------------------------- IaC scan


async def scan(tmp_path: Path, folder: Path) -> dict[str, Any]:
    config = {
        "policy": {"scan_roots": [str(folder)]},
        "security_scan": {"cache_dir": str(tmp_path / "cache")},
    }
    connector = Connector("memory", tmp_path)
    async with connector("security-scan", config) as session:
        with anyio.fail_after(300):
            result = await session.call_tool("scan_path", {"path": str(folder), "scanners": ["checkov"]})
    assert not result.is_error, result.content
    summary: dict[str, Any] | None = result.structured_content
    assert summary is not None
    assert [s["status"] for s in summary["scanners"]] == ["ran"]
    return summary


@pytest.mark.anyio
async def test_the_security_scan_finds_no_high_issue_in_the_manifests(
    tmp_path: Path,
    scanners_installed: None,  # noqa: F811
) -> None:
    summary = await scan(tmp_path, DEPLOY)
    assert summary["by_severity"].get("high", 0) == 0
    assert summary["by_severity"].get("critical", 0) == 0


@pytest.mark.anyio
async def test_the_same_scan_flags_a_privileged_variant(tmp_path: Path, scanners_installed: None) -> None:  # noqa: F811
    """The scan above can fail: the manifests with one container made privileged have a high finding."""
    copy_dir = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy_dir)
    text = (copy_dir / "deployment.yaml").read_text()
    (copy_dir / "deployment.yaml").write_text(text.replace("privileged: false", "privileged: true"))
    summary = await scan(tmp_path, copy_dir)
    assert summary["by_severity"].get("high", 0) >= 1
