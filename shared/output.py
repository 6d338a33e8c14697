"""Bounded results: budgets, pages with a continuation cursor, clipping and secret redaction.

Truncation is always said (`Page.truncated`, `Page.note`, the clip marker), never silent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from pydantic import BaseModel, Field
from pydantic_core import to_json

from shared.errors import InvalidArgument

if TYPE_CHECKING:
    from shared.config import OutputSettings

__all__ = [
    "OutputBudget",
    "Page",
    "clip",
    "decode_cursor",
    "encode_cursor",
    "paginate",
    "redact",
    "redact_data",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutputBudget:
    """How much one tool result may hold: at most `max_items` items and about `max_chars` characters."""

    max_items: int = 50
    max_chars: int = 20_000

    def __post_init__(self) -> None:
        if self.max_items < 1 or self.max_chars < 100:
            raise ValueError("an output budget needs max_items >= 1 and max_chars >= 100")

    @classmethod
    def from_settings(cls, settings: OutputSettings) -> OutputBudget:
        """The budget configured in `[output]`."""
        return cls(max_items=settings.max_items, max_chars=settings.max_chars)


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


# --------------------------------------------------------------------------- cursors

_CURSOR_MAX: Final = 256


def _scope_tag(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def encode_cursor(offset: int, scope: str = "") -> str:
    """An opaque cursor for `offset`, bound to `scope` (describe the query: tool + its filters)."""
    raw = json.dumps({"o": offset, "s": _scope_tag(scope)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str = "") -> int:
    """The offset a cursor from `encode_cursor` stands for; `InvalidArgument` if it is not one.

    A cursor made for another query (another `scope`) is refused too, so a model cannot
    continue one listing with the cursor of another.
    """
    bad = InvalidArgument("cursor is invalid or belongs to another query; call again without a cursor")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= _CURSOR_MAX or not cursor.isascii():
        raise bad
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if not isinstance(data, dict) or set(data) != {"o", "s"}:
        raise bad
    offset = data["o"]
    if type(offset) is not int or offset < 0 or data["s"] != _scope_tag(scope):
        raise bad
    return offset


def _size(item: object) -> int:
    """The item's length as JSON (UTF-8 bytes, close enough to characters for a budget)."""
    return len(to_json(item, fallback=str))


def paginate(
    items: Sequence[T],
    *,
    cursor: str | None = None,
    limit: int | None = None,
    budget: OutputBudget | None = None,
    scope: str = "",
) -> Page[T]:
    """Cut `items` into a page within the budget, starting where `cursor` says.

    A page holds at most `min(limit, budget.max_items)` items and stops before the item that
    would push it past `budget.max_chars` (serialised as JSON); it always holds at least one item
    so a continuation always makes progress.
    """
    budget = budget or OutputBudget()
    start = 0 if cursor is None else decode_cursor(cursor, scope)
    if start > len(items):
        raise InvalidArgument("cursor is past the end of the results; call again without a cursor")
    if limit is not None and limit < 1:
        raise InvalidArgument("limit must be at least 1")
    max_items = min(limit or budget.max_items, budget.max_items)
    page: list[T] = []
    used = 0
    by_chars = False
    for item in items[start : start + max_items]:
        size = _size(item) + 1
        if page and used + size > budget.max_chars:
            by_chars = True
            break
        page.append(item)
        used += size
    end = start + len(page)
    more = end < len(items)
    note = None
    if more:
        reason = "the character budget" if by_chars else f"the limit of {max_items} items"
        note = (
            f"Showing items {start + 1}-{end} of {len(items)} ({reason}). "
            "Call again with `cursor` set to next_cursor for more, or narrow the query."
        )
    return Page[T](
        items=page,
        total=len(items),
        next_cursor=encode_cursor(end, scope) if more else None,
        truncated=more,
        note=note,
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


REDACTED: Final = "[REDACTED]"

_ASSIGNMENT_KEYS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential"
)


@dataclass(frozen=True, slots=True)
class _Rule:
    """One secret pattern. It only runs when one of its `hints` (lowercase substrings it cannot
    match without) occurs in the lowercased text, so ordinary text is scanned by `in`, not by a
    dozen regular expressions. A `caseless` rule is written in lowercase and matched against the
    lowercased text (about ten times faster than `re.IGNORECASE`); its replacement keeps group 1
    of the original text and appends `suffix`."""

    pattern: re.Pattern[str]
    replacement: str
    hints: tuple[str, ...]
    caseless: bool = False


