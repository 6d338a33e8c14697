"""k8s_list / k8s_get / docker_list_containers through an MCP client vs the bare client library call.

    python benchmarks/bench_deployment.py [--calls 300]      (as root: it starts dockerd)

Starts the real services the integration tests use — dockerd on a private socket with 20 running
busybox containers, and the Kubernetes control plane from scripts/k8s (etcd, kube-apiserver,
controllers, scheduler, kwok) with a 10-replica Deployment — then measures, in one run and
interleaved in blocks so both sides see the same machine load:
  - baseline: the bare library call (`docker.APIClient.containers()`, the kubernetes dynamic client's
    `get` of Pods in a namespace and of one Deployment), called directly;
  - *_ops: our domain logic alone (DockerOps / KubeOps: policy checks, validation, result models);
  - MCP: the same read through `mcp.Client` on the in-memory transport (guard, policy, rate limiter,
    audit, thread hop, validation, paging, serialisation and the client's output-schema check included).
Prints p50 / p95 / mean latencies and the overhead at p50. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import docker
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.deployment.docker_ops import DockerOps
from servers.deployment.k8s_client import KubeConnections
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.server import build_server
from servers.deployment.settings import DeploymentSettings
from shared.identity import Identity
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.integration.deployment.docker_engine import docker_engine
from tests.integration.deployment.k8s_cluster import kube_cluster

BLOCK = 25
CONTAINERS = 20
REPLICAS = 10


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def _timed(fn: Callable[[], Awaitable[object]], n: int, into: list[float]) -> None:
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        into.append((time.perf_counter() - started) * 1000)


async def _compare(
    name: str,
    baseline: Callable[[], Any],
    ops: Callable[[], Any],
    tool: Callable[[], Awaitable[object]],
    calls: int,
) -> None:
    """Bare library call vs our domain logic alone vs the tool through an MCP client."""

    async def bare() -> object:
        return baseline()

    async def logic() -> object:
        return ops()

    runs: dict[str, list[float]] = {"bare client call": [], "*_ops (no MCP)": [], "MCP client -> tool": []}
    fns = dict(zip(runs, (bare, logic, tool), strict=True))
    for fn in fns.values():
        await _timed(fn, 20, [])  # warm-up: connections, discovery caches, imports
    done = 0
    while done < calls:
        n = min(BLOCK, calls - done)
        for label, fn in fns.items():
            await _timed(fn, n, runs[label])
        done += n
    print(f"\n{name}: {calls} calls each, interleaved in blocks of {BLOCK}")
    print(f"{'':28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for label, samples in runs.items():
        print(
            f"{label:28} {statistics.median(samples):8.3f} {_quantile(samples, 0.95):8.3f} "
            f"{statistics.fmean(samples):8.3f}"
        )
    p50_direct, p50_mcp = (
        statistics.median(runs["bare client call"]),
        statistics.median(runs["MCP client -> tool"]),
    )
    overhead = (p50_mcp / p50_direct - 1) * 100
    print(f"overhead at p50: {p50_mcp - p50_direct:+.3f} ms ({overhead:+.1f}%), target <= 15%")


def _deployment(namespace: str) -> dict[str, Any]:
    labels = {"app": "bench"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }


async def run(docker_host: str, image: str, kubeconfig: Path | None, calls: int, tmp: Path) -> None:
    engine = docker.DockerClient(base_url=docker_host, version="1.41")
    for index in range(CONTAINERS):
        engine.containers.run(image, ["sleep", "3600"], detach=True, name=f"b{index}", network_mode="none")
    api: Any = None
    if kubeconfig is not None:
        api = kube_config.new_client_from_config(config_file=str(kubeconfig))
        dynamic = DynamicClient(api)
        pods = dynamic.resources.get(api_version="v1", kind="Pod")
        deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
        deployments.create(body=_deployment("default"), namespace="default")
        with anyio.fail_after(120):
            while True:
                if (
                    deployments.get(name="bench", namespace="default").status.availableReplicas or 0
                ) >= REPLICAS:
                    break
                await anyio.sleep(0.2)

    config = SuiteConfig.model_validate(
        {
            "role": "viewer",
            "audit": {"path": str(tmp / "audit.jsonl")},
            # The benchmark measures overhead, not quotas: lift them far above the call rate.
            "limits": {
                "global": {"rate": 1e6, "burst": 1000000},
                "identity": {"rate": 1e6, "burst": 1000000},
            },
            "deployment": {"docker_host": docker_host, "kubeconfig": str(kubeconfig or tmp / "none")},
        }
    )
    runtime = Runtime.from_config(config)
    settings = config.section("deployment", DeploymentSettings)
    docker_ops = DockerOps.connect(settings, runtime.policy)
    kube_ops = KubeOps(KubeConnections(settings.kubeconfig, None, timeout_s=30), settings, runtime.policy)
    viewer = Identity(subject="bench", role="viewer", method="local")
    try:
        async with Client(build_server(config, runtime=runtime)) as mcp:

            def tool(name: str, arguments: dict[str, Any]) -> Callable[[], Awaitable[object]]:
                async def call() -> object:
                    result = await mcp.call_tool(name, arguments)
                    if result.is_error:
                        raise RuntimeError(result.content)
                    return result.structured_content

                return call

            await _compare(
                f"docker_list_containers ({CONTAINERS} running)",
                lambda: engine.api.containers(),
                lambda: docker_ops.list_containers(),
                tool("docker_list_containers", {}),
                calls,
            )
            if api is None:
                return
            await _compare(
                f"k8s_list Pods ({REPLICAS} in the namespace)",
                lambda: pods.get(namespace="default"),
                lambda: kube_ops.list_objects("Pod", identity=viewer),
                tool("k8s_list", {"kind": "Pod", "namespace": "default"}),
                calls,
            )
            await _compare(
                "k8s_get Deployment",
                lambda: deployments.get(name="bench", namespace="default"),
                lambda: kube_ops.get_object("Deployment", "bench", identity=viewer),
                tool("k8s_get", {"kind": "Deployment", "name": "bench", "namespace": "default"}),
                calls,
            )
    finally:
        await runtime.aclose()
        docker_ops.close()
        kube_ops.close()
        for container in engine.containers.list(all=True):
            container.remove(force=True)
        engine.close()
        if api is not None:
            api.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--docker-only", action="store_true", help="skip the Kubernetes half")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-deployment-") as folder, ExitStack() as stack:
        root = Path(folder)
        (root / "dockerd").mkdir()
        (root / "k8s").mkdir()
        engine = stack.enter_context(docker_engine(root / "dockerd"))
        kubeconfig = None if args.docker_only else stack.enter_context(kube_cluster(root / "k8s")).kubeconfig
        anyio.run(run, engine.host, engine.image, kubeconfig, args.calls, root)


if __name__ == "__main__":
    main()
