"""Pages of a longer result, with a signed cursor that continues exactly the query that made it.

A tool that lists takes `cursor: Cursor = None, limit: Limit = None` and returns `page(rows)`: the
kit knows the call in progress, so the cursor's scope is derived from the tool's name, every other
argument and the caller — a missing filter can no longer let a cursor continue another query, and
another caller's cursor is refused. Cursors are HMAC-signed (`[output] cursor_key_file`, else a
random key per process), so a forged offset is refused too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Generic, TypeVar

from pydantic import BaseModel, Field
from pydantic_core import to_json, to_jsonable_python

from shared.calls import active_call
from shared.errors import InvalidArgument
from shared.output import OutputBudget

__all__ = ["Cursor", "CursorCodec", "Limit", "Page", "Pager", "page", "pager", "paginate"]

T = TypeVar("T")

Cursor = Annotated[str | None, Field(description="next_cursor of the previous page, to continue")]
"""The `cursor` argument of every listing tool."""

Limit = Annotated[int | None, Field(description="Most items on this page", ge=1, le=500)]
"""The `limit` argument of every listing tool (the output budget caps it too)."""

_OFFSET_BYTES: Final = 6
_TAG_BYTES: Final = 16
_CURSOR_CHARS: Final = len(base64.urlsafe_b64encode(b"\0" * (_OFFSET_BYTES + _TAG_BYTES)).rstrip(b"="))
_BAD: Final = "cursor is invalid or belongs to another query; call again without a cursor"


class Page(BaseModel, Generic[T]):
    """One page of a longer result."""

    items: list[T] = Field(description="The items on this page.")
    total: int | None = Field(default=None, description="How many items there are in all, when known.")
    next_cursor: str | None = Field(
        default=None,
        description="Pass this as `cursor` to get the next page; null when this is the last page.",
    )
    truncated: bool = Field(default=False, description="True when more items exist than this page holds.")
    note: str | None = Field(default=None, description="Why the page was cut short and how to continue.")


class CursorCodec:
    """Signs offsets into opaque cursors bound to a scope, and checks them on the way back."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def _tag(self, offset: int, scope: str) -> bytes:
        message = offset.to_bytes(_OFFSET_BYTES, "big") + scope.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, offset: int, scope: str) -> str:
        """The cursor that continues the query `scope` at `offset`."""
        raw = offset.to_bytes(_OFFSET_BYTES, "big") + self._tag(offset, scope)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str, scope: str) -> int:
        """The offset `cursor` stands for; `InvalidArgument` unless this codec made it for `scope`."""
        if not isinstance(cursor, str) or len(cursor) != _CURSOR_CHARS or not cursor.isascii():
            raise InvalidArgument(_BAD)
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidArgument(_BAD) from exc
        offset = int.from_bytes(raw[:_OFFSET_BYTES], "big")
        if not hmac.compare_digest(raw[_OFFSET_BYTES:], self._tag(offset, scope)):
            raise InvalidArgument(_BAD)
        return offset


def _size(item: object) -> int:
    """The item's length as JSON (UTF-8 bytes, close enough to characters for a budget)."""
    return len(to_json(item, fallback=str))


def paginate(
    items: Sequence[T],
    *,
    start: int = 0,
    limit: int | None = None,
    budget: OutputBudget,
    cursor_at: Callable[[int], str] | None = None,
) -> Page[T]:
    """Cut `items` into a page within the budget, from `start`.

    A page holds at most `min(limit, budget.max_items)` items and stops before the item that would
    push it past `budget.max_chars` (serialised as JSON); it always holds at least one item, so a
    continuation always makes progress. `cursor_at` makes the next cursor (None: no cursor).
    """
    if start > len(items):
        raise InvalidArgument("cursor is past the end of the results; call again without a cursor")
    if limit is not None and limit < 1:
        raise InvalidArgument("limit must be at least 1")
    max_items = min(limit or budget.max_items, budget.max_items)
    rows: list[T] = []
    used = 0
    by_chars = False
    for item in items[start : start + max_items]:
        size = _size(item) + 1
        if rows and used + size > budget.max_chars:
            by_chars = True
            break
        rows.append(item)
        used += size
    end = start + len(rows)
    more = end < len(items)
    note = None
    if more:
        reason = "the character budget" if by_chars else f"the limit of {max_items} items"
        note = (
            f"Showing items {start + 1}-{end} of {len(items)} ({reason}). "
            "Call again with `cursor` set to next_cursor for more, or narrow the query."
        )
    return Page[T](
        items=rows,
        total=len(items),
        next_cursor=cursor_at(end) if more and cursor_at is not None else None,
        truncated=more,
        note=note,
    )


@dataclass(frozen=True, slots=True)
class Pager:
    """Paging for the call in progress: its cursor and limit, what the query is, the budget, the codec.

    `owner` names the tool and the caller; `query` holds every other argument of the call (cursor
    and limit aside). Together they are the scope a cursor is bound to.
    """

    codec: CursorCodec
    budget: OutputBudget
    owner: str
    query: Mapping[str, Any]
    cursor: str | None = None
    limit: int | None = None

    def scope(self, resolved: Mapping[str, Any] | None = None) -> str:
        """The query a cursor stands for; `resolved` values replace the arguments they resolve."""
        query = {**self.query, **(resolved or {})}
        return f"{self.owner}\x1f{json.dumps(to_jsonable_python(query, fallback=str), sort_keys=True)}"

    def start(self, resolved: Mapping[str, Any] | None = None) -> int:
        """Where this call's cursor says to start (0 without one)."""
        return 0 if self.cursor is None else self.codec.decode(self.cursor, self.scope(resolved))

    def cursor_at(self, offset: int, resolved: Mapping[str, Any] | None = None) -> str:
        """A cursor that continues this same query at `offset`."""
        return self.codec.encode(offset, self.scope(resolved))

    def page(self, items: Sequence[T], *, resolved: Mapping[str, Any] | None = None) -> Page[T]:
        """The page of `items` this call asked for.

        `resolved` gives the arguments as the tool resolved them (a relative time as an instant, the
        default endpoint by name): a cursor then continues the same query whether the next call
        repeats the argument or passes the resolved value, and never a different one.
        """
        scope = self.scope(resolved)
        start = 0 if self.cursor is None else self.codec.decode(self.cursor, scope)
        return paginate(
            items, start=start, limit=self.limit, budget=self.budget,
            cursor_at=lambda end: self.codec.encode(end, scope),
        )  # fmt: skip


def pager() -> Pager:
    """The paging of the tool call in progress (set up by the server kit)."""
    found = active_call().pager
    if found is None:
        raise RuntimeError("paging is only available inside a tool registered through the server kit")
    return found


def page(items: Sequence[T], *, resolved: Mapping[str, Any] | None = None) -> Page[T]:
    """The page of `items` the tool call in progress asked for (its `cursor` and `limit` arguments).

    `resolved`: see `Pager.page`.
    """
    return pager().page(items, resolved=resolved)
