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
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Final, Generic, TypeVar

from pydantic import BaseModel, Field
from pydantic_core import to_json

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
    cursor_at: Pager | None = None,
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
        next_cursor=cursor_at.cursor_at(end) if more and cursor_at is not None else None,
        truncated=more,
        note=note,
    )


@dataclass(frozen=True, slots=True)
class Pager:
    """Paging for the call in progress: its cursor and limit, its scope, the budget and the codec."""

    codec: CursorCodec
    budget: OutputBudget
    scope: str
    cursor: str | None = None
    limit: int | None = None

    def start(self) -> int:
        """Where this call's cursor says to start (0 without one)."""
        return 0 if self.cursor is None else self.codec.decode(self.cursor, self.scope)

    def cursor_at(self, offset: int) -> str:
        """A cursor that continues this same query at `offset`."""
        return self.codec.encode(offset, self.scope)

    def page(self, items: Sequence[T], *, resolved: str = "") -> Page[T]:
        """The page of `items` this call asked for.

        `resolved` adds what the arguments alone do not pin down (a relative time resolved to an
        instant, a default endpoint), so a cursor only continues the very same query.
        """
        bound = (
            self
            if not resolved
            else Pager(self.codec, self.budget, f"{self.scope}\x1f{resolved}", self.cursor, self.limit)
        )
        return paginate(items, start=bound.start(), limit=self.limit, budget=self.budget, cursor_at=bound)


def pager() -> Pager:
    """The paging of the tool call in progress (set up by the server kit)."""
    found = active_call().pager
    if found is None:
        raise RuntimeError("paging is only available inside a tool registered through the server kit")
    return found


def page(items: Sequence[T], *, resolved: str = "") -> Page[T]:
    """The page of `items` the tool call in progress asked for (its `cursor` and `limit` arguments).

    `resolved`: see `Pager.page`.
    """
    return pager().page(items, resolved=resolved)
