"""What the server kit costs, and whether a stalled Redis still blocks the event loop.

    python -m benchmarks.bench_kit [--calls 2000] [--rounds 3] [--baseline REV]

1. An in-memory tool call through the kit (guard + result pipeline: redaction, budget, errors by
   class, paging) vs the same call through the kit as it was at `--baseline` (the commit before
   the kit took over the cross-cutting concerns): the demo server's `demo_echo`, the official SDK
   client, p50 and mean per call, rounds alternating old/new so drift hits both. Ratio new/old.
2. A rate-limit check against a Redis that stalls (a real redis-server under `CLIENT PAUSE`): a
   ping task sleeps 1 ms in a loop while 100 checks run; its worst lateness shows whether the loop
   was blocked. The baseline's Redis limiter (a blocking client, called from async code as its
   guard did) against today's async one, in the same run.

Each side runs in its own interpreter (`PYTHONPATH` = this checkout, or the baseline's sources
extracted with `git archive`; both use this checkout's compiled rust_core). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = "ecbd541"  # main before the kit refactor (issue 14): tools declared with kit.tool(...)

CALLS = textwrap.dedent(
    """
    import json, sys, time, anyio
    from mcp import Client
    try:
        from shared.settings import SuiteConfig
    except ImportError:
        from shared.config import SuiteConfig
    from tests.support.demo_server import build_server

    async def main(n):
        server = build_server(SuiteConfig(limits={"global": None, "identity": None}))
        async with Client(server) as client:
            for _ in range(200):
                await client.call_tool("demo_echo", {"text": "warm up"})
            times = []
            for i in range(n):
                started = time.perf_counter()
                result = await client.call_tool("demo_echo", {"text": f"call {i}"})
                times.append(time.perf_counter() - started)
                assert not result.is_error
        print(json.dumps(times))

    anyio.run(main, int(sys.argv[1]))
    """
)

STALL = textwrap.dedent(
    """
    import json, sys, time, anyio
    from shared.ratelimit import QuotaSpec

    URL, OLD = sys.argv[1], sys.argv[2] == "old"

    def limiter():
        from shared.redis_limiter import RedisCallLimiter
        quotas = {"identity": QuotaSpec(1000, 1000)}
        if OLD:
            from shared.redis_limiter import RedisLimitSettings
            return RedisCallLimiter(quotas, RedisLimitSettings(url=URL, timeout_s=0.25, retry_interval_s=1))
        from shared.settings import RedisSettings
        return RedisCallLimiter(quotas, RedisSettings(url=URL, timeout_s=0.25), retry_interval_s=1)

    async def main():
        checker = limiter()
        lateness = []
        done = anyio.Event()

        async def ping():
            while not done.is_set():
                started = time.perf_counter()
                await anyio.sleep(0.001)
                lateness.append(time.perf_counter() - started - 0.001)

        async def check(i):
            if OLD:
                checker.check(server="s", tool="t", subject=f"c{i}")  # as the old guard called it
            else:
                await checker.check(server="s", tool="t", subject=f"c{i}")

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(ping)
            async with anyio.create_task_group() as checks:
                for i in range(100):
                    checks.start_soon(check, i)
            done.set()
        elapsed = time.perf_counter() - started
        print(json.dumps({"lateness": lateness, "elapsed": elapsed}))

    anyio.run(main)
    """
)


def baseline_tree(rev: str, root: Path) -> Path:
    """The baseline's Python sources, with this checkout's compiled rust_core."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "shared", "tests/support", "tests/__init__.py", "rust_core"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    for native in (REPO / "rust_core").glob("_native*.so"):
        shutil.copy2(native, root / "rust_core" / native.name)
    return root


def run(tree: Path, code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=tree, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"run in {tree} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def calls(old: Path, new: Path, n: int, rounds: int) -> None:
    samples: dict[str, list[float]] = {"baseline": [], "kit": []}
    for _ in range(rounds):
        for name, tree in (("baseline", old), ("kit", new)):
            samples[name] += json.loads(run(tree, CALLS, str(n)))
    print(f"\n1. in-memory call of demo_echo, {rounds} rounds x {n} calls, alternating")
    print(f"   {'':10} {'p50 µs':>8} {'mean µs':>8} {'p95 µs':>8}")
    stats = {}
    for name, times in samples.items():
        times.sort()
        stats[name] = (statistics.median(times), statistics.fmean(times), times[int(len(times) * 0.95)])
        p50, mean, p95 = (x * 1e6 for x in stats[name])
        print(f"   {name:10} {p50:8.0f} {mean:8.0f} {p95:8.0f}")
    print(f"   ratio kit/baseline: p50 {stats['kit'][0] / stats['baseline'][0]:.3f}, "
          f"mean {stats['kit'][1] / stats['baseline'][1]:.3f}")  # fmt: skip


def stall(old: Path, new: Path) -> None:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        print("\n2. skipped: redis-server is not installed (scripts/setup installs it)")
        return
    sys.path.insert(0, str(REPO))
    from tests.support.services import free_port

    root = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    port = free_port()
    server = subprocess.Popen(
        [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(root)],
        stdout=subprocess.DEVNULL,
    )
    try:
        cli = shutil.which("redis-cli") or "redis-cli"
        for _ in range(100):
            if (
                subprocess.run([cli, "-p", str(port), "ping"], capture_output=True, check=False).returncode
                == 0
            ):
                break
            time.sleep(0.05)
        url = f"redis://127.0.0.1:{port}/0"
        print("\n2. 100 concurrent rate-limit checks against a stalled Redis (CLIENT PAUSE), timeout 0.25 s")
        print(f"   {'':22} {'ping worst ms':>13} {'ping p99 ms':>11} {'wall s':>7}")
        for name, tree, mode in (("baseline (blocking)", old, "old"), ("kit (async)", new, "new")):
            subprocess.run(
                [cli, "-p", str(port), "client", "pause", "4000", "all"], capture_output=True, check=True
            )
            found = json.loads(run(tree, STALL, url, mode))
            late = sorted(found["lateness"])
            worst, p99 = late[-1] * 1000, late[int(len(late) * 0.99)] * 1000
            print(f"   {name:22} {worst:13.1f} {p99:11.1f} {found['elapsed']:7.2f}")
            subprocess.run([cli, "-p", str(port), "client", "unpause"], capture_output=True, check=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-kit-") as tmp:
        old = baseline_tree(args.baseline, Path(tmp))
        print(f"baseline {args.baseline} vs this checkout; python {sys.version.split()[0]}, "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
        calls(old, REPO, args.calls, args.rounds)
        stall(old, REPO)


if __name__ == "__main__":
    main()
