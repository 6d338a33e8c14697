"""Reading a page the way a client does: `shared.paging` sends a table (`columns`, `rows`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def rows(page: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The page's items, one mapping (column -> value) per row."""
    assert page is not None, "no structured content"
    columns = page["columns"]
    return [dict(zip(columns, row, strict=True)) for row in page["rows"]]


def values(page: Mapping[str, Any] | None) -> list[Any]:
    """The items of a page of plain values (label names, numbers): its one column."""
    assert page is not None and page["columns"] == ["value"], page
    return [row[0] for row in page["rows"]]
