"""Pages and their signed cursors: every item once, budgets, and cursors that only continue their query."""

from __future__ import annotations

import base64
import json
from typing import ClassVar

import pytest
from pydantic import BaseModel, Field

from shared.errors import InvalidArgument
from shared.output import OutputBudget
from shared.paging import CursorCodec, Page, Pager, paginate

CODEC = CursorCodec(b"k" * 32)


class Item(BaseModel):
    name: str


def pager(cursor: str | None = None, limit: int | None = None, **budget: int) -> Pager:
    return Pager(CODEC, OutputBudget(**budget), "tool\x1fcaller", {"q": 1}, cursor, limit)


def test_a_pager_walks_every_item_once_with_cursors() -> None:
    items = list(range(23))
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = pager(cursor=cursor, limit=10).page(items)
        seen += page.items
        pages += 1
        assert page.total == 23
        if page.next_cursor is None:
            assert not page.truncated and page.note is None
            break
        assert page.truncated
        assert page.note is not None and "cursor" in page.note
        cursor = page.next_cursor
    assert seen == items
    assert pages == 3


def test_the_limit_is_capped_by_the_budget() -> None:
    page = pager(limit=1000, max_items=5).page(list(range(100)))
    assert page.items == [0, 1, 2, 3, 4]
    assert page.note is not None and "limit of 5 items" in page.note


def test_a_page_stops_at_the_character_budget_and_says_so() -> None:
    items = [Item(name="x" * 60) for _ in range(10)]
    page = pager(max_chars=200).page(items)
    assert 1 <= len(page.items) < 10
    assert sum(len(i.model_dump_json()) for i in page.items) <= 200
    assert page.truncated and page.note is not None and "character budget" in page.note
    rest = pager(cursor=page.next_cursor, max_chars=200).page(items)
    assert rest.items[0] is items[len(page.items)]


def test_a_page_always_makes_progress_with_a_huge_item() -> None:
    page = pager(max_chars=100).page(["y" * 5000, "z"])
    assert page.items == ["y" * 5000]
    assert page.next_cursor is not None


def test_a_page_is_sent_as_a_table_with_a_schema() -> None:
    page = paginate([Item(name="a"), Item(name="b")], budget=OutputBudget())
    assert isinstance(page, Page)
    assert json.loads(page.model_dump_json()) == {
        "columns": ["name"],
        "rows": [["a"], ["b"]],
        "total": 2,
        "next_cursor": None,
    }
    assert page.as_dicts() == [{"name": "a"}, {"name": "b"}]
    schema = Page[Item].model_json_schema()
    assert schema["required"] == ["columns", "rows", "total", "next_cursor"]
    assert "items" not in schema["properties"]
    assert schema["properties"]["columns"]["items"]["enum"] == ["name"]
    assert "next_cursor" in schema["properties"]
    assert paginate([{"k": 1}, {"k": 2}], limit=1, budget=OutputBudget()).next_cursor is None  # no pager
    cut = paginate([1, 2, 3], limit=1, budget=OutputBudget(), cursor_at=lambda end: f"at-{end}")
    assert json.loads(cut.model_dump_json()) == {
        "columns": ["value"],
        "rows": [[1]],
        "total": 3,
        "next_cursor": "at-1",
        "truncated": True,
        "note": "Showing items 1-1 of 3 (the limit of 1 items). Call again with `cursor` set to "
        "next_cursor for more, or narrow the query.",
    }
    # What a client sends back validates as the same page (the SDK checks results against it).
    assert Page[int].model_validate(cut.model_dump(mode="json")).rows == [[1]]


class Pod(BaseModel):
    default_columns: ClassVar[tuple[str, ...]] = ("name", "status", "node")

    name: str = Field(description="Pod name")
    status: str = Field(description="Phase")
    node: str | None = Field(default=None, description="Node")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels")


PODS = [Pod(name="a", status="Running", labels={"app": "web"}), Pod(name="b", status="Pending")]


def columns_pager(columns: list[str] | None) -> Pager:
    return Pager(CODEC, OutputBudget(), "t\x1fc", {}, item_type=Pod, columns=columns, selectable=True)


def test_the_default_columns_leave_out_what_no_row_has() -> None:
    table = columns_pager(None).page(PODS).model_dump(mode="json")
    assert table["columns"] == ["name", "status"]  # node is null on every row: left out
    assert table["rows"] == [["a", "Running"], ["b", "Pending"]]
    placed = [Pod(name="c", status="Running", node="n1"), *PODS]
    assert columns_pager(None).page(placed).model_dump(mode="json")["rows"][1] == ["a", "Running", None]


def test_columns_are_chosen_by_name_or_all() -> None:
    asked = columns_pager(["labels", "name", "labels"]).page(PODS).model_dump(mode="json")
    assert asked["columns"] == ["labels", "name"] and asked["rows"][0] == [{"app": "web"}, "a"]
    every = columns_pager(["*"]).page(PODS).model_dump(mode="json")
    assert every["columns"] == ["name", "status", "node", "labels"]
    with pytest.raises(InvalidArgument, match="unknown column 'secret'; columns: name, status, node, labels"):
        columns_pager(["secret"]).page(PODS)


def test_a_tool_without_a_columns_argument_gets_every_column() -> None:
    fixed = Pager(CODEC, OutputBudget(), "t\x1fc", {}, item_type=Pod, columns=None, selectable=False)
    assert fixed.page(PODS).model_dump(mode="json")["columns"] == ["name", "status", "node", "labels"]


def forged(offset: int) -> str:
    """An offset re-encoded with a tag that was not made by the server's key."""
    return base64.urlsafe_b64encode(offset.to_bytes(6, "big") + b"\0" * 16).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "x" * 300,
        base64.urlsafe_b64encode(b'{"o":1,"s":"x"}').decode(),
        "ñ" * 30,
        forged(5),
        CursorCodec(b"another key, another process").encode(5, pager().scope()),
        CODEC.encode(5, "another query"),
    ],
    ids=[
        "empty",
        "not-base64",
        "huge",
        "old-json-form",
        "non-ascii",
        "forged-tag",
        "other-key",
        "other-query",
    ],
)
def test_bad_forged_and_foreign_cursors_are_invalid_arguments(cursor: str) -> None:
    with pytest.raises(InvalidArgument, match="cursor is invalid or belongs to another query"):
        pager(cursor=cursor).page(list(range(10)))


def test_a_cursor_round_trips_and_one_past_the_end_is_refused() -> None:
    assert CODEC.decode(CODEC.encode(7, "s"), "s") == 7
    with pytest.raises(InvalidArgument, match="past the end"):
        pager(cursor=CODEC.encode(3, pager().scope())).page([1, 2])
    with pytest.raises(InvalidArgument, match="limit"):
        pager(limit=0).page([1, 2])


def test_resolved_values_bind_the_cursor_and_stand_in_for_their_argument() -> None:
    def call(start: str, resolved: int, cursor: str | None = None) -> Page[int]:
        paging = Pager(CODEC, OutputBudget(), "range\x1fcaller", {"start": start}, cursor, 1)
        return paging.page([1, 2, 3], resolved={"start": resolved})

    first = call("now-1m", 100)
    assert first.next_cursor is not None
    assert call("1970-01-01T00:01:40Z", 100, first.next_cursor).items == [2]  # the resolved value passed back
    with pytest.raises(InvalidArgument, match="another query"):
        call("now-1m", 160, first.next_cursor)  # the same words, another instant
