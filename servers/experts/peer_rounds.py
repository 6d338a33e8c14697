"""The rounds where experts read each other, anonymised: the judge round and the peer ranking.

Each expert sees the others' answers under letters (A, B, …), rotated by its own position so no
answer always sits first, and never with a name, a provider or a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from servers.experts.calls import Answered, Budget, Progress, charge, clip, fan_out
from servers.experts.models import JudgeMatrix, PeerRank
from servers.experts.prompts import (
    JUDGE_SCHEMA,
    RANKING_SCHEMA,
    STATED_FORMATS,
    VERDICT_SCHEMA,
    judge_prompt,
    labels,
    parse_follow_up,
    parse_labels,
    ranking_prompt,
    stance_system,
    verdict_prompt,
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


_VERDICT_TOKENS = 96  # a one-line verdict, with room for a JSON wrapper


def _follow_up(expert: Expert, text: str, schema: dict[str, object] | None, max_tokens: int = 256) -> Prompt:
    return Prompt(
        user=text,
        system=stance_system(expert.settings.system_prompt, None),
        schema=schema if expert.structured else None,
        max_tokens=min(max_tokens, expert.settings.max_tokens),
        temperature=0.0,
        seed=expert.settings.seed,
    )


async def _ask_about_the_others(
    ok: Sequence[Answered],
    budget: Budget,
    progress: Progress,
    *,
    question: Callable[[Answered, dict[str, int]], str],
    schema: dict[str, object],
    label: str,
) -> list[tuple[dict[str, int], str | None]]:
    """One follow-up call per expert about the others' answers (labelled by `anonymised_others`).

    Each call's tokens and cost are charged to its expert. Returns, per expert in the order given,
    its label map (label -> index in `ok`) and the reply's text (None when the call failed).
    """
    progress.grow(len(ok))
    label_maps = [anonymised_others(i, len(ok)) for i in range(len(ok))]
    calls = [
        (asked.expert, _follow_up(asked.expert, question(asked, label_maps[i]), schema))
        for i, asked in enumerate(ok)
    ]
    outcomes = await fan_out(calls, budget, progress, label=label)
    replies: list[tuple[dict[str, int], str | None]] = []
    for asked, label_map, outcome in zip(ok, label_maps, outcomes, strict=True):
        charge(asked.entry, outcome)
        replies.append((label_map, outcome.completion.text if outcome.completion else None))
    return replies


async def verdict_round(
    answered: Sequence[Answered], question: str, budget: Budget, progress: Progress
) -> list[str]:
    """Each answer that stated no verdict gets one short follow-up asking for its one-line verdict
    (cheaper and more reliable than grouping bodies by wording). Returns who was asked."""
    missing = [a for a in answered if a.ok and a.entry.parse_format not in STATED_FORMATS]
    if not missing:
        return []
    progress.grow(len(missing))
    calls = [
        (
            a.expert,
            _follow_up(
                a.expert,
                verdict_prompt(
                    question, clip(a.text or "", _SHOWN_ANSWER_CHARS), structured=a.expert.structured
                ),
                VERDICT_SCHEMA,
                _VERDICT_TOKENS,
            ),
        )
        for a in missing
    ]
    outcomes = await fan_out(calls, budget, progress, label="stated a verdict")
    for asked, outcome in zip(missing, outcomes, strict=True):
        charge(asked.entry, outcome)
        verdict = parse_follow_up(outcome.completion.text) if outcome.completion else None
        if verdict:
            asked.entry.verdict, asked.entry.parse_format = verdict, "follow_up"
    return [a.expert.name for a in missing]


async def judge_round(answered: Sequence[Answered], budget: Budget, progress: Progress) -> JudgeMatrix | None:
    """Each expert says which other answers reach its conclusion; the matrix is symmetrised.

    Entry (i, j) is the mean of i's judgement of j and j's of i (1 = same conclusion); when
    neither could judge, the text similarity of their verdicts stands in.
    """
    ok = [a for a in answered if a.ok]
    n = len(ok)
    if n < 2:
        return None

    def question(judge: Answered, label_map: dict[str, int]) -> str:
        others = [(label, _shown(ok[j])) for label, j in label_map.items()]
        return judge_prompt(_shown(judge), others, structured=judge.expert.structured)

    replies = await _ask_about_the_others(
        ok, budget, progress, question=question, schema=JUDGE_SCHEMA, label="judged"
    )
    votes: list[list[float | None]] = [[None] * n for _ in range(n)]
    failed: list[str] = []
    for i, (judge, (label_map, text)) in enumerate(zip(ok, replies, strict=True)):
        same = parse_labels(text, "same", list(label_map)) if text is not None else None
        if same is None:
            failed.append(judge.expert.name)
            continue
        agreeing = {label_map[label] for label in same}
        for j in label_map.values():
            votes[i][j] = 1.0 if j in agreeing else 0.0
    matrix = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            seen = [v for v in (votes[i][j], votes[j][i]) if v is not None]
            value = sum(seen) / len(seen) if seen else text_similarity(_verdict_of(ok[i]), _verdict_of(ok[j]))
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

    def question(ranker: Answered, label_map: dict[str, int]) -> str:
        reviews = [(label, clip(ok[j].text or "", _RANKED)) for label, j in label_map.items()]
        return ranking_prompt(reviews, structured=ranker.expert.structured)

    replies = await _ask_about_the_others(
        ok, budget, progress, question=question, schema=RANKING_SCHEMA, label="ranked"
    )
    scores: list[list[float]] = [[] for _ in range(n)]
    for label_map, text in replies:
        if text is None:
            continue
        ranking = parse_labels(text, "ranking", list(label_map))
        if not ranking:
            continue
        # Unranked reviews share the places after the ranked ones.
        m = len(label_map)
        for position, label in enumerate(ranking):
            scores[label_map[label]].append(1.0 - position / (m - 1))
        for label, j in label_map.items():
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
