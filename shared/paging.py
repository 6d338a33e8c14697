"""Pages of a longer result, as a table, with a signed cursor that continues exactly the query.

A tool that lists takes `cursor: Cursor = None, limit: Limit = None` and returns `page(rows)`: the
kit knows the call in progress, so the cursor's scope is derived from the tool's name, every other
argument and the caller — a missing filter can no longer let a cursor continue another query, and
another caller's cursor is refused. Cursors are HMAC-signed (`[output] cursor_key_file`, else a
random key per process), so a forged offset is refused too.

A page reaches the client as a table: `{"columns": [...], "rows": [[...], ...], "total": n}` —
each item's values in the order of `columns`, so a field name is sent once per page, not once per
item (what the model reads is about half of a list of objects). A tool that also takes
`columns: Columns = None` lets the caller choose them: by default the item model's
`default_columns` (all its fields when it names none), leaving out a default column that is null
on every row of the page; `["*"]` for every column.
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
from typing import Annotated, Any, Final, Generic, Self, TypeVar, get_type_hints

from pydantic import BaseModel, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema, to_json, to_jsonable_python

from shared.calls import active_call
from shared.errors import InvalidArgument
from shared.output import OutputBudget

__all__ = [
    "Columns",
    "Cursor",
    "CursorCodec",
    "Limit",
    "Page",
    "Pager",
    "columns_sentence",
    "page",
    "page_item_type",
    "pager",
    "paginate",
]

T = TypeVar("T")

Cursor = Annotated[str | None, Field(description="next_cursor of the previous page, to continue")]
"""The `cursor` argument of every listing tool."""

Limit = Annotated[int | None, Field(description="Most items on this page", ge=1, le=500)]
"""The `limit` argument of every listing tool (the output budget caps it too)."""

Columns = Annotated[
    list[str] | None,
    Field(
        description="Columns of the rows to return (the tool's description lists them); default: the "
        'brief set; ["*"] for every column',
        max_length=64,
    ),
]
"""The `columns` argument of a listing tool whose items have more than the brief set."""

_OFFSET_BYTES: Final = 6
_TAG_BYTES: Final = 16
_CURSOR_CHARS: Final = len(base64.urlsafe_b64encode(b"\0" * (_OFFSET_BYTES + _TAG_BYTES)).rstrip(b"="))
_BAD: Final = "cursor is invalid or belongs to another query; call again without a cursor"


class Page(BaseModel, Generic[T]):
    """One page of a longer result, as a table: each row holds one item's values in the order of
    `columns` (see the module docstring)."""

    items: SkipJsonSchema[list[T]] = Field(default_factory=list, exclude=True)
    columns: list[str] = Field(default_factory=list, description="What each value of a row is, in order.")
    rows: list[list[Any]] = Field(
        default_factory=list,
        description="The items on this page, one row each: its values in the order of `columns`.",
    )
    total: int | None = Field(default=None, description="How many items there are in all, when known.")
    next_cursor: str | None = Field(
        default=None,
        description="Pass this as `cursor` to get the next page; null when this is the last page.",
    )
    truncated: bool = Field(
        default=False,
        exclude_if=lambda value: not value,
        description="True when more items exist than this page holds (absent when false).",
    )
    note: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Why the page was cut short and how to continue (absent when there is nothing to say).",
    )

    @model_validator(mode="after")
    def _tabulate(self) -> Self:
        """Made from `items`: fill `columns` (given: the chosen ones; empty: the default set) and `rows`."""
        if self.rows or (not self.items and self.columns):
            return self  # a table already (as a client sends it back), or an empty one with its columns
        item_type = _item_type(type(self), self.items)
        values = [_as_mapping(item) for item in self.items]
        names = self.columns or _present(_default_columns(item_type), values)
        self.columns = names
        self.rows = [[value.get(name) for name in names] for value in values]
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        target["required"] = ["columns", "rows", "total", "next_cursor"]  # always sent
        names = _all_columns(_item_type(cls, []))
        if names and names != {"value": ""}:
            described = "; ".join(f"{name}: {text}" if text else name for name, text in names.items())
            columns = target["properties"]["columns"]
            columns["items"] = {"type": "string", "enum": list(names)}
            columns["description"] = f"What each value of a row is, in order. {described}"
        return schema

    def as_dicts(self) -> list[dict[str, Any]]:
        """The page's rows as the client sees them, one mapping per item (for tests and reports)."""
        table = self.model_dump(mode="json")
        return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def _item_type(cls: type[BaseModel], items: Sequence[Any]) -> Any:
    args = cls.__pydantic_generic_metadata__.get("args") or ()
    if args and not isinstance(args[0], TypeVar):
        return args[0]
    return type(items[0]) if items else Any


