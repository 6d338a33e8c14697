"""The rounds where experts read each other, anonymised: the judge round and the peer ranking.

Each expert sees the others' answers under letters (A, B, …), rotated by its own position so no
answer always sits first, and never with a name, a provider or a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from servers.experts.calls import Answered, Budget, Progress, charge, clip, fan_out
from servers.experts.models import JudgeMatrix, PeerRank
from servers.experts.prompts import (
    JUDGE_SCHEMA,
    RANKING_SCHEMA,
    judge_prompt,
    labels,
    parse_labels,
    ranking_prompt,
    stance_system,
)
from servers.experts.roster import Expert
from servers.experts.wire_formats import Prompt
from shared.consensus import text_similarity

_SHOWN_ANSWER_CHARS = 1500
_RANKED = 2000  # characters of each review shown to a ranker


def anonymised_others(i: int, n: int) -> dict[str, int]:
    """Labels for everyone but `i`, rotated by `i`: label -> index."""
    others = [j for j in range(n) if j != i]
    shift = i % len(others)
    others = others[shift:] + others[:shift]
    return dict(zip(labels(len(others)), others, strict=True))


def _shown(answered: Answered) -> str:
    verdict = f"Verdict: {answered.entry.verdict}\n" if answered.entry.verdict else ""
    return verdict + clip(answered.text or "", _SHOWN_ANSWER_CHARS)


def _verdict_of(answered: Answered) -> str:
    return answered.entry.verdict or answered.text or ""


def _follow_up(expert: Expert, text: str, schema: dict[str, object] | None) -> Prompt:
    return Prompt(
        user=text,
        system=stance_system(expert.settings.system_prompt, None),
        schema=schema if expert.structured else None,
        max_tokens=min(256, expert.settings.max_tokens),
        temperature=0.0,
        seed=expert.settings.seed,
    )


async def judge_round(answered: Sequence[Answered], budget: Budget, progress: Progress) -> JudgeMatrix | None:
    """Each expert says which other answers reach its conclusion; the matrix is symmetrised.

    Entry (i, j) is the mean of i's judgement of j and j's of i (1 = same conclusion); when
    neither could judge, the text similarity of their verdicts stands in.
    """
    ok = [a for a in answered if a.ok]
    n = len(ok)
    if n < 2:
        return None
    progress.grow(n)
    label_maps = [anonymised_others(i, n) for i in range(n)]
    calls = [
        (
            judge.expert,
            _follow_up(
                judge.expert,
                judge_prompt(
                    _shown(judge),
                    [(label, _shown(ok[j])) for label, j in label_maps[i].items()],
                    structured=judge.expert.structured,
                ),
                JUDGE_SCHEMA,
            ),
        )
        for i, judge in enumerate(ok)
    ]
    outcomes = await fan_out(calls, budget, progress, label="judged")
    votes: list[list[float | None]] = [[None] * n for _ in range(n)]
    failed: list[str] = []
    for i, (judge, outcome) in enumerate(zip(ok, outcomes, strict=True)):
        charge(judge.entry, outcome)
        text = outcome.completion.text if outcome.completion else ""
        same = parse_labels(text, "same", list(label_maps[i])) if outcome.completion else None
        if same is None:
            failed.append(judge.expert.name)
            continue
        agreeing = {label_maps[i][label] for label in same}
        for j in label_maps[i].values():
            votes[i][j] = 1.0 if j in agreeing else 0.0
    matrix = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            seen = [v for v in (votes[i][j], votes[j][i]) if v is not None]
            if seen:
                value = sum(seen) / len(seen)
            else:
                value = text_similarity(
                    ok[i].entry.verdict or ok[i].text or "", ok[j].entry.verdict or ok[j].text or ""
                )
            matrix[i][j] = matrix[j][i] = round(value, 4)
    return JudgeMatrix(experts=[a.expert.name for a in ok], matrix=matrix, judges_failed=failed)


async def peer_rank(
    answered: Sequence[Answered], budget: Budget, progress: Progress
) -> list[PeerRank] | None:
    """Each reviewer ranks the others' reviews, anonymised; Borda scores become consensus weights.

    Weight = 0.5 + mean score, so the best-ranked review counts up to three times the worst.
    """
    ok = [a for a in answered if a.ok]
    n = len(ok)
    if n < 3:
        return None
    progress.grow(n)
    label_maps = [anonymised_others(i, n) for i in range(n)]
    calls = [
        (
            ranker.expert,
            _follow_up(
                ranker.expert,
                ranking_prompt(
                    [(label, clip(ok[j].text or "", _RANKED)) for label, j in label_maps[i].items()],
                    structured=ranker.expert.structured,
                ),
                RANKING_SCHEMA,
            ),
        )
        for i, ranker in enumerate(ok)
    ]
    outcomes = await fan_out(calls, budget, progress, label="ranked")
    scores: list[list[float]] = [[] for _ in range(n)]
    for i, (ranker, outcome) in enumerate(zip(ok, outcomes, strict=True)):
        charge(ranker.entry, outcome)
        if outcome.completion is None:
            continue
        ranking = parse_labels(outcome.completion.text, "ranking", list(label_maps[i]))
        if not ranking:
            continue
        # Unranked reviews share the places after the ranked ones.
        m = len(label_maps[i])
        for position, label in enumerate(ranking):
            scores[label_maps[i][label]].append(1.0 - position / (m - 1))
        for label, j in label_maps[i].items():
            if label not in ranking:
                scores[j].append(0.0 if len(ranking) >= m - 1 else 0.5 * (1.0 - len(ranking) / (m - 1)))
    out = []
    for j, a in enumerate(ok):
        mean = sum(scores[j]) / len(scores[j]) if scores[j] else 0.5
        out.append(
            PeerRank(
                expert=a.expert.name,
                mean_score=round(mean, 4),
                rankers=len(scores[j]),
                weight=round(0.5 + mean, 4),
            )
        )
    return out