def _rule(pattern: str, replacement: str, hints: tuple[str, ...], flags: int = 0) -> _Rule:
    return _Rule(re.compile(pattern, flags), replacement, hints)


def _caseless(pattern: str, suffix: str, hints: tuple[str, ...]) -> _Rule:
    return _Rule(re.compile(pattern), suffix, hints, caseless=True)


_SECRET_PATTERNS: Final[tuple[_Rule, ...]] = (
    # PEM private keys, whole block (also when the END line was cut off).
    _rule(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
        REDACTED,
        ("private key",),
        re.DOTALL,
    ),
    # Authorization headers and bearer tokens.
    _caseless(
        r"\b(bearer|basic|token)\s+[a-z0-9\-._~+/]{8,}=*", f" {REDACTED}", ("bearer", "basic", "token")
    ),
    # JSON Web Tokens.
    _rule(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", REDACTED, ("eyj",)),
    # AWS access key ids.
    _rule(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", REDACTED, ("akia", "asia", "abia", "acca")),
    # Provider API keys: OpenAI / Anthropic (sk-...), GitHub, Google, Slack, Stripe, GitLab, HF.
    _rule(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}", REDACTED, ("sk-",)),
    _rule(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}", REDACTED, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    _rule(r"\bgithub_pat_[A-Za-z0-9_]{40,}", REDACTED, ("github_pat_",)),
    _rule(r"\bAIza[0-9A-Za-z_-]{35}", REDACTED, ("aiza",)),
    _rule(r"\bxox[abposr]-[A-Za-z0-9-]{10,}", REDACTED, ("xox",)),
    _rule(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}", REDACTED, ("k_live_", "k_test_")),
    _rule(r"\bglpat-[A-Za-z0-9_-]{20,}", REDACTED, ("glpat-",)),
    _rule(r"\bhf_[A-Za-z0-9]{30,}", REDACTED, ("hf_",)),
    # Credentials in URLs: scheme://user:password@host
    _caseless(r"\b([a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s@/]+@", f":{REDACTED}@", ("://",)),
    # key=value / key: value / "key": "value" for secret-sounding keys (DB_PASSWORD=..., "token": "...").
    _caseless(
        rf"""((?:{_ASSIGNMENT_KEYS})s?["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s,;&"'}}]+)""",
        REDACTED,
        ("pass", "pwd", "secret", "token", "key", "credential"),
    ),
)

# One `in` scan per distinct hint is far cheaper than a regular expression alternation of them.
_ALL_HINTS: Final = tuple(dict.fromkeys(h for rule in _SECRET_PATTERNS for h in rule.hints))
_SECRET_KEY: Final = re.compile(rf"(?i)({_ASSIGNMENT_KEYS}|authorization|cookie|session)")


@lru_cache(maxsize=4096)
def _secret_key(name: str) -> bool:
    return _SECRET_KEY.search(name) is not None


def redact(text: str) -> str:
    """Replace secrets in `text` with `[REDACTED]`.

    Covers bearer/basic tokens, JWTs, AWS access key ids, PEM private keys, credentials in URLs,
    `password=`/`token=`/`secret=`-style assignments and API keys of known providers (`sk-…`,
    `ghp_…`, `AIza…`, `xoxb-…`, `glpat-…`, …).
    """
    lowered = text.lower()
    if not any(hint in lowered for hint in _ALL_HINTS):
        return text
    for rule in _SECRET_PATTERNS:
        if not any(hint in lowered for hint in rule.hints):
            continue
        if not rule.caseless:
            text = rule.pattern.sub(rule.replacement, text)
        elif len(lowered) == len(text):
            text = _sub_caseless(rule, text, lowered)
        else:  # lower() changed the length (rare non-ASCII): match case-insensitively instead
            text = re.sub(rule.pattern.pattern, rf"\g<1>{rule.replacement}", text, flags=re.IGNORECASE)
        lowered = text.lower()
    return text


def _sub_caseless(rule: _Rule, text: str, lowered: str) -> str:
    parts: list[str] = []
    last = 0
    for match in rule.pattern.finditer(lowered):
        parts.append(text[last : match.end(1)])
        parts.append(rule.replacement)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


def redact_data(value: Any, *, _depth: int = 0) -> Any:
    """Redact a JSON-like value: secret-sounding keys lose their value, every string is `redact`ed."""
    if _depth > 32:
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            secret = _secret_key(name) and isinstance(item, (str, bytes, Mapping, list))
            out[name] = REDACTED if secret and item else redact_data(item, _depth=_depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [redact_data(item, _depth=_depth + 1) for item in value]
    return value
