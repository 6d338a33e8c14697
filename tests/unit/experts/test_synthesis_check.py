"""The chairman's text is checked, not trusted: which dissent it cites, and the names it gains."""

from __future__ import annotations

import pytest

from servers.experts.models import DissentNote
from servers.experts.synthesis_ops import kept, name_letters


def note(labels: list[str], text: str) -> DissentNote:
    return DissentNote(
        kind="minority", experts=["x"] * len(labels), labels=labels, text=text, in_synthesis=False
    )


@pytest.mark.parametrize(
    ("synthesis", "labels", "cited"),
    [
        ("Use Postgres. Expert C prefers MongoDB for documents.", ["C"], True),
        ("Use Postgres. Experts C and D prefer MongoDB.", ["C", "D"], True),
        ("Use Postgres. Expert C disagrees.", ["C"], False),  # the letter without the claim
        ("Use Postgres. MongoDB was suggested. Expert C agrees with A.", ["C"], False),  # not one sentence
        ("Use Postgres; some prefer MongoDB.", ["C"], False),  # the claim without who holds it
        ("Use Postgres. Expert CD prefers MongoDB.", ["C"], False),  # another letter
    ],
)
def test_a_dissent_is_kept_only_when_one_sentence_names_who_and_what(
    synthesis: str, labels: list[str], cited: bool
) -> None:
    assert kept(synthesis, note(labels, "MongoDB")) is cited


def test_letters_gain_the_experts_names_once() -> None:
    named = name_letters("Expert A and Expert C (gpt) split; Expert Z too.", {"A": "claude", "C": "gpt"})
    assert named == "Expert A (claude) and Expert C (gpt) split; Expert Z too."
    listed = name_letters(
        "Experts A and B agree; Experts A, B, and C differ.", {"A": "x", "B": "y", "C": "z"}
    )
    assert listed == "Experts A (x) and B (y) agree; Experts A (x), B (y), and C (z) differ."