def _as_mapping(item: Any) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", by_alias=True)
    value = to_jsonable_python(item, fallback=str)
    return dict(value) if isinstance(value, Mapping) else {"value": value}


def _all_columns(item_type: Any) -> dict[str, str]:
    """Every column of a page of `item_type`, with its description ({"value": ""} for scalars)."""
    if isinstance(item_type, type) and issubclass(item_type, BaseModel):
        return {
            (info.alias or name): (info.description or "") for name, info in item_type.model_fields.items()
        }
    return {"value": ""}


def _default_columns(item_type: Any) -> list[str]:
    """The columns a page shows unless asked: the model's `default_columns`, else all of them."""
    chosen = getattr(item_type, "default_columns", None)
    return list(chosen) if chosen else list(_all_columns(item_type))


def page_item_type(fn: Callable[..., Any]) -> Any:
    """T when `fn` is declared to return `Page[T]` (None otherwise)."""
    returned = get_type_hints(fn).get("return")
    if isinstance(returned, type) and issubclass(returned, Page):
        args = returned.__pydantic_generic_metadata__.get("args") or ()
        if args and not isinstance(args[0], TypeVar):
            return args[0]
    return None


def columns_sentence(item_type: Any) -> str:
    """What a listing tool's description says about its columns."""
    default = _default_columns(item_type)
    more = [name for name in _all_columns(item_type) if name not in default]
    text = f"Rows hold: {', '.join(default)}"
    if more:
        text += f"; ask for more with columns=[...]: {', '.join(more)}"
    return text + "."


def _present(names: list[str], values: list[dict[str, Any]]) -> list[str]:
    """The default columns minus those null on every row (a pod's node, where no kind has one)."""
    if not values:
        return names
    return [name for name in names if any(value.get(name) is not None for value in values)]


def _choose_columns(item_type: Any, asked: list[str] | None) -> list[str] | None:
    """The columns a call asked for, checked (None: the default set).

    Raises:
        InvalidArgument: a name the item type has no column for.
    """
    if asked is None:
        return None
    known = _all_columns(item_type)
    if asked == ["*"]:
        return list(known)
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise InvalidArgument(
            f'unknown column {unknown[0][:60]!r}; columns: {", ".join(known)} (or ["*"] for all)'
        )
    return list(dict.fromkeys(asked))


class CursorCodec:
    """Signs offsets into opaque cursors bound to a scope, and checks them on the way back."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def _tag(self, offset: int, scope: str) -> bytes:
        message = offset.to_bytes(_OFFSET_BYTES, "big") + scope.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def derive(self, label: str) -> bytes:
        """A key for another purpose (`label`), from the same secret: shared by the replicas that
        share the cursor key, unrelated to it for anyone without the secret."""
        return hmac.new(self._key, b"code-mcp/derive\x00" + label.encode(), hashlib.sha256).digest()

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
    item_type: Any = None,
    columns: list[str] | None = None,
) -> Page[T]:
    """Cut `items` into a page within the budget, from `start`.

    A page holds at most `min(limit, budget.max_items)` items and stops before the item that would
    push it past `budget.max_chars` (serialised as JSON); it always holds at least one item, so a
    continuation always makes progress. `cursor_at` makes the next cursor (None: no cursor).
    `item_type` is what the tool declares it returns a page of; `columns` the columns chosen
    (None: the item type's default set).
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
    model: Any = Page[item_type] if item_type is not None else Page
    built: Page[T] = model(
        items=rows,
        total=len(items),
        next_cursor=cursor_at(end) if more and cursor_at is not None else None,
        truncated=more,
        note=note,
        columns=columns or [],
    )
    return built


@dataclass(frozen=True, slots=True)
class Pager:
    """Paging for the call in progress: its cursor and limit, what the query is, the budget, the codec.

    `owner` names the tool and the caller; `query` holds every other argument of the call (cursor,
    limit and columns aside). Together they are the scope a cursor is bound to. `item_type` is what
    the tool declares it returns a page of; `columns` what the call asked for, and `selectable`
    whether the tool takes a `columns` argument at all (if not, a page holds every column).
    """

    codec: CursorCodec
    budget: OutputBudget
    owner: str
    query: Mapping[str, Any]
    cursor: str | None = None
    limit: int | None = None
    item_type: Any = None
    columns: list[str] | None = None
    selectable: bool = False

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
        item_type = self.item_type if self.item_type is not None else (type(items[0]) if items else None)
        columns = _choose_columns(item_type, self.columns if self.selectable else ["*"])
        return paginate(
            items, start=start, limit=self.limit, budget=self.budget,
            cursor_at=lambda end: self.codec.encode(end, scope), item_type=item_type, columns=columns,
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
