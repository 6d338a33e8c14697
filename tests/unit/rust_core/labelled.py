"""The labelled answer groups (tests/fixtures/answer_groups.json) and the adjusted Rand index.

Shared by the quality test and benchmarks/bench_rust_core.py.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from math import comb
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "answer_groups.json"


@dataclass(frozen=True)
class Group:
    id: str
    category: str
    texts: list[str]
    verdicts: list[str]
    labels: list[str]


def load_groups(path: Path = FIXTURE) -> list[Group]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [
        Group(
            id=g["id"],
            category=g["category"],
            texts=[a["text"] for a in g["answers"]],
            verdicts=[a["verdict"] for a in g["answers"]],
            labels=[a["label"] for a in g["answers"]],
        )
        for g in doc["groups"]
    ]


def split(groups: list[Group]) -> tuple[list[Group], list[Group]]:
    """Deterministic half split, stratified by category: even positions tune, odd ones test."""
    tune: list[Group] = []
    held_out: list[Group] = []
    seen: Counter[str] = Counter()
    for g in groups:
        (tune if seen[g.category] % 2 == 0 else held_out).append(g)
        seen[g.category] += 1
    return tune, held_out


def adjusted_rand_index(truth: list[str], predicted: list[int]) -> float:
    """Hubert and Arabie's ARI; 1.0 when both partitions are a single cluster or all singletons."""
    n = len(truth)
    pairs = Counter(zip(truth, predicted, strict=True))
    index = sum(comb(c, 2) for c in pairs.values())
    a = sum(comb(c, 2) for c in Counter(truth).values())
    b = sum(comb(c, 2) for c in Counter(predicted).values())
    total = comb(n, 2)
    expected = a * b / total if total else 0.0
    maximum = (a + b) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def labels_of(clusters: list[list[int]], n: int) -> list[int]:
    out = [0] * n
    for c, members in enumerate(clusters):
        for m in members:
            out[m] = c
    return out


def majority_members(labels: list[str]) -> set[int]:
    """Indices of the true majority camp (empty when the top two camps tie)."""
    counts = Counter(labels).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return set()
    return {i for i, label in enumerate(labels) if label == counts[0][0]}
