"""Bounded results: the output budget, clipping text, and fitting a whole result into its cap.

Truncation is always said (the clip marker, `Page.truncated` / `Page.note` in `shared.paging`, the
note `fit` returns), never silent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic_core import to_json

if TYPE_CHECKING:
    from shared.config import OutputSettings

__all__ = ["OutputBudget", "clip", "fit", "redact", "redact_data"]

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


def _collect(
    value: Any, strings: list[tuple[int, Any, Any]], lists: list[tuple[int, list[Any]]], depth: int
) -> None:
    if depth > 64:
        return
    if isinstance(value, dict):
        pairs: Any = value.items()
    elif isinstance(value, list):
        if len(value) > 1:
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
