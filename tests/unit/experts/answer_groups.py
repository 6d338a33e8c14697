"""The labelled answer groups in tests/fixtures/answer_groups.json (written for rust_core; read-only here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.metrics import adjusted_rand_score

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "answer_groups.json"


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


def load_groups() -> list[Group]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return [Group(g["id"], g["category"], g["question"], g["answers"]) for g in data["groups"]]


def cluster_labels(n: int, clusters: list[list[int]]) -> list[int]:
    labels = [-1] * n
    for index, members in enumerate(clusters):
        for member in members:
            labels[member] = index
    return labels


def ari(truth: list[str], found: list[int]) -> float:
    return float(adjusted_rand_score(truth, found))
