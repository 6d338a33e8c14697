"""Benchmark: the security-scan engine against the same scanners run one after another by hand.

    python benchmarks/bench_security_scan.py [--package sklearn] [--scanners bandit,semgrep,...]

Scans the source of a large installed package (default: scikit-learn from the bench extra) and
prints, from one run: the sequential wall time of each scanner run by hand (same argument lists),
the engine's concurrent wall time with an empty cache, and a rescan of the unchanged tree.
Targets: concurrent <= 0.6x sequential; rescan <= 0.1x sequential.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import anyio

from servers.security_scan.process_ops import scanner_env
from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.scanner_specs import NEUTRAL_CONFIGS, SCANNERS, Invocation
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.toolchain_ops import Toolchain
from servers.security_scan.tree_ops import Limits, Tree, collect


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {name!r} is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations)))


def snapshot(target: Path, settings: SecurityScanSettings, into: Path) -> Tree:
    """The engine's snapshot of `target` (the files every scanner is handed), staged under `into`."""
    stage = into / "tree"
    stage.mkdir(parents=True)
    limits = Limits(max_file_bytes=settings.max_file_bytes, max_files=settings.max_files,
                    exclude_dirs=frozenset(settings.exclude_dirs))  # fmt: skip
    return collect(target, stage=stage, limits=limits)


async def sequential(
    target: Path, names: list[str], settings: SecurityScanSettings, cache: Path
) -> dict[str, float]:
    """Each scanner by hand, one after another, on the files the engine would give it."""
    chain = Toolchain(settings.tool_paths, settings.resolved_venv(), enabled=names)
    tree = snapshot(target, settings, cache / "by-hand")
    config_dir = cache / "by-hand-config"
    config_dir.mkdir()
    for name, text in NEUTRAL_CONFIGS.items():
        (config_dir / name).write_text(text)
    times: dict[str, float] = {}
    for name in names:
        spec = SCANNERS[name]
        tool = await chain.tool(name)
        files = [str(f.path) for f in tree.of_kind(spec.kind)]
        if tool.path is None or not files:
            continue
        started = time.perf_counter()
        for start in range(0, len(files), spec.batch):
            run = Invocation(str(tool.path), files[start : start + spec.batch], str(tree.stage), config_dir)
            argv = spec.argv(run)
            result = await anyio.run_process(argv, cwd=cache, env=scanner_env(spec.env), check=False)
            spec.parse(result.stdout)  # raises when the scanner printed nothing: the run must be real
        times[name] = time.perf_counter() - started
    return times


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", default="sklearn")
    parser.add_argument("--timeout", type=float, default=3600, help="per-scanner limit, seconds")
    parser.add_argument("--scanners", default="bandit,semgrep,detect-secrets,checkov,hadolint,shellcheck")
    args = parser.parse_args()
    names = [n for n in args.scanners.split(",") if n]
    target = package_dir(args.package)
    with tempfile.TemporaryDirectory() as cache:
        settings = SecurityScanSettings(
            cache_dir=Path(cache), enabled=[*names, "dependencies"], scanner_timeout_s=args.timeout
        )
        tree = snapshot(target, settings, Path(cache) / "count")
        print(f"target: {target} ({len(tree.files)} files scanned, skipped {tree.skipped})")

        by_hand = await sequential(target, names, settings, Path(cache))
        seq_total = sum(by_hand.values())
        for name, seconds in by_hand.items():
            print(f"  by hand  {name:<15} {seconds:8.2f} s")
        print(f"sequential (sum)            {seq_total:8.2f} s")

        engine = ScanEngine(settings)
        await engine.toolchain.describe()  # versions probed once per server, as by hand: not timed
        started = time.perf_counter()
        summary = await engine.scan(target, owner="bench", scanners=[*names, "dependencies"])
        concurrent = time.perf_counter() - started
        started = time.perf_counter()
        again = await engine.scan(target, owner="bench", scanners=[*names, "dependencies"])
        rescan = time.perf_counter() - started

    print(f"engine, concurrent, cold    {concurrent:8.2f} s   ratio {concurrent / seq_total:.2f}x sequential")
    print(f"engine, rescan unchanged    {rescan:8.2f} s   ratio {rescan / seq_total:.3f}x sequential")
    print(
        "statuses:",
        {r.name: r.status for r in summary.scanners},
        "->",
        {r.name: r.status for r in again.scanners},
    )
    print(f"findings: {summary.total} (by severity {summary.by_severity}); rescan {again.total}")


if __name__ == "__main__":
    anyio.run(main)
