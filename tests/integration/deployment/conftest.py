"""Fixtures: a real dockerd (once per session) and a real Kubernetes control plane (once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.deployment.docker_ops import DockerOps
from servers.deployment.settings import DeploymentSettings
from shared.policy import Policy, PolicySettings
from tests.integration.deployment.docker_engine import DockerEngine, docker_engine
from tests.integration.deployment.k8s_cluster import KubeCluster, kube_cluster


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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
