"""experts_review: reviews of code or a plan, optional stances, and an anonymised peer ranking."""

from __future__ import annotations

from dataclasses import dataclass

from servers.experts.calls import Progress, ProgressFn
from servers.experts.circle_ops import Circle
from servers.experts.models import CircleReport, PeerRank
from servers.experts.peer_rounds import peer_rank
from servers.experts.prompts import (
    Stance,
    review_prompt,
)
from shared.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    content: str
    focus: str | None = None
    experts: list[str] | None = None
    stances: list[Stance] | None = None
    peer_ranking: bool = False
    budget_usd: float | None = None
    timeout_s: float | None = None


async def review(
    circle: Circle, request: ReviewRequest, progress_fn: ProgressFn | None = None
) -> CircleReport:
    """Every expert reviews the content; with `peer_ranking`, they rank each other's reviews blind."""
    if not request.content.strip():
        raise InvalidArgument("content is empty: pass the code or plan to review")
    circle.check_text("content", request.content)
    circle.check_text("focus", request.focus)
    experts = await circle.choose(request.experts, request.timeout_s)
    budget = circle.budget(request.budget_usd)
    stances = _assign(request.stances, len(experts))
    progress = Progress(progress_fn, len(experts))
    texts = [review_prompt(request.content, request.focus, structured=e.structured) for e in experts]
    answered = await circle.answer_round(experts, texts, budget, progress, stances=stances)
    notes: list[str] = []
    if stances is not None:
        notes.append("Experts argued assigned stances; agreement across stances is a strong signal.")
    ranks: list[PeerRank] | None = None
    weights: dict[str, float] | None = None
    if request.peer_ranking:
        ranks = await peer_rank(answered, budget, progress)
        if ranks:
            weights = {r.expert: r.weight for r in ranks}
            notes.append("Consensus weighted by the anonymised peer ranking.")
        else:
            notes.append("Peer ranking needs three or more reviews; skipped.")
    report = await circle.report(
        f"review{f' (focus: {request.focus})' if request.focus else ''}",
        answered,
        budget,
        weights=weights,
        notes=notes,
    )
    report.peer_ranking = ranks
    return report


def _assign(stances: list[Stance] | None, n: int) -> list[Stance | None] | None:
    """Stances in order, cycled over the experts."""
    if not stances:
        return None
    return [stances[i % len(stances)] for i in range(n)]
