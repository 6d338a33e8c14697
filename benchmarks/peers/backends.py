"""The loopback backends every server under test talks to, started by the integration tests' own helpers.

- Kubernetes: `kube_cluster` (scripts/k8s/start.sh: etcd, kube-apiserver, controllers, scheduler and
  a kwok node, so pods become Running), seeded with one Deployment of 50 replicas — 50 Running pods
  in one namespace — and one Helm release (a ConfigMap and a Deployment scaled to 0, so the pod
  count stays 50);
- Docker: `docker_engine` (dockerd on a private socket, busybox imported), with 10 `sleep` containers;
- Prometheus and Alertmanager: `prometheus_stack` (Prometheus scraping five targets every second,
  so `up` has five series — the benchmark waits until they hold a full range-query window — and
  the seven alerts its rules send to Alertmanager).

The facts every completeness check looks for (pod names, container ids, `up` series, alerts) are
read from the backends themselves here, once seeding has settled.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx

from tests.integration.deployment.docker_engine import docker_engine
from tests.integration.deployment.helm_charts import helm_binary, write_chart
from tests.integration.deployment.k8s_cluster import KubeCluster, kube_cluster
from tests.integration.monitoring.prom_stack import prometheus_stack

NAMESPACE = "bench"
DEPLOYMENT = "bench-web"
IMAGE = "busybox:1.36.1"
REPLICAS = 50
CONTAINERS = 10
RELEASE = "bench-chart"
SEED_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class AlertFact:
    """One alert in Alertmanager: its name and the label that tells it from its siblings."""

    alertname: str
    shard: str | None


@dataclass(frozen=True)
class Backends:
    """Where the running backends are, and what they hold."""

    kubeconfig: Path
    kube_context: str
    docker_host: str
    prometheus: str
    alertmanager: str
    helm: Path
    namespace: str
    deployment: str
    image: str
    replicas: int
    release: str
    pod_names: tuple[str, ...]
    container_ids: tuple[str, ...]
    up_instances: tuple[str, ...]
    alerts: tuple[AlertFact, ...]


class _Kube:
    """Just enough of the Kubernetes REST API to seed the cluster (admin token, the cluster's CA)."""

    def __init__(self, cluster: KubeCluster) -> None:
        text = cluster.kubeconfig.read_text()
        server = re.search(r"server:\s*(\S+)", text)
        if server is None:
            raise RuntimeError(f"no server in {cluster.kubeconfig}")
        self.http = httpx.Client(
            base_url=server.group(1),
            headers={"Authorization": f"Bearer {cluster.token}"},
            verify=str(cluster.root / "pki" / "ca.crt"),
            timeout=30,
        )

    def create(self, path: str, body: dict[str, Any]) -> None:
        self.http.post(path, json=body).raise_for_status()

    def get(self, path: str) -> dict[str, Any]:
        response = self.http.get(path)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def _wait(check: Any, what: str, timeout: float = SEED_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def _deployment() -> dict[str, Any]:
    labels = {"app": DEPLOYMENT}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "labels": labels},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": IMAGE, "command": ["sleep", "3600"]}]},
            },
        },
    }


def seed_cluster(cluster: KubeCluster) -> tuple[str, ...]:
    """The namespace, its Deployment of 50 Running pods; returns the pod names."""
    kube = _Kube(cluster)
    try:
        kube.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        _wait(
            lambda: kube.http.get(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/default").is_success,
            "the namespace's default service account",
        )
        kube.create(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", _deployment())

        def running() -> list[str]:
            pods = kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]
            names = [p["metadata"]["name"] for p in pods if p.get("status", {}).get("phase") == "Running"]
            return names if len(names) == len(pods) == REPLICAS else []

        names: list[str] = _wait(running, f"{REPLICAS} Running pods")
        return tuple(sorted(names))
    finally:
        kube.http.close()


def seed_helm_release(cluster: KubeCluster, folder: Path) -> Path:
    """One Helm release in the namespace, installed with the helm CLI; returns the helm binary."""
    helm = helm_binary()
    chart = write_chart(folder)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "HELM_CACHE_HOME": str(folder / ".c"),
        "HELM_CONFIG_HOME": str(folder / ".g"),
        "HELM_DATA_HOME": str(folder / ".d"),
    }
    target = [
        "--namespace",
        NAMESPACE,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--kube-context",
        cluster.context,
    ]
    install = [str(helm), "install", RELEASE, str(chart), "--set", "replicas=0", *target]
    subprocess.run(install, env=env, check=True, capture_output=True, timeout=120)
    return helm


def seed_containers(docker_host: str, image: str) -> tuple[str, ...]:
    """Ten running busybox `sleep` containers; returns their short ids."""
    engine = docker.DockerClient(base_url=docker_host, version="1.41", timeout=30)
    try:
        ids = []
        for index in range(CONTAINERS):
            container = engine.containers.run(
                image, ["sleep", "86400"], detach=True, name=f"bench-c{index}", network_mode="none"
            )
            ids.append(str(container.id)[:12])
        return tuple(ids)
    finally:
        engine.close()


def remove_containers(docker_host: str) -> None:
    engine = docker.DockerClient(base_url=docker_host, version="1.41", timeout=30)
    try:
        for container in engine.containers.list(all=True):
            container.remove(force=True)
    finally:
        engine.close()


def wait_for_history(prometheus: str, seconds: int) -> None:
    """Until every `up` series has `seconds` of samples, so the range query's window is full."""

    def filled() -> bool:
        query = f"min(count_over_time(up[{seconds}s])) >= {seconds - 2}"
        data = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()
        return bool(data["data"]["result"])

    _wait(filled, f"{seconds}s of `up` history", timeout=seconds + 60)


def up_instances(prometheus: str) -> tuple[str, ...]:
    """The `instance` of every `up` series."""
    data = httpx.get(f"{prometheus}/api/v1/query", params={"query": "up"}, timeout=10).json()
    return tuple(sorted(s["metric"]["instance"] for s in data["data"]["result"]))


def alert_facts(alertmanager: str) -> tuple[AlertFact, ...]:
    alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=10).json()
    facts = {AlertFact(a["labels"]["alertname"], a["labels"].get("shard")) for a in alerts}
    return tuple(sorted(facts, key=lambda f: (f.alertname, f.shard or "")))


@contextmanager
def loopback_backends(root: Path, *, history_s: int) -> Iterator[Backends]:
    """Start and seed every backend under `root` (Prometheus holding `history_s` of `up`); stop them after."""
    for name in ("k8s", "dockerd", "prom", "helm"):
        (root / name).mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        prom = stack.enter_context(prometheus_stack(root / "prom"))
        engine = stack.enter_context(docker_engine(root / "dockerd"))
        stack.callback(remove_containers, engine.host)
        container_ids = seed_containers(engine.host, engine.image)
        cluster = stack.enter_context(kube_cluster(root / "k8s"))
        pod_names = seed_cluster(cluster)
        helm = seed_helm_release(cluster, root / "helm")
        wait_for_history(prom.prometheus, history_s)
        yield Backends(
            kubeconfig=cluster.kubeconfig,
            kube_context=cluster.context,
            docker_host=engine.host,
            prometheus=prom.prometheus,
            alertmanager=prom.alertmanager,
            helm=helm,
            namespace=NAMESPACE,
            deployment=DEPLOYMENT,
            image=IMAGE,
            replicas=REPLICAS,
            release=RELEASE,
            pod_names=pod_names,
            container_ids=container_ids,
            up_instances=up_instances(prom.prometheus),
            alerts=alert_facts(prom.alertmanager),
        )
