"""Budgets, clipping, and fitting a whole result into its cap (redaction: test_redaction.py)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from shared.output import OutputBudget, clip, fit


class Item(BaseModel):
    name: str


def test_budget_refuses_useless_limits() -> None:
    with pytest.raises(ValueError, match="max_items"):
        OutputBudget(max_items=0)
    with pytest.raises(ValueError, match="max_chars"):
        OutputBudget(max_chars=10)
    with pytest.raises(ValueError, match="max_result_chars"):
        OutputBudget(max_chars=1000, max_result_chars=500)


def test_fit_leaves_a_result_within_the_cap_alone() -> None:
    data = {"a": "x" * 100, "b": [1, 2, 3]}
    assert fit(data, 10_000) == (data, None)


def test_fit_clips_the_longest_strings_first_and_keeps_types() -> None:
    data = {"log": "L" * 50_000, "name": "short", "lines": [f"line {i}" for i in range(10)]}
    fitted, note = fit(data, 5_000)
    assert note is not None and "1 long strings clipped" in note
    assert len(json.dumps(fitted, separators=(",", ":"))) <= 5_000
    assert fitted["name"] == "short" and len(fitted["lines"]) == 10
    assert isinstance(fitted["log"], str) and "clipped" in fitted["log"]


def test_fit_shortens_lists_when_clipping_strings_is_not_enough() -> None:
    data = {"items": [{"id": i, "v": "x" * 50} for i in range(2_000)], "total": 2_000}
    fitted, note = fit(data, 10_000)
    assert note is not None and "list items left out" in note
    assert len(json.dumps(fitted, separators=(",", ":"))) <= 10_000
    assert fitted["total"] == 2_000 and 1 <= len(fitted["items"]) < 2_000
    assert fitted["items"][0] == {"id": 0, "v": "x" * 50}


def test_fit_drops_whole_rows_of_a_table_never_a_column_or_a_value() -> None:
    table = {
        "columns": ["name", "tags", "blob"],
        "rows": [[f"n{i}", ["a", "b", "c", "d"], "x" * 300] for i in range(40)],
        "total": 40,
        "next_cursor": None,
    }
    fitted, note = fit(json.loads(json.dumps(table)), 3_000)
    assert note is not None and "list items left out" in note
    assert fitted["columns"] == ["name", "tags", "blob"] and 1 <= len(fitted["rows"]) < 40
    assert all(len(row) == 3 for row in fitted["rows"])  # every row still lines up with the columns
    assert [row[0] for row in fitted["rows"]] == [f"n{i}" for i in range(len(fitted["rows"]))]


@pytest.mark.parametrize("max_chars", [100, 50, 20, 0])
def test_clip_says_it_clipped_and_respects_the_limit(max_chars: int) -> None:
    text, clipped = clip("a" * 1000, max_chars)
    assert clipped
    assert len(text) <= max_chars
    if max_chars >= 50:
        assert "clipped" in text


def test_clip_leaves_short_text_alone() -> None:
    assert clip("short", 10) == ("short", False)
