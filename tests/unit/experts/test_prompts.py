"""Lenient parsing of verdicts, confidences, judge labels, rankings and vote choices."""

from __future__ import annotations

import pytest

from servers.experts.prompts import (
    answer_prompt,
    find_json_object,
    judge_prompt,
    labels,
    parse_answer,
    parse_choice,
    parse_confidence,
    parse_labels,
    ranking_prompt,
    review_prompt,
    stance_system,
    vote_prompt,
)


@pytest.mark.parametrize(
    ("text", "verdict", "confidence", "fmt"),
    [
        ("Long reasoning.\nVERDICT: Use Postgres | CONFIDENCE: 0.8", "Use Postgres", 0.8, "line"),
        ("Reasoning.\n**Verdict:** use postgres (confidence: 85%)", "use postgres", 0.85, "line"),
        ("Reasoning.\nFinal verdict - no\nConfidence: high", "no", 0.8, "line"),
        ("Reasoning.\nverdict= yes | confidence = 70", "yes", 0.7, "line"),
        ('{"answer": "Because X.", "verdict": "yes", "confidence": 0.9}', "yes", 0.9, "json"),
        ('Sure!\n```json\n{"answer": "A", "verdict": "no", "confidence": "60%"}\n```', "no", 0.6, "json"),
        ("It depends on the load. I would pick Redis.", "I would pick Redis.", None, "fallback"),
        ("Pick Redis.\nConfidence: 0.4", "Pick Redis.", 0.4, "fallback"),
    ],
)
def test_parse_answer_reads_verdicts_in_many_shapes(
    text: str, verdict: str, confidence: float | None, fmt: str
) -> None:
    parsed = parse_answer(text)
    assert parsed.verdict == verdict
    assert parsed.confidence == confidence
    assert parsed.format == fmt


def test_parse_answer_keeps_the_answer_without_the_verdict_line() -> None:
    parsed = parse_answer("Postgres handles it.\nVERDICT: postgres | CONFIDENCE: 0.9")
    assert parsed.answer == "Postgres handles it."


def test_parse_answer_uses_the_last_verdict_line() -> None:
    parsed = parse_answer("Verdict: draft\nmore thought\nVERDICT: final")
    assert parsed.verdict == "final"


def test_parse_answer_of_empty_text_has_no_verdict() -> None:
    parsed = parse_answer("   ")
    assert parsed.verdict is None
    assert parsed.format == "fallback"


@pytest.mark.parametrize(
    ("raw", "value"),
    [(0.5, 0.5), ("0.5", 0.5), ("50%", 0.5), ("50", 0.5), (1, 1.0), ("low", 0.2), ("abc", None), (None, None),
     (True, None), (-0.2, None), ("250", None)],
)  # fmt: skip
def test_parse_confidence(raw: str | float | None, value: float | None) -> None:
    assert parse_confidence(raw) == value


def test_find_json_object_skips_non_objects_and_broken_json() -> None:
    assert find_json_object("no json here") is None
    assert find_json_object('[1, 2] then {broken then {"a": 1}') == {"a": 1}


def test_labels_go_past_z() -> None:
    assert labels(3) == ["A", "B", "C"]
    assert labels(28)[-2:] == ["AA", "AB"]


@pytest.mark.parametrize(
    ("text", "known", "expected"),
    [
        ("They differ.\nSAME: A, C", ["A", "B", "C"], ["A", "C"]),
        ("SAME: none", ["A", "B"], []),
        ("Same: [B] and [Z]", ["A", "B"], ["B"]),
        ('{"same": ["b", "a", "b"]}', ["A", "B"], ["B", "A"]),
        ("I cannot tell.", ["A", "B"], None),
    ],
)
def test_parse_labels_for_the_judge_round(text: str, known: list[str], expected: list[str] | None) -> None:
    assert parse_labels(text, "same", known) == expected


def test_parse_labels_for_a_ranking_keeps_order() -> None:
    assert parse_labels("RANKING: C > A > B", "ranking", ["A", "B", "C"]) == ["C", "A", "B"]


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("Reasons.\nCHOICE: Postgres", "Postgres"),
        ('{"choice": "redis", "reason": "fast", "confidence": 0.6}', "Redis"),
        ("CHOICE: 2", "Redis"),
        ("CHOICE: 2. Redis", "Redis"),
        ("I'd go with Postgres here.", "Postgres"),
        ("Both Postgres and Redis work.", None),
        ("CHOICE: MongoDB", None),
    ],
)
def test_parse_choice(text: str, choice: str | None) -> None:
    assert parse_choice(text, ["Postgres", "Redis"]) == choice


def test_parse_choice_prefers_the_longer_option_that_contains_another() -> None:
    assert parse_choice("CHOICE: yes, but later", ["yes", "yes, but later", "no"]) == "yes, but later"


def test_prompts_ask_for_the_right_format() -> None:
    assert "VERDICT:" in answer_prompt("q?", "ctx", structured=False)
    assert "JSON" in answer_prompt("q?", None, structured=True)
    assert "<content>" in review_prompt("def f(): pass", "security", structured=False)
    assert "CHOICE:" in vote_prompt("q", ["a", "b"], structured=False)
    assert "`choice`" in vote_prompt("q", ["a", "b"], structured=True)
    assert "SAME:" in judge_prompt("mine", [("A", "theirs")], structured=False)
    assert "`same`" in judge_prompt("mine", [("A", "theirs")], structured=True)
    assert "RANKING:" in ranking_prompt([("A", "r1"), ("B", "r2")], structured=False)
    assert "`ranking`" in ranking_prompt([("A", "r1")], structured=True)
    assert "AGAINST" in stance_system(None, "against")
    assert stance_system("Be terse.", None) == "Be terse."
