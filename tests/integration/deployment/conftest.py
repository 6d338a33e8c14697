"""Fixtures: a real dockerd (once per session), a real Kubernetes control plane (once per session),
an admin API client for test setup and a fresh namespace per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as kube_config

from servers.deployment.docker_ops import DockerOps
from servers.deployment.settings import DeploymentSettings
from shared.policy import Policy
from shared.policy_settings import PolicySettings
from tests.integration.deployment.docker_engine import DockerEngine, docker_engine
from tests.integration.deployment.k8s_cluster import KubeCluster, kube_cluster
from tests.support.services import wait_until


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    with docker_engine(tmp_path_factory.mktemp("dockerd")) as running:
        yield running


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    with kube_cluster(tmp_path_factory.mktemp("k8s")) as running:
        yield running


@pytest.fixture
def mount_root(tmp_path: Path) -> Path:
    root = tmp_path / "mounts"
    (root / "data").mkdir(parents=True)
    (root / "data" / "hello.txt").write_text("hello from the host\n")
    return root


@pytest.fixture
def build_root(tmp_path: Path) -> Path:
    root = tmp_path / "builds"
    root.mkdir()
    return root


@pytest.fixture
def docker(engine: DockerEngine, mount_root: Path, build_root: Path) -> Iterator[DockerOps]:
    policy = Policy(PolicySettings(docker_mount_roots=[mount_root], scan_roots=[build_root]))
    ops = DockerOps.connect(DeploymentSettings(docker_host=engine.host), policy)
    try:
        yield ops
    finally:
        for row in ops.list_containers(include_stopped=True):
            ops.client.api.remove_container(row.id, force=True)
        ops.close()


@pytest.fixture
def api(cluster: KubeCluster) -> Iterator[k8s.ApiClient]:
    """An API client with the admin token, for test setup and checks."""
    client = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()


@pytest.fixture
def namespace(api: k8s.ApiClient) -> Iterator[str]:
    """A fresh namespace per test, created and deleted with the admin token (test setup only)."""
    name = f"t-{secrets.token_hex(4)}"
    core = k8s.CoreV1Api(api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    # Pods are admitted once the controller manager has made the namespace's default service account.
    wait_until(
        lambda: core.read_namespaced_service_account("default", name) is not None,
        timeout=30,
        what=f"service account default in {name}",
    )
    yield name
    core.delete_namespace(name)
