"""helm_plan + helm_apply vs bare `helm upgrade --install`, and compose_plan + compose_up vs bare
`docker compose up -d`, on the same chart / project, in one run (as root: starts dockerd and the
control plane). Each round changes one value, so every round really upgrades / recreates.

    python benchmarks/bench_deployment_changes.py --rounds 10
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from tests.integration.deployment.docker_engine import docker_engine
from tests.integration.deployment.helm_charts import helm_binary, write_chart
from tests.integration.deployment.k8s_cluster import kube_cluster
from tests.integration.deployment.sessions import data, deployment_session
from tests.integration.deployment.test_compose_server import compose_binary

PROJECT = "services:\n  web:\n    image: busybox:local\n    command: [sleep, '300']\n    network_mode: none\n"
HARDENED = (
    "    cap_drop: [ALL]\n    security_opt: ['no-new-privileges:true']\n    mem_limit: 268435456\n"
    "    pids_limit: 256\n    cpus: 1.0\n    environment: {{ROUND: '{n}'}}\n"
)


def ms(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples) * 1000:7.1f} ms  mean {statistics.fmean(samples) * 1000:7.1f} ms"


async def run(rounds: int, root: Path) -> None:
    helm = helm_binary()
    compose = compose_binary()
    chart = write_chart(root / "charts")
    (root / "dockerd").mkdir()
    with kube_cluster(root / "k8s") as cluster, docker_engine(root / "dockerd") as engine:
        projects = root / "projects"
        (projects / "ours").mkdir(parents=True)
        (projects / "bare").mkdir(parents=True)
        config: dict[str, Any] = {
            "role": "operator",
            "audit": {"path": str(root / "audit.jsonl")},
            "policy": {"tiers": {"deployment": "write"}, "k8s_namespaces": ["*"], "scan_roots": [str(root)]},
            "deployment": {
                "kubeconfig": str(cluster.kubeconfig),
                "docker_host": engine.host,
                "helm": {"helm_path": str(helm)},
                "compose": {"compose_path": str(compose)},
            },
        }
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(root),
            "DOCKER_HOST": engine.host,
            "HELM_CACHE_HOME": str(root / "hc"),
            "HELM_CONFIG_HOME": str(root / "hg"),
            "HELM_DATA_HOME": str(root / "hd"),
        }
        values = root / "values.json"
        timings: dict[str, list[float]] = {
            "ours_helm": [],
            "bare_helm": [],
            "ours_compose": [],
            "bare_compose": [],
        }
        async with deployment_session(config) as client:
            for n in range(rounds):
                values.write_text(f'{{"replicas": {1 + n % 2}}}')
                start = time.perf_counter()
                subprocess.run(  # noqa: ASYNC221 - the bare command is what is measured
                    [
                        str(helm),
                        "upgrade",
                        "--install",
                        "bare",
                        str(chart),
                        "-f",
                        str(values),
                        "-n",
                        "default",
                        "--kubeconfig",
                        str(cluster.kubeconfig),
                        "--kube-context",
                        cluster.context,
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                timings["bare_helm"].append(time.perf_counter() - start)
                start = time.perf_counter()
                plan = data(
                    await client.call_tool(
                        "helm_plan",
                        {
                            "chart": str(chart),
                            "release": "ours",
                            "namespace": "default",
                            "values": {"replicas": 1 + n % 2},
                        },
                    )
                )
                data(await client.call_tool("helm_apply", {"plan_id": plan["plan_id"]}))
                timings["ours_helm"].append(time.perf_counter() - start)

                (projects / "bare" / "compose.yaml").write_text(PROJECT + HARDENED.format(n=n))
                start = time.perf_counter()
                subprocess.run(  # noqa: ASYNC221 - the bare command is what is measured
                    [str(compose), "--project-directory", str(projects / "bare"), "up", "-d"],
                    env=env,
                    check=True,
                    capture_output=True,
                    cwd=projects / "bare",
                )
                timings["bare_compose"].append(time.perf_counter() - start)
                (projects / "ours" / "compose.yaml").write_text(
                    PROJECT + f"    environment: {{ROUND: '{n}'}}\n"
                )
                start = time.perf_counter()
                plan = data(await client.call_tool("compose_plan", {"project_dir": str(projects / "ours")}))
                data(await client.call_tool("compose_up", {"plan_id": plan["plan_id"]}))
                timings["ours_compose"].append(time.perf_counter() - start)
        for key, samples in timings.items():
            print(f"{key:14s} {ms(samples)}  (n={len(samples)})")
        for kind in ("helm", "compose"):
            ratio = statistics.median(timings[f"ours_{kind}"]) / statistics.median(timings[f"bare_{kind}"])
            print(f"{kind}: plan+apply / bare = {ratio:.2f}x at p50 (target <= 1.3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("CODE_MCP_BENCH", "1")
    with tempfile.TemporaryDirectory(prefix="bench-changes-") as folder:
        anyio.run(run, args.rounds, Path(folder) / secrets.token_hex(2))


if __name__ == "__main__":
    main()
