"""Fan-out of the experts circle: wall time vs the sum and the max of the providers' delays.

N = 3, 5, 10 experts on a local OpenAI-compatible endpoint (the FAKE provider server from the
tests, run in its own process) whose every answer takes a fixed delay per expert (100 ms + 10 ms
x i). A sequential circle would take the sum of the delays; a perfect parallel one takes the max.
Target: wall <= max + 10 ms + 5 %. Baselines measured in the same run: the sum, the max, and a raw
fan-out of the same N requests with one bare `httpx.AsyncClient` (the transport's own floor).
Layers: `domain` (the circle's logic: budget, retries, breaker, parsing, Rust consensus) and `mcp`
(the full `experts_ask` tool through an in-memory MCP client: guard, rate limits, serialisation).

Synthesis (issue 19): the same circles with `synthesize=true` and a chairman whose answer takes
CHAIR_DELAY_S. It must add one call's latency, no more: the ratio wall / (slowest expert + chairman)
is measured in the same run, next to the plain circle's wall / slowest expert.

    python -m benchmarks.bench_experts [--runs 5]      (from the repository root)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

from servers.experts.circle_ops import AskRequest, Circle
from servers.experts.roster import Roster
from servers.experts.server import build_server
from servers.experts.settings import ExpertsSettings
from shared.settings import SuiteConfig
from tests.support.services import free_port, port_open, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[1]
CHAIR_DELAY_S = 0.150
Timer = Callable[[str, int, int], Awaitable[list[float]]]


def experts_section(base_url: str, n: int) -> dict[str, Any]:
    return {
        "providers": [
            {
                "name": "local",
                "kind": "openai_compatible",
                "base_url": base_url,
                "requests_per_second": 1000,
                "burst": 100,
                "max_connections": 32,
            }
        ],
        "experts": [{"name": f"e{i}", "provider": "local", "model": f"delay-{i}"} for i in range(n)]
        + [{"name": "chair", "provider": "local", "model": "chair"}],
        "local_probe_url": "",
    }


def delays_for(n: int) -> list[float]:
    return [0.100 + 0.010 * i for i in range(n)]


async def time_raw(base_url: str, n: int, runs: int) -> list[float]:
    walls = []
    async with httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=32)) as http:

        async def one(i: int) -> None:
            body = {"model": f"delay-{i}", "messages": [{"role": "user", "content": "q"}], "max_tokens": 8}
            (await http.post("/chat/completions", json=body)).raise_for_status()

        for run in range(runs + 1):
            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(one, i)
            if run:  # the first run is the warm-up
                walls.append(time.perf_counter() - started)
    return walls


async def time_domain(base_url: str, n: int, runs: int) -> list[float]:
    roster = Roster(ExpertsSettings.model_validate(experts_section(base_url, n)), environ={})
    circle = Circle(roster)
    walls = []
    asked = [f"e{i}" for i in range(n)]
    try:
        await circle.ask(AskRequest(question="warm-up", experts=asked))
        for _ in range(runs):
            started = time.perf_counter()
            report = await circle.ask(AskRequest(question="Which database?", experts=asked))
            walls.append(time.perf_counter() - started)
            assert report.answered == n
    finally:
        await roster.aclose()
    return walls


async def time_mcp(base_url: str, n: int, runs: int) -> list[float]:
    config = SuiteConfig.model_validate({"experts": experts_section(base_url, n)})
    walls = []
    asked = [f"e{i}" for i in range(n)]
    async with Client(build_server(config)) as client:
        await client.call_tool("experts_ask", {"question": "warm-up", "experts": asked})
        for _ in range(runs):
            started = time.perf_counter()
            result = await client.call_tool("experts_ask", {"question": "Which database?", "experts": asked})
            walls.append(time.perf_counter() - started)
            assert not result.is_error and result.structured_content is not None
            assert result.structured_content["answered"] == n
    return walls


async def measure(base_url: str, delays: list[float], runs: int) -> None:
    print(f"experts fan-out: {runs} runs each after one warm-up; median wall time (min in brackets)")
    header = ("N", "layer", "sum", "max", "target", "wall", "wall/sum", "over max", "over raw")
    widths = (3, 6, 8, 8, 8, 17, 9, 9, 9)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    layers: list[tuple[str, Timer]] = [("raw", time_raw), ("domain", time_domain), ("mcp", time_mcp)]
    for n in (3, 5, 10):
        total, longest = sum(delays[:n]), max(delays[:n])
        target = longest + 0.010 + 0.05 * longest
        raw = 0.0
        for layer, timer in layers:
            walls = await timer(base_url, n, runs)
            median = statistics.median(walls)
            raw = median if layer == "raw" else raw
            verdict = "ok" if median <= target else "MISS"
            print(
                f"{n:>3} {layer:>6} {total * 1000:>6.0f}ms {longest * 1000:>6.0f}ms "
                f"{target * 1000:>6.0f}ms "
                f"{median * 1000:>7.1f}ms ({min(walls) * 1000:>5.1f}) {median / total:>8.2f}x "
                f"{(median - longest) * 1000:>7.1f}ms {(median - raw) * 1000:>7.1f}ms {verdict}"
            )


async def time_synthesis(base_url: str, n: int, runs: int, synthesize: bool) -> list[float]:
    roster = Roster(ExpertsSettings.model_validate(experts_section(base_url, n)), environ={})
    circle = Circle(roster)
    request = AskRequest(
        question="Which database?",
        experts=[f"e{i}" for i in range(n)],
        synthesize=synthesize,
        chairman="chair",
    )
    walls = []
    try:
        await circle.ask(request)
        for _ in range(runs):
            started = time.perf_counter()
            report = await circle.ask(request)
            walls.append(time.perf_counter() - started)
            assert report.answered == n
            assert (report.synthesis is not None) is synthesize
            assert report.synthesis is None or report.synthesis.text
    finally:
        await roster.aclose()
    return walls


async def measure_synthesis(base_url: str, delays: list[float], runs: int) -> None:
    print(f"\nsynthesis: chairman answers in {CHAIR_DELAY_S * 1000:.0f} ms; {runs} runs each, median (min)")
    header = ("N", "slowest", "plain wall", "plain/slowest", "synth wall", "slowest+chair", "ratio", "added")
    print(" ".join(f"{h:>13}" for h in header))
    for n in (3, 5, 10):
        longest = max(delays[:n])
        plain = await time_synthesis(base_url, n, runs, False)
        synth = await time_synthesis(base_url, n, runs, True)
        p, q = statistics.median(plain), statistics.median(synth)
        ideal = longest + CHAIR_DELAY_S
        print(
            f"{n:>13} {longest * 1000:>11.0f}ms {p * 1000:>8.1f}ms ({min(plain) * 1000:.0f}) "
            f"{p / longest:>12.2f}x {q * 1000:>8.1f}ms ({min(synth) * 1000:.0f}) "
            f"{ideal * 1000:>11.0f}ms {q / ideal:>12.2f}x "
            f"{(q - p) * 1000:>10.1f}ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    logging.getLogger("httpx").setLevel(logging.WARNING)
    delays = delays_for(10)
    port = free_port()
    specs = [f"delay-{i}={d}" for i, d in enumerate(delays)] + [f"chair={CHAIR_DELAY_S}"]
    # The fake runs in its own process so it does not compete with the client for the GIL.
    command = [sys.executable, "-m", "tests.integration.experts.fake_providers", str(port), *specs]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_until(lambda: port_open(port), timeout=20, what="fake provider")
        anyio.run(measure, f"http://127.0.0.1:{port}/v1", delays, runs)
        anyio.run(measure_synthesis, f"http://127.0.0.1:{port}/v1", delays, runs)
    finally:
        stop_process(server)


if __name__ == "__main__":
    main()
