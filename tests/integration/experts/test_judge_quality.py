"""The judge round on the labelled answer groups: FAKE providers whose replies are the labelled
answers, and who judge the anonymised answers they are shown by their true labels."""

from __future__ import annotations

import re
from typing import Any

import pytest

from servers.experts.circle_ops import AskRequest
from tests.integration.experts.circle_setup import circle_on, fake_settings
from tests.integration.experts.conftest import FAKE_KEY
from tests.integration.experts.fake_providers import Behaviour, FakeProviders
from tests.unit.experts.answer_groups import Group, ari, load_groups

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

GROUPS = load_groups()
_BLOCK = re.compile(
    r"^\[([A-Z]{1,2})\]\n(.*?)(?=\n\n\[[A-Z]{1,2}\]\n|\n\nWhich of the other answers)", re.S | re.M
)


def judge_by_labels(group: Group, own: int, *, unreadable: bool = False) -> Any:
    """An honest judge: answers its question, and names the shown answers whose true label is its own."""
    bodies = {a["text"].strip(): a["label"] for a in group.answers}

    def respond(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        if "Which of the other answers" not in prompt:
            return group.written(own)
        if unreadable:
            return "Hard to say."
        same = []
        for label, shown in _BLOCK.findall(prompt):
            text = shown.split("\n", 1)[1] if shown.startswith("Verdict:") else shown
            if bodies[text.strip()] == group.answers[own]["label"]:
                same.append(label)
        return f"Reasoning.\nSAME: {', '.join(same) or 'none'}"

    return respond


def script_group(
    fake: FakeProviders, group: Group, *, unreadable_judge: int | None = None
) -> list[dict[str, Any]]:
    experts = []
    for i in range(len(group.answers)):
        model = f"{group.id}-{i}"
        fake.script[model] = Behaviour(respond=judge_by_labels(group, i, unreadable=i == unreadable_judge))
        experts.append({"name": f"e{i}", "provider": "compat", "model": model})
    return experts


@pytest.mark.parametrize("group", GROUPS, ids=[g.id for g in GROUPS])
async def test_honest_judges_recover_the_true_groups(fake: FakeProviders, group: Group) -> None:
    experts = script_group(fake, group)
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=group.question, judge=True))
    assert report.signal == "agreement"
    assert report.judge is not None
    assert not report.judge.judges_failed
    found = [report.experts[i].cluster for i in range(len(group.answers))]
    assert ari(group.labels, found) == 1.0, (group.labels, found, report.judge.matrix)  # type: ignore[arg-type]
    majority = max(group.labels.count(label) for label in set(group.labels)) / len(group.labels)
    assert report.agreement == pytest.approx(majority, abs=1e-3)


@pytest.mark.parametrize("group", [g for g in GROUPS if g.category == "three_way"][:3], ids=lambda g: g.id)
async def test_one_unreadable_judge_is_covered_by_the_others(fake: FakeProviders, group: Group) -> None:
    experts = script_group(fake, group, unreadable_judge=0)
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=group.question, judge=True))
    assert report.judge is not None
    assert report.judge.judges_failed == ["e0"]
    found = [report.experts[i].cluster for i in range(len(group.answers))]
    assert ari(group.labels, found) == 1.0  # type: ignore[arg-type]
