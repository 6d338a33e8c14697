"""The labelled answer groups, and how the consensus is scored on them.

Three sets, each in its own file:
- `answer_groups.json` (tuned): short answers, written for rust_core; its thresholds were chosen on it.
- `answer_groups_dev.json` (dev): the held-out style, open to tuning; the conclusion features
  (`servers/experts/conclusions.py`) were designed on it and on the tuned set.
- the held-out set: evaluation only, through its own loader beside this module, which refuses
  every other caller; it is not loadable from here.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.metrics import adjusted_rand_score  # type: ignore[import-untyped]

from servers.experts.calls import Answered
from servers.experts.measuring import measure
from servers.experts.models import ExpertAnswer, ExpertStatus
from servers.experts.prompts import parse_answer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FIXTURE = FIXTURES / "answer_groups.json"
DEV_FIXTURE = FIXTURES / "answer_groups_dev.json"


@dataclass(frozen=True)
class Group:
    id: str
    category: str
    question: str
    answers: list[dict[str, str]]

    @property
    def labels(self) -> list[str]:
        return [a["label"] for a in self.answers]

    def written(self, i: int) -> str:
        """The answer as an expert following the strict format would write it."""
        answer = self.answers[i]
        verdict = answer["verdict"]
        if not verdict.lower().startswith("verdict"):
            verdict = f"VERDICT: {verdict}"
        return f"{answer['text']}\n{verdict}"


def groups_of(data: dict[str, Any]) -> list[Group]:
    return [Group(g["id"], g["category"], g["question"], g["answers"]) for g in data["groups"]]


def load_groups() -> list[Group]:
    """The tuned set."""
    return groups_of(json.loads(FIXTURE.read_text()))


def load_dev_groups() -> list[Group]:
    """The development set (held-out style, open to tuning)."""
    return groups_of(json.loads(DEV_FIXTURE.read_text()))


def cluster_labels(n: int, clusters: list[list[int]]) -> list[int]:
    labels = [-1] * n
    for index, members in enumerate(clusters):
        for member in members:
            labels[member] = index
    return labels


def ari(truth: list[str], found: list[int]) -> float:
    return float(adjusted_rand_score(truth, found))


def answered(group: Group, *, keep_verdicts: bool = True) -> list[Answered]:
    """The group's answers as the circle sees them: parsed from the written text (with the verdict
    line, or the body alone)."""
    out = []
    for i in range(len(group.answers)):
        parsed = parse_answer(group.written(i) if keep_verdicts else group.answers[i]["text"])
        entry = ExpertAnswer(
            expert=f"e{i}",
            provider="p",
            model="m",
            status=ExpertStatus.OK,
            verdict=parsed.verdict,
            parse_format=parsed.format,
        )
        out.append(Answered(expert=None, entry=entry, text=parsed.answer))  # type: ignore[arg-type]
    return out


@dataclass(frozen=True)
class Scores:
    """Mean ARI over a set, per category, and how often the heaviest cluster is the true majority."""

    mean: float
    by_category: dict[str, float]
    majority_found: float
    placed: float  # share of answers placed in the question's frame

    def line(self) -> str:
        categories = ", ".join(f"{k} {v:.2f}" for k, v in self.by_category.items())
        return (
            f"mean ARI {self.mean:.3f} | majority found {self.majority_found:.0%} | placed {self.placed:.0%} "
            f"| {categories}"
        )


def score(groups: list[Group], *, keep_verdicts: bool) -> Scores:
    per: dict[str, list[float]] = {}
    majority_hits = 0
    placed = total = 0
    for group in groups:
        measured = measure(answered(group, keep_verdicts=keep_verdicts), group.question)
        found = cluster_labels(len(group.answers), [c.members for c in measured.report.clusters])
        per.setdefault(group.category, []).append(ari(group.labels, found))
        counts = {label: group.labels.count(label) for label in set(group.labels)}
        heaviest = [group.labels[m] for m in measured.report.clusters[0].members]
        top = max(counts.values())
        majority_hits += all(label == heaviest[0] for label in heaviest) and counts[heaviest[0]] == top
        placed += measured.placed
        total += len(group.answers)
    every = [s for v in per.values() for s in v]
    return Scores(
        mean=statistics.mean(every),
        by_category={k: statistics.mean(v) for k, v in per.items()},
        majority_found=majority_hits / len(groups),
        placed=placed / total,
    )
