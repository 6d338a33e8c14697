"""The measured consensus report of one round of answers (experts_ask and experts_review)."""

from __future__ import annotations

from collections.abc import Sequence

from servers.experts.calls import Answered, Budget, clip
from servers.experts.measuring import Measured, grouping, measure
from servers.experts.models import (
    CircleReport,
    ClaimSummary,
    ClusterSummary,
    Escalation,
    ExpertStatus,
    Grouping,
    JudgeMatrix,
)


def status_notes(answered: Sequence[Answered], budget: Budget) -> list[str]:
    notes = []
    skipped = [a.expert.name for a in answered if a.entry.status is ExpertStatus.SKIPPED_BUDGET]
    if skipped:
        notes.append(f"Budget ${budget.limit_usd:.4f} ran out: skipped {', '.join(skipped)}.")
    failed = [a.expert.name for a in answered if a.entry.status in (ExpertStatus.ERROR, ExpertStatus.TIMEOUT)]
    if failed:
        notes.append(f"No answer from {', '.join(failed)} (see each expert's error).")
    return notes


def build_report(
    question: str,
    answered: Sequence[Answered],
    budget: Budget,
    *,
    frame_question: str | None,
    answer_chars: int,
    judge: JudgeMatrix | None = None,
    escalation: Escalation | None = None,
    weights: dict[str, float] | None = None,
    embeddings: list[list[float]] | None = None,
    notes: list[str] | None = None,
) -> CircleReport:
    """The report: who answered, the clusters and how far to trust them, key points, dissent, cost.

    `frame_question` is the question whose options or yes/no frame the conclusions are placed in
    (None: no frame, e.g. a review's approve / reject verdicts).
    """
    notes = [*(notes or []), *status_notes(answered, budget)]
    ok = [a for a in answered if a.ok]
    entries = [a.entry for a in answered]
    base = {
        "question": clip(question, 500),
        "experts": entries,
        "answered": len(ok),
        "total_cost_usd": round(sum(e.cost_usd for e in entries), 8),
        "budget_usd": budget.limit_usd,
        "judge": judge,
        "escalation": escalation,
    }
    if not ok:
        notes.append("No expert answered, so there is no consensus.")
        none = Grouping(basis="none", confidence=None, level="unknown", placed=0, note="No answers.")
        return CircleReport(
            consensus_answer=None,
            consensus_verdict=None,
            consensus_expert=None,
            agreement=0.0,
            entropy=0.0,
            signal="none",
            grouping=none,
            clusters=[],
            key_points=[],
            dissent=[],
            notes=notes,
            **base,
        )
    agreement_matrix = judge.matrix if judge is not None and len(judge.matrix) == len(ok) else None
    weight_list = [weights.get(a.expert.name, 1.0) for a in ok] if weights else None
    measured = measure(
        ok,
        frame_question or "",
        weights=weight_list,
        agreement=agreement_matrix,
        embeddings=None if agreement_matrix else embeddings,
    )
    return _report(ok, measured, base, notes, answer_chars)


def _report(
    ok: list[Answered], measured: Measured, base: dict[str, object], notes: list[str], answer_chars: int
) -> CircleReport:
    result = measured.report
    names = [a.expert.name for a in ok]
    clusters = [
        ClusterSummary(
            members=[names[m] for m in c.members],
            representative=names[c.representative],
            share=round(c.share, 4),
        )
        for c in result.clusters
    ]
    for index, cluster in enumerate(result.clusters):
        for member in cluster.members:
            ok[member].entry.cluster = index
    for i, a in enumerate(ok):
        others = [result.similarity[i][j] for j in range(len(ok)) if j != i]
        a.entry.agreement = round(sum(others) / len(others), 4) if others else 1.0
    chosen = ok[result.consensus] if result.consensus is not None else None
    trust = grouping(measured, len(ok))
    if trust.basis == "wording":
        notes.append(trust.note)
    return CircleReport(
        consensus_answer=clip(chosen.text or "", answer_chars * 2) if chosen else None,
        consensus_verdict=chosen.entry.verdict if chosen else None,
        consensus_expert=chosen.expert.name if chosen else None,
        agreement=round(result.agreement, 4),
        entropy=round(result.entropy, 4),
        signal=measured.signal,
        grouping=trust,
        clusters=clusters,
        key_points=[
            ClaimSummary(text=c.text, supporters=[names[s] for s in c.supporters]) for c in result.key_points
        ],
        dissent=[
            ClaimSummary(text=c.text, supporters=[names[s] for s in c.supporters]) for c in result.dissent
        ],
        notes=notes,
        **base,
    )


__all__ = ["build_report", "status_notes"]
