"""experts_vote: a categorical vote with its margin and Fleiss' kappa."""

from __future__ import annotations

import math
from dataclasses import dataclass

from servers.experts.calls import Progress, ProgressFn, answer_from, fan_out
from servers.experts.circle_ops import Circle
from servers.experts.models import ExpertStatus, OptionTally, VoteResult
from servers.experts.prompts import parse_choice, stance_system, vote_prompt, vote_schema
from servers.experts.wire_formats import Prompt
from shared.consensus import fleiss_kappa
from shared.errors import InvalidArgument

MAX_OPTIONS = 20


@dataclass(frozen=True, slots=True)
class VoteRequest:
    question: str
    options: list[str]
    experts: list[str] | None = None
    budget_usd: float | None = None
    timeout_s: float | None = None


def check_options(options: list[str]) -> list[str]:
    cleaned = [" ".join(o.split()) for o in options]
    if len(cleaned) < 2 or len(cleaned) > MAX_OPTIONS:
        raise InvalidArgument(f"give between 2 and {MAX_OPTIONS} options")
    if any(not o or len(o) > 200 for o in cleaned):
        raise InvalidArgument("each option must be 1 to 200 characters")
    if len({o.lower() for o in cleaned}) != len(cleaned):
        raise InvalidArgument("options must be distinct")
    return cleaned


def kappa_of(counts: list[int]) -> float | None:
    """Fleiss' kappa of one question's votes (1 = unanimous); None with fewer than 2 votes."""
    if sum(counts) < 2:
        return None
    try:
        value = fleiss_kappa([counts])
    except ValueError:
        return None
    return round(value, 4) if math.isfinite(value) else None


async def vote(circle: Circle, request: VoteRequest, progress_fn: ProgressFn | None = None) -> VoteResult:
    circle.check_text("question", request.question)
    options = check_options(request.options)
    experts = await circle.choose(request.experts, request.timeout_s)
    budget = circle.budget(request.budget_usd)
    calls = [
        (
            e,
            Prompt(
                user=vote_prompt(request.question, options, structured=e.structured),
                system=stance_system(e.settings.system_prompt, None),
                schema=vote_schema(options) if e.structured else None,
                max_tokens=min(e.settings.max_tokens, 400),
                temperature=e.settings.temperature,
                seed=e.settings.seed,
            ),
        )
        for e in experts
    ]
    outcomes = await fan_out(calls, budget, Progress(progress_fn, len(experts)), label="voted")
    voters: dict[str, list[str]] = {o: [] for o in options}
    abstained: list[str] = []
    entries = []
    for expert, outcome in zip(experts, outcomes, strict=True):
        entry, _ = answer_from(expert, outcome, max_chars=circle.answer_chars())
        if outcome.completion is not None:
            choice = parse_choice(outcome.completion.text, options)
            entry.verdict = choice
            if choice is None:
                abstained.append(expert.name)
            else:
                voters[choice].append(expert.name)
        entries.append(entry)
    tallies = sorted(
        (OptionTally(option=o, votes=len(v), voters=v) for o, v in voters.items()),
        key=lambda t: -t.votes,
    )
    valid = sum(t.votes for t in tallies)
    top = tallies[0].votes
    runner_up = tallies[1].votes
    winner = tallies[0].option if valid and top > runner_up else None
    notes = []
    if abstained:
        notes.append(f"No readable choice from {', '.join(abstained)}.")
    failed = [e.expert for e in entries if e.status is not ExpertStatus.OK]
    if failed:
        notes.append(f"No vote from {', '.join(failed)} (see each expert's status).")
    if valid and top == runner_up:
        notes.append("Tie: no winner.")
    kappa = kappa_of([len(voters[o]) for o in options])
    if kappa is None:
        notes.append("Kappa needs at least two valid votes.")
    return VoteResult(
        question=request.question[:500],
        winner=winner,
        margin=round((top - runner_up) / valid, 4) if valid else 0.0,
        kappa=kappa,
        tallies=tallies,
        abstained=abstained,
        experts=entries,
        total_cost_usd=round(sum(e.cost_usd for e in entries), 8),
        budget_usd=budget.limit_usd,
        notes=notes,
    )
