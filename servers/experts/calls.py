"""Calling experts: the budget, one call, and a parallel fan-out with progress."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from servers.experts.models import ExpertAnswer, ExpertStatus
from servers.experts.prompts import ParsedAnswer, parse_answer
from servers.experts.providers import ProviderError
from servers.experts.roster import Expert
from servers.experts.wire_formats import Completion, Prompt
from shared.output import clip as clip_text

ProgressFn = Callable[[int, int, str], Awaitable[None]]
"""`progress(done, total, message)`: called as each expert answers."""


class Budget:
    """Spending limit of one tool call, enforced before each provider call.

    A call reserves its worst-case cost first (prompt size and every allowed output token at the
    configured price) and is skipped if that does not fit; when it returns, the reservation is
    replaced by the cost of the tokens the provider reported. The limit is therefore never exceeded.
    """

    def __init__(self, limit_usd: float) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self._reserved = 0.0

    def reserve(self, amount: float) -> bool:
        if self.spent_usd + self._reserved + amount > self.limit_usd + 1e-12:
            return False
        self._reserved += amount
        return True

    def settle(self, reserved: float, actual: float) -> None:
        self._reserved = max(0.0, self._reserved - reserved)
        self.spent_usd += actual


class Progress:
    """Counts finished calls and forwards them to the tool's progress callback."""

    def __init__(self, callback: ProgressFn | None, total: int) -> None:
        self._callback = callback
        self.total = total
        self.done = 0

    def grow(self, extra: int) -> None:
        self.total += extra

    async def step(self, message: str) -> None:
        self.done += 1
        if self._callback is not None:
            await self._callback(self.done, max(self.total, self.done), message)


@dataclass(slots=True)
class CallOutcome:
    status: ExpertStatus
    completion: Completion | None = None
    latency_ms: float | None = None
    cost_usd: float = 0.0
    error: str | None = None


async def call_expert(expert: Expert, prompt: Prompt, budget: Budget) -> CallOutcome:
    """One call to one expert, within the budget and the expert's timeout."""
    prompt_chars = len(prompt.user) + len(prompt.system or "")
    reserved = expert.worst_case_cost(prompt_chars, prompt.max_tokens)
    if not budget.reserve(reserved):
        return CallOutcome(
            ExpertStatus.SKIPPED_BUDGET,
            error=f"needs up to ${reserved:.4f}; ${budget.limit_usd - budget.spent_usd:.4f} left",
        )
    started = time.perf_counter()
    try:
        completion = await expert.client.complete(expert.settings.model, prompt, timeout_s=expert.timeout_s)
    except ProviderError as exc:
        status = ExpertStatus.TIMEOUT if exc.timed_out else ExpertStatus.ERROR
        return CallOutcome(status, latency_ms=_ms_since(started), error=str(exc))
    finally:
        budget.settle(reserved, 0.0)  # also when cancelled: the reservation is released
    latency = _ms_since(started)
    actual = expert.cost(completion.input_tokens, completion.output_tokens)
    budget.settle(0.0, actual)
    return CallOutcome(ExpertStatus.OK, completion=completion, latency_ms=latency, cost_usd=actual)


@dataclass(slots=True)
class Answered:
    """An expert's entry in the report, with the text the consensus sees."""

    expert: Expert
    entry: ExpertAnswer
    text: str | None = None

    @property
    def ok(self) -> bool:
        return self.entry.status is ExpertStatus.OK and self.text is not None


def charge(entry: ExpertAnswer, outcome: CallOutcome) -> None:
    """Add a follow-up round's tokens and cost (judge, ranking) to the expert's entry."""
    if outcome.completion is not None:
        entry.input_tokens += outcome.completion.input_tokens
        entry.output_tokens += outcome.completion.output_tokens
    entry.cost_usd = round(entry.cost_usd + outcome.cost_usd, 8)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def answer_from(
    expert: Expert, outcome: CallOutcome, *, max_chars: int, stance: str | None = None
) -> tuple[ExpertAnswer, ParsedAnswer | None]:
    """The report entry for an answer call, and the parsed answer when there is one."""
    entry = ExpertAnswer(
        expert=expert.name,
        provider=expert.client.name,
        model=expert.settings.model,
        status=outcome.status,
        latency_ms=outcome.latency_ms,
        cost_usd=round(outcome.cost_usd, 8),
        stance=stance,
        error=outcome.error,
    )
    if outcome.completion is None:
        return entry, None
    parsed = parse_answer(outcome.completion.text)
    entry.input_tokens = outcome.completion.input_tokens
    entry.output_tokens = outcome.completion.output_tokens
    entry.answer = clip(parsed.answer, max_chars)
    entry.verdict = parsed.verdict
    entry.confidence = parsed.confidence
    entry.parse_format = parsed.format
    return entry, parsed


async def fan_out(
    calls: Sequence[tuple[Expert, Prompt]], budget: Budget, progress: Progress, *, label: str = "answered"
) -> list[CallOutcome]:
    """All calls in parallel; results in the order given. Cancelling the caller cancels every call."""
    results: list[CallOutcome | None] = [None] * len(calls)

    async def run(index: int, expert: Expert, prompt: Prompt) -> None:
        outcome = await call_expert(expert, prompt, budget)
        results[index] = outcome
        detail = outcome.status.value if outcome.status is not ExpertStatus.OK else label
        await progress.step(f"{expert.name}: {detail}")

    async with anyio.create_task_group() as tg:
        for index, (expert, prompt) in enumerate(calls):
            tg.start_soon(run, index, expert, prompt)
    return [r if r is not None else CallOutcome(ExpertStatus.ERROR, error="no result") for r in results]


def clip(text: str, max_chars: int) -> str:
    """The text cut to `max_chars`, saying how much was cut (shared.output's convention)."""
    return clip_text(text, max_chars)[0]
