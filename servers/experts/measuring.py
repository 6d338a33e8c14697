"""The measured consensus: `rust_core`'s clustering, refined by where each conclusion lands in the
question's frame, and how far the resulting groups can be trusted.

Rust clusters on the strongest signal given (a judge matrix, stated verdicts, embeddings, wording).
Unless judges ran, every pair of answers whose conclusions `conclusions` can place in the question's
frame (the same option / the same yes or no) is then set to agree (1) or not (0), and the answers are
clustered again on that matrix with the first pass's threshold. `grouping()` says what the clusters
rest on, with the accuracy that basis measured on labelled answer groups (`CALIBRATION`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from servers.experts.calls import Answered
from servers.experts.conclusions import frame_of, place, place_body, refine
from servers.experts.models import Grouping
from servers.experts.prompts import STATED_FORMATS as STATED
from shared.consensus import ConsensusReport, consensus


@dataclass(frozen=True, slots=True)
class Calibration:
    """Mean adjusted Rand index of one basis on the labelled answer groups (`benchmarks/
    bench_experts_consensus.py`): the tuned set, the held-out set, and the worse of the two."""

    tuned: float | None
    heldout: float | None
    measured: str

    @property
    def confidence(self) -> float | None:
        known = [v for v in (self.tuned, self.heldout) if v is not None]
        return min(known) if known else None


#: Measured by `python -m benchmarks.bench_experts_consensus` (see docs/readme/experts.md).
CALIBRATION: dict[str, Calibration] = {
    "verdicts": Calibration(0.836, 0.566, "stated one-line verdicts, placed in the question's frame"),
    "wording": Calibration(0.508, 0.022, "answer text alone, concluding sentences placed in the frame"),
    "judges": Calibration(None, None, "not measured with real models (honest scripted judges: 1.0)"),
    "embeddings": Calibration(None, None, "no embedding model was measured"),
}
_BASIS = {"agreement": "judges", "verdicts": "verdicts", "embeddings": "embeddings", "text": "wording"}


@dataclass(frozen=True, slots=True)
class Measured:
    """The consensus over the answers that came back, with what it rests on."""

    report: ConsensusReport
    signal: str
    placed: int
    stated: int


def measure(
    ok: Sequence[Answered],
    question: str,
    *,
    weights: list[float] | None = None,
    agreement: list[list[float]] | None = None,
    embeddings: list[list[float]] | None = None,
) -> Measured:
    """Cluster the answers by conclusion (see the module docstring)."""
    texts = [a.text or "" for a in ok]
    verdicts = [a.entry.verdict if a.entry.parse_format in STATED else None for a in ok]
    stated = sum(v is not None for v in verdicts)
    first = consensus(
        texts,
        weights=weights,
        verdicts=verdicts if stated else None,
        embeddings=embeddings,
        agreement=agreement,
    )
    if agreement is not None or len(ok) < 2:
        return Measured(first, first.signal, 0, stated)
    frame = frame_of(question)
    places = [
        place(frame, verdict) if verdict is not None else place_body(frame, text)
        for verdict, text in zip(verdicts, texts, strict=True)
    ]
    placed = sum(p is not None for p in places)
    if placed < 2:
        return Measured(first, first.signal, placed, stated)
    refined = consensus(
        texts, weights=weights, agreement=refine(first.similarity, places), threshold=first.threshold
    )
    return Measured(refined, first.signal, placed, stated)


def grouping(measured: Measured, answered: int) -> Grouping:
    """What the clusters rest on and how far to trust them."""
    basis = _BASIS.get(measured.signal, measured.signal)
    calibration = CALIBRATION.get(basis)
    confidence = calibration.confidence if calibration else None
    level = (
        "unknown"
        if confidence is None
        else "high"
        if confidence >= 0.7
        else "medium"
        if confidence >= 0.4
        else "low"
    )
    shown = "not measured" if confidence is None else f"{confidence:.2f}"
    if basis == "wording":
        note = (
            "No expert stated a verdict and no judge round ran: these clusters come from the wording of "
            f"the answers alone and are low-confidence (measured accuracy {shown} mean ARI on labelled "
            "answers whose camps share a topic). Ask again with judge=true for a conclusion-level measure."
        )
        level = "low"
    elif basis == "verdicts":
        missing = answered - measured.stated
        tail = f"; {missing} answer(s) without one were grouped by wording" if missing else ""
        note = f"Grouped by the experts' one-line verdicts (measured accuracy {shown} mean ARI){tail}."
    elif basis == "judges":
        note = "Grouped by the judge round: each expert said which others reach its conclusion."
    else:
        note = f"Grouped by {basis} (accuracy {shown})."
    return Grouping(
        basis=basis,
        confidence=None if confidence is None else round(confidence, 2),
        level=level,
        placed=measured.placed,
        note=note,
    )


__all__ = ["CALIBRATION", "STATED", "Calibration", "Measured", "grouping", "measure"]
