"""The three measurements: shuffled rounds over every pair, cold starts, and memory after many calls.

- Rounds: every server of a pair open at once; each round calls every (pair, server) once, in a
  fresh random order, one call at a time, so each sees the same machine load. A few unmeasured
  warm-up rounds come first. Sizes and completeness are read from the last round's results.
- Cold start: spawn → `initialize` answered → the first tool result, one fresh process at a time,
  the servers interleaved spawn by spawn.
- Memory: a fresh process per server, its pair calls cycled; VmRSS at start, after `rss_calls`, and
  (for CODE's deployment server and the bare server) after `growth_calls`.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conformance.targets import READ_CALLS

from .backends import Backends
from .pairs import PAIRS, Pair, Way
from .servers import ServerSpec
from .sessions import Outcome, Session, call, connect, open_session, rss_kib


def quantile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


@dataclass(frozen=True)
class Item:
    """One side of one pair, with the tool its server answered to."""

    pair: Pair
    way: Way
    tool: str


@dataclass(frozen=True)
class Skipped:
    pair: str
    server: str
    reason: str


def resolve(sessions: dict[str, Session]) -> tuple[list[Item], list[Skipped]]:
    """Pick each side's tool from its server's tool list (first candidate it has)."""
    items: list[Item] = []
    skipped: list[Skipped] = []
    for pair in PAIRS:
        for way in (pair.code, *pair.peers):
            session = sessions.get(way.server)
            if session is None:
                skipped.append(Skipped(pair.key, way.server, "server not running"))
                continue
            tool = next((name for name in way.candidates if name in session.tools), None)
            if tool is None:
                wanted = " / ".join(way.candidates)
                skipped.append(Skipped(pair.key, way.server, f"no equivalent tool (looked for {wanted})"))
            else:
                items.append(Item(pair, way, tool))
    return items, skipped


@dataclass
class ItemResult:
    """One side of one pair over one run."""

    pair: str
    server: str
    tool: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    text_chars: int = 0
    structured_chars: int = 0
    facts: int = 0
    text_found: int = 0
    structured_found: int = 0
    missing_in_text: list[str] = field(default_factory=list)
    error_text: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p95(self) -> float:
        return quantile(self.latencies_ms, 0.95)

    @property
    def chars(self) -> int:
        return self.text_chars + self.structured_chars

    def summary(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "server": self.server,
            "tool": self.tool,
            "calls": len(self.latencies_ms),
            "errors": self.errors,
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 3) if self.latencies_ms else None,
            "text_chars": self.text_chars,
            "structured_chars": self.structured_chars,
            "combined_chars": self.chars,
            "text_tokens_approx": round(self.text_chars / 4),
            "structured_tokens_approx": round(self.structured_chars / 4),
            "combined_tokens_approx": round(self.chars / 4),
            "facts": self.facts,
            "found_in_text": self.text_found,
            "found_in_structured": self.structured_found,
            "missing_in_text": self.missing_in_text,
            "error_text": self.error_text,
        }


@dataclass(frozen=True)
class Run:
    """What one run measured, and how each side was resolved."""

    results: list[ItemResult]
    items: list[Item]
    skipped: list[Skipped]
    tools: dict[str, list[str]]


def _record(result: ItemResult, outcome: Outcome, item: Item, backends: Backends) -> None:
    """Sizes and completeness of one result (the last one of the run wins)."""
    facts = item.pair.facts(backends)
    result.text_chars = outcome.text_chars
    result.structured_chars = outcome.structured_chars
    result.facts = len(facts)
    result.text_found = sum(1 for f in facts if f.pattern.search(outcome.text))
    result.structured_found = sum(1 for f in facts if f.pattern.search(outcome.structured))
    result.missing_in_text = [f.what for f in facts if not f.pattern.search(outcome.text)][:5]
    result.error_text = outcome.text[:300] if outcome.is_error else ""


async def run_rounds(
    specs: Sequence[ServerSpec],
    backends: Backends,
    logs: Path,
    *,
    rounds: int,
    warmup: int,
    rng: random.Random,
) -> Run:
    """One run: open every server at once, warm up, then `rounds` shuffled rounds."""
    async with AsyncExitStack() as stack:
        sessions = {spec.key: await stack.enter_async_context(open_session(spec, logs)) for spec in specs}
        items, skipped = resolve(sessions)
        results = {id(item): ItemResult(item.pair.key, item.way.server, item.tool) for item in items}
        order = list(items)
        for number in range(warmup + rounds):
            rng.shuffle(order)
            for item in order:
                arguments = item.way.arguments(backends, item.tool)
                outcome = await call(sessions[item.way.server].client, item.tool, arguments)
                result = results[id(item)]
                if number < warmup:
                    continue
                result.latencies_ms.append(outcome.ms)
                result.errors += outcome.is_error
                if number == warmup + rounds - 1:
                    _record(result, outcome, item, backends)
        tools = {spec.key: sorted(sessions[spec.key].tools) for spec in specs}
        return Run([results[id(item)] for item in items], items, skipped, tools)


# --------------------------------------------------------------------------- cold start


@dataclass(frozen=True)
class FirstCall:
    tool: str
    arguments: dict[str, Any]


def first_calls(
    specs: Sequence[ServerSpec], items: Sequence[Item], backends: Backends
) -> dict[str, FirstCall]:
    """The call each server's cold start ends with: its first pair's tool, else a cheap read."""
    calls: dict[str, FirstCall] = {}
    for item in items:
        if item.way.server not in calls:
            calls[item.way.server] = FirstCall(item.tool, item.way.arguments(backends, item.tool))
    for spec in specs:
        name = spec.key.removeprefix("code:")
        if spec.key not in calls and spec.side == "code" and name in READ_CALLS:
            calls[spec.key] = FirstCall(READ_CALLS[name].tool, dict(READ_CALLS[name].arguments))
        if spec.side == "bare":
            calls[spec.key] = FirstCall("echo", {"text": "hello"})
    return calls


@dataclass
class ColdStart:
    server: str
    tool: str
    initialize_ms: list[float] = field(default_factory=list)
    first_result_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "tool": self.tool,
            "spawns": len(self.first_result_ms),
            "errors": self.errors,
            "initialize_median_ms": round(statistics.median(self.initialize_ms), 1),
            "first_result_median_ms": round(statistics.median(self.first_result_ms), 1),
            "first_result_min_ms": round(min(self.first_result_ms), 1),
            "first_result_max_ms": round(max(self.first_result_ms), 1),
        }


async def cold_starts(
    specs: Sequence[ServerSpec], calls: dict[str, FirstCall], logs: Path, *, spawns: int
) -> list[ColdStart]:
    """Median over `spawns` fresh processes of spawn → initialize → first tool result."""
    runs = {spec.key: ColdStart(spec.key, calls[spec.key].tool) for spec in specs if spec.key in calls}
    for _ in range(spawns):
        for spec in specs:
            if spec.key not in runs:
                continue
            first = calls[spec.key]
            with (logs / f"cold-{spec.key.replace(':', '-')}.log").open("a") as errlog:
                started = time.perf_counter()
                async with connect(spec, errlog) as client:
                    initialized = time.perf_counter()
                    result = await client.call_tool(first.tool, first.arguments)
                    done = time.perf_counter()
            run = runs[spec.key]
            run.initialize_ms.append((initialized - started) * 1000)
            run.first_result_ms.append((done - started) * 1000)
            run.errors += bool(result.is_error)
    return list(runs.values())


# --------------------------------------------------------------------------- memory


@dataclass
class Footprint:
    server: str
    calls: int
    rss_start_kib: int = 0
    rss_kib: int = 0
    growth_calls: int | None = None
    rss_growth_end_kib: int | None = None
    errors: int = 0

    def summary(self) -> dict[str, Any]:
        growth = None if self.rss_growth_end_kib is None else self.rss_growth_end_kib - self.rss_kib
        return {
            "server": self.server,
            "rss_at_start_mib": round(self.rss_start_kib / 1024, 1),
            "calls": self.calls,
            "rss_mib": round(self.rss_kib / 1024, 1),
            "growth_calls": self.growth_calls,
            "rss_at_growth_end_mib": None
            if self.rss_growth_end_kib is None
            else round(self.rss_growth_end_kib / 1024, 1),
            "growth_mib": None if growth is None else round(growth / 1024, 2),
            "errors": self.errors,
        }


async def footprint(
    spec: ServerSpec,
    mix: Sequence[FirstCall],
    logs: Path,
    *,
    calls: int,
    growth_calls: int | None,
) -> Footprint:
    """VmRSS of a fresh server after `calls` calls of its mix (and after `growth_calls`, if given)."""
    measured = Footprint(spec.key, calls, growth_calls=growth_calls)
    async with open_session(spec, logs) as session:
        measured.rss_start_kib = rss_kib(session.pid)
        total = max(calls, growth_calls or 0)
        for number in range(1, total + 1):
            one = mix[number % len(mix)]
            outcome = await call(session.client, one.tool, one.arguments)
            measured.errors += outcome.is_error
            if number == calls:
                measured.rss_kib = rss_kib(session.pid)
            if number == growth_calls:
                measured.rss_growth_end_kib = rss_kib(session.pid)
    return measured
