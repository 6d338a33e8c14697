"""Bounded results: the output budget, clipping text, and fitting a whole result into its cap.

Truncation is always said (the clip marker, `Page.truncated` / `Page.note` in `shared.paging`, the
note `fit` returns), never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic_core import to_json

if TYPE_CHECKING:
    from shared.settings import OutputSettings

__all__ = ["OutputBudget", "clip", "fit"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutputBudget:
    """How much one tool result may hold: at most `max_items` items and about `max_chars` characters."""

    max_items: int = 50
    max_chars: int = 20_000
    max_result_chars: int = 80_000

    def __post_init__(self) -> None:
        if self.max_items < 1 or self.max_chars < 100 or self.max_result_chars < self.max_chars:
            raise ValueError(
                "an output budget needs max_items >= 1, max_chars >= 100 and max_result_chars >= max_chars"
            )

    @classmethod
    def from_settings(cls, settings: OutputSettings) -> OutputBudget:
        """The budget configured in `[output]`."""
        return cls(
            max_items=settings.max_items,
            max_chars=settings.max_chars,
            max_result_chars=max(settings.result_chars, settings.max_chars),
        )


# --------------------------------------------------------------------------- text


def clip(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut `text` to at most `max_chars` characters, saying so at the end; returns (text, clipped)."""
    if len(text) <= max_chars:
        return text, False
    marker = f"\n…[clipped {len(text) - max_chars} more characters]"
    keep = max(max_chars - len(marker), 0)
    marker = f"\n…[clipped {len(text) - keep} more characters]"
    return (text[:keep] + marker)[: max(max_chars, 0)], True


_KEEP_CHARS: Final = 256  # a clipped string keeps at least this much of its start


def _json_len(value: Any) -> int:
    return len(to_json(value, fallback=str))


def fit(data: Any, max_chars: int) -> tuple[Any, str | None]:
    """`data` (fresh JSON-like data, changed in place) cut until its JSON is about `max_chars` long.

    The longest strings are clipped first (each keeps its start and a clip marker), then the
    longest lists lose items from their end; types never change, so the result still fits its
    schema. Returns the data and a note saying what was cut (None when nothing was).
    """
    excess = _json_len(data) - max_chars
    if excess <= 0:
        return data, None
    strings: list[tuple[int, Any, Any]] = []
    lists: list[tuple[int, list[Any]]] = []
    _collect(data, strings, lists, 0)
    clipped = 0
    for length, container, key in sorted(strings, key=lambda entry: -entry[0]):
        if excess <= 0:
            break
        keep = max(length - excess - 40, _KEEP_CHARS)
        if keep >= length:
            continue
        text, _ = clip(container[key], keep)
        excess -= length - len(text)
        container[key] = text
        clipped += 1
    dropped = 0
    for _, items in sorted(lists, key=lambda entry: -entry[0]):
        while excess > 0 and len(items) > 1:
            excess -= _json_len(items.pop()) + 1
            dropped += 1
        if excess <= 0:
            break
    parts = [f"{clipped} long strings clipped"] if clipped else []
    if dropped:
        parts.append(f"{dropped} list items left out")
    note = f"result cut to the output budget ({max_chars} characters): {', '.join(parts) or 'nothing to cut'}"
    return data, note


def _is_table(value: dict[str, Any]) -> bool:
    """A page as `shared.paging` sends it: its columns and the length of each row are fixed."""
    return isinstance(value.get("columns"), list) and isinstance(value.get("rows"), list)


def _collect(
    value: Any,
    strings: list[tuple[int, Any, Any]],
    lists: list[tuple[int, list[Any]]],
    depth: int,
    *,
    cuttable: bool = True,
) -> None:
    if depth > 64:
        return
    if isinstance(value, dict):
        if _is_table(value):  # whole rows may go; a column, or a value out of a row, may not
            rows = value["rows"]
            if len(rows) > 1:
                lists.append((_json_len(rows), rows))
            for row in rows:
                _collect(row, strings, lists, depth + 2, cuttable=False)
            pairs: Any = [(k, v) for k, v in value.items() if k not in ("columns", "rows")]
        else:
            pairs = value.items()
    elif isinstance(value, list):
        if cuttable and len(value) > 1:
            lists.append((_json_len(value), value))
        pairs = enumerate(value)
    else:
        return
    for key, item in pairs:
        if isinstance(item, str):
            if len(item) > _KEEP_CHARS:
                strings.append((len(item), value, key))
        else:
            _collect(item, strings, lists, depth + 1)
