"""What the safety checks cost: admission and redaction on `k8s_plan` and a 50-item `k8s_list`.

    python -m benchmarks.bench_safety [--calls 200]       (starts the Kubernetes control plane)

One deployment server on the real control plane (scripts/k8s), the official SDK client in memory.
Each tool is called in alternating blocks with the safety checks on (as shipped) and off (the
admission check and the result redaction replaced by pass-throughs — a server nobody should run),
so both see the same machine load. Prints p50 / mean per call and the ratio on/off; the target is
≤ 1.05. `k8s_plan` plans a restricted-compliant Deployment (the admission check runs on its pod
template); `k8s_list` lists 50 ConfigMaps (redaction walks every item). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from kubernetes import client as k8s
from kubernetes import config as kube_config
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shared.policy
import shared.results
from servers.deployment.server import build_server
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.integration.deployment.k8s_cluster import kube_cluster

BLOCK = 5
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 65534, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: busybox:1.0
        env: [{name: LOG_LEVEL, value: info}, {name: DATABASE_URL, value: "postgres://app:pw@db/app"}]
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""


@contextmanager
def safety_off() -> Iterator[None]:
    """Admission and result redaction as pass-throughs (the baseline of this benchmark only)."""
    admit, redact_data, redact_text = (
        shared.policy.Policy.admit,
        shared.results.redact_data,
        shared.results.redact_text,
    )
    shared.policy.Policy.admit = lambda self, obj, **_: None  # type: ignore[method-assign]
    shared.results.redact_data = lambda value, **_: value
    shared.results.redact_text = lambda text: text
    try:
        yield
    finally:
        shared.policy.Policy.admit = admit  # type: ignore[method-assign]
        shared.results.redact_data, shared.results.redact_text = redact_data, redact_text


async def timed(call: Callable[[], Awaitable[Any]], n: int, into: list[float]) -> None:
    for _ in range(n):
        started = time.perf_counter()
        result = await call()
        into.append(time.perf_counter() - started)
        assert not result.is_error, result.content


async def run(kubeconfig: Path, namespace: str, calls: int) -> None:
    config = SuiteConfig.model_validate(
        {
            "role": "operator",
            "limits": {"global": None, "identity": None},
            "policy": {"tiers": {"deployment": "write"}, "k8s_namespaces": [namespace]},
            "deployment": {"kubeconfig": str(kubeconfig), "docker_host": "unix:///nonexistent/docker.sock"},
        }
    )
    runtime = Runtime(config)
    async with Client(build_server(config, runtime=runtime)) as client:
        tools: dict[str, Callable[[], Awaitable[Any]]] = {
            "k8s_plan (1 Deployment)": lambda: client.call_tool(
                "k8s_plan", {"manifests": DEPLOYMENT, "namespace": namespace}
            ),
            "k8s_list (50 ConfigMaps)": lambda: client.call_tool(
                "k8s_list", {"kind": "ConfigMap", "namespace": namespace, "limit": 50}
            ),
        }
        for call in tools.values():  # warm: discovery, connections, caches
            for _ in range(5):
                await call()
        print(f"{'':26} {'on p50 ms':>10} {'off p50 ms':>10} {'on mean':>8} {'off mean':>8} {'ratio p50':>9}")
        for name, call in tools.items():
            on: list[float] = []
            off: list[float] = []
            for _ in range(max(1, calls // BLOCK)):
                await timed(call, BLOCK, on)
                with safety_off():
                    await timed(call, BLOCK, off)
            p_on, p_off = statistics.median(on) * 1000, statistics.median(off) * 1000
            m_on, m_off = statistics.fmean(on) * 1000, statistics.fmean(off) * 1000
            print(f"{name:26} {p_on:10.2f} {p_off:10.2f} {m_on:8.2f} {m_off:8.2f} {p_on / p_off:9.3f}")
    await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-safety-") as tmp, kube_cluster(Path(tmp)) as cluster:
        api = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig))
        core = k8s.CoreV1Api(api)
        namespace = "bench"
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
        for i in range(50):
            data = {"app.properties": f"threads={i}\nmode=fast\n", "DATABASE_PASSWORD": f"pw-{i}"}
            core.create_namespaced_config_map(
                namespace, {"metadata": {"name": f"config-{i:02d}"}, "data": data}
            )
        api.close()
        anyio.run(run, cluster.kubeconfig, namespace, args.calls)


if __name__ == "__main__":
    main()
