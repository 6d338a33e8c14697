"""CODE side by side with the MCP servers people would pick instead, on the same loopback backends.

    python benchmarks/bench_peers.py [--quick] [--rounds 200] [--runs 2] [--spawns 10]
                                     [--rss-calls 1000] [--growth-calls 10000] [--json PATH]
    python benchmarks/bench_peers.py --install-only          (install the peers, then stop)

(as root: it starts dockerd.) Installs the peers into the cache when they are missing
(benchmarks/peers/install.py: npm kubernetes-mcp-server 0.0.67 and mcp-server-kubernetes 4.1.7,
PyPI prometheus-mcp-server 1.6.2, mcp-server-docker 0.3.0 and alertmanager-mcp-server 1.3.1, each in
its own prefix under $CODE_MCP_CACHE/peers, and kubectl built from the Kubernetes Go module), starts
the integration tests' backends (Kubernetes control plane with kwok, dockerd, Prometheus +
Alertmanager) and seeds them, then drives every server with the official Python SDK client over
stdio:

  - pairs: the same task through CODE's tool and each peer's equivalent (picked by name from its
    tool list): latency p50/p95 over shuffled rounds with every server open, run several times;
    characters (≈ tokens) of the text and the structured content; completeness; CODE/peer ratios;
  - cold start: spawn → initialize → first tool result, for CODE's four servers, each peer and a
    bare SDK server with one echo tool (the floor for a Python MCP server);
  - memory: VmRSS after N calls, and its growth over many more for CODE's deployment server and the
    bare server.

Prints plain tables; asserts nothing. `--json PATH` writes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peers import install as peer_install
from peers import measure, report
from peers.backends import Backends, loopback_backends
from peers.pairs import RANGE_WINDOW
from peers.servers import ServerSpec, bare_server, code_config, code_servers, peer_servers

REPO = Path(__file__).resolve().parents[1]
GROWTH_SERVERS = ("code:deployment", "bare")


@dataclass(frozen=True)
class Options:
    rounds: int
    runs: int
    warmup: int
    spawns: int
    rss_calls: int
    growth_calls: int
    seed: int
    quick: bool


def _progress(message: str) -> None:
    print(f"[bench_peers] {message}", file=sys.stderr, flush=True)


def _git_revision() -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


async def _measure(
    backends: Backends, specs: Sequence[ServerSpec], options: Options, logs: Path
) -> dict[str, Any]:
    rng = random.Random(options.seed)
    in_pairs = [s for s in specs if s.compared_with or s.side == "peer"]
    runs: list[measure.Run] = []
    for number in range(1, options.runs + 1):
        _progress(f"run {number}/{options.runs}: {options.rounds} rounds over {len(in_pairs)} servers")
        runs.append(
            await measure.run_rounds(
                in_pairs, backends, logs, rounds=options.rounds, warmup=options.warmup, rng=rng
            )
        )
    items = runs[0].items
    firsts = measure.first_calls(specs, items, backends)
    _progress(f"cold starts: {options.spawns} spawns of each of {len(specs)} servers")
    colds = await measure.cold_starts(specs, firsts, logs, spawns=options.spawns)

    prints: list[measure.Footprint] = []
    for spec in [*in_pairs, *(s for s in specs if s.side == "bare")]:
        mix = [
            measure.FirstCall(i.tool, i.way.arguments(backends, i.tool))
            for i in items
            if i.way.server == spec.key
        ] or [firsts[spec.key]]
        growth = options.growth_calls if spec.key in GROWTH_SERVERS else None
        _progress(f"memory: {spec.label}, {max(options.rss_calls, growth or 0):,} calls")
        prints.append(await measure.footprint(spec, mix, logs, calls=options.rss_calls, growth_calls=growth))
    return {"runs": runs, "colds": colds, "prints": prints}


def _report(figures: dict[str, Any], specs: Sequence[ServerSpec], options: Options) -> dict[str, Any]:
    labels = {s.key: s.label for s in specs}
    compared = {s.key: s.compared_with for s in specs if s.side == "code"}
    run_list: list[measure.Run] = figures["runs"]
    runs = [run.results for run in run_list]
    report.print_tools(runs[0], run_list[0].skipped, labels)
    for number, results in enumerate(runs, 1):
        report.print_latency(number, results, labels, options.rounds)
    report.print_sizes(runs[0], labels)
    report.print_best(runs, labels)
    report.print_cold(figures["colds"], labels, compared, options.spawns)
    report.print_memory(figures["prints"], labels, compared)
    return {
        "runs": [[r.summary() for r in results] for results in runs],
        "latency_ratios": [report.latency_ratios(results) for results in runs],
        "size_ratios": report.size_ratios(runs[0]),
        "skipped": [asdict(s) for s in run_list[0].skipped],
        "tools_listed": run_list[0].tools,
        "cold_start": [c.summary() for c in figures["colds"]],
        "cold_start_ratios": report.cold_ratios(figures["colds"], compared),
        "memory": [f.summary() for f in figures["prints"]],
        "memory_ratios": report.memory_ratios(figures["prints"], compared),
    }


def _meta(
    options: Options, installed: dict[str, peer_install.Installed], specs: Sequence[ServerSpec]
) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "code_revision": _git_revision(),
        "python": platform.python_version(),
        "mcp_sdk": version("mcp"),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "options": asdict(options),
        "servers": {s.key: s.label for s in specs},
        "peers": {
            name: {
                "spec": i.spec,
                "prefix": str(i.prefix),
                "runtime": i.runtime,
                "sdk": {
                    k: v
                    for k, v in i.dependencies.items()
                    if k.lower() in ("mcp", "fastmcp", "@modelcontextprotocol/sdk")
                },
            }
            for name, i in installed.items()
        },
        "kubectl": str(peer_install.kubectl_path()),
    }


def _banner(options: Options, load: Sequence[float]) -> str:
    kind = "QUICK run" if options.quick else "run"
    return (
        f"bench_peers {kind}: {options.rounds} rounds x {options.runs} runs, {options.spawns} spawns, "
        f"RSS after {options.rss_calls:,} / {options.growth_calls:,} calls; "
        f"load average at start {' '.join(f'{x:.2f}' for x in load)}"
    )


def _options(args: argparse.Namespace) -> Options:
    if args.quick:
        return Options(
            rounds=args.rounds or 20,
            runs=args.runs or 2,
            warmup=args.warmup or 2,
            spawns=args.spawns or 2,
            rss_calls=args.rss_calls or 100,
            growth_calls=args.growth_calls or 1000,
            seed=args.seed,
            quick=True,
        )
    return Options(
        rounds=args.rounds or 200,
        runs=args.runs or 2,
        warmup=args.warmup or 5,
        spawns=args.spawns or 10,
        rss_calls=args.rss_calls or 1000,
        growth_calls=args.growth_calls or 10_000,
        seed=args.seed,
        quick=False,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="few rounds, spawns and calls (a couple of minutes)"
    )
    parser.add_argument("--rounds", type=int, help="shuffled rounds per run (default 200; quick 20)")
    parser.add_argument("--runs", type=int, help="runs of the rounds, servers restarted each run (default 2)")
    parser.add_argument("--warmup", type=int, help="unmeasured rounds before each run (default 5; quick 2)")
    parser.add_argument(
        "--spawns", type=int, help="cold starts per server, median reported (default 10; quick 2)"
    )
    parser.add_argument("--rss-calls", type=int, help="calls before reading VmRSS (default 1000; quick 100)")
    parser.add_argument(
        "--growth-calls", type=int, help="calls at the second VmRSS reading (default 10000; quick 1000)"
    )
    parser.add_argument("--seed", type=int, default=20, help="seed of the round shuffles")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every figure to this JSON file")
    parser.add_argument("--logs", type=Path, help="keep the servers' stderr logs in this folder")
    parser.add_argument(
        "--install-only", action="store_true", help="install the peers (and kubectl), then stop"
    )
    parser.add_argument("--reinstall", action="store_true", help="wipe and reinstall every peer")
    args = parser.parse_args()
    options = _options(args)

    installed = peer_install.install_all(force=args.reinstall)
    kubectl = peer_install.ensure_kubectl()
    if args.install_only:
        for done in installed.values():
            print(f"{done.spec:32} {done.runtime:16} {done.prefix}")
        print(f"{'kubectl ' + peer_install.K8S_VERSION:32} {'Go build':16} {kubectl}")
        return 0
    if os.geteuid() != 0:
        print("bench_peers needs root: it starts dockerd", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-peers-") as folder:
        root = Path(folder)
        logs = args.logs or root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        _progress("starting and seeding the backends (Kubernetes + kwok, dockerd, Prometheus + Alertmanager)")
        try:
            history = int(RANGE_WINDOW.total_seconds())
            with loopback_backends(root / "backends", history_s=history) as backends:
                config = code_config(backends, root)
                specs = [*code_servers(config), *peer_servers(backends, kubectl), bare_server()]
                meta = _meta(options, installed, specs)
                print(_banner(options, meta["load_average_at_start"]))
                figures = anyio.run(_measure, backends, specs, options, logs)
        except pytest.skip.Exception as exc:
            print(f"bench_peers: a backend cannot run here: {exc.msg}", file=sys.stderr)
            return 2
        meta["load_average_at_end"] = os.getloadavg()
        out = {"meta": meta, **_report(figures, specs, options)}
        print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in meta['load_average_at_end'])}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
