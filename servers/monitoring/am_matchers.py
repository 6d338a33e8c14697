"""Alertmanager label matchers: read from the model, written for the API, and checked before a silence.

A matcher is `name="value"`, `name!="value"`, `name=~"regex"` or `name!~"regex"` (the value quoted with
`\\"`, `\\\\` and `\\n` escapes, or bare); several may come as one `{a="1", b=~"2|3"}` string. Written by
hand because the grammar is Alertmanager's own and tiny.

`matches_anything` decides whether one matcher matches every (non-empty) label value, which the silence
tools refuse when *all* matchers do (a silence of everything). Regexes are decided exactly: the regex
becomes a finite automaton (greenery) and its language is compared with "any non-empty string", so
`.*`, `.+`, `.*|x`, `(|.+)`, `[\\s\\S]*` are all caught. Constructs greenery cannot model faithfully
(flags, anchors inside the pattern, Unicode and POSIX classes, `\\b`) are refused in silences, and so are
large counted repetitions, which could make the automaton explode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from greenery import parse as regex_parse  # type: ignore[import-untyped]

from shared.errors import InvalidArgument

MatchOp = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_MAX_MATCHERS = 20
_MAX_VALUE = 1024
_MAX_SILENCE_REGEX = 256
_MAX_REPEAT = 10
_UNMODELLED_ESCAPES = frozenset("pPbBAzQEC123456789")
_ANY_NONEMPTY = regex_parse(".+").to_fsm()


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher."""

    name: str
    op: MatchOp
    value: str

    @property
    def regex(self) -> bool:
        return self.op in ("=~", "!~")

    def render(self) -> str:
        """As Alertmanager's `filter` parameter (and amtool) read it: `name=~"value"`."""
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'

    def api(self) -> dict[str, Any]:
        """As a silence carries it in the API v2."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.regex,
            "isEqual": self.op in ("=", "=~"),
        }


def from_api(raw: dict[str, Any]) -> Matcher:
    """A matcher as Alertmanager returns it inside a silence."""
    regex, equal = bool(raw.get("isRegex")), raw.get("isEqual", True) is not False
    op: MatchOp = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
    return Matcher(str(raw.get("name", "")), op, str(raw.get("value", "")))


def parse_matchers(items: Iterable[str]) -> list[Matcher]:
    """Matchers from the model's strings; `{}` and `{a="1", b="2"}` forms are split.

    Raises:
        InvalidArgument: a malformed matcher, a bad label name, an unterminated string, too many.
    """
    found: list[Matcher] = []
    for item in items:
        text = item.strip()
        if text.startswith("{"):
            if not text.endswith("}"):
                raise InvalidArgument(f"matcher list {item!r} opens {{ but does not close it")
            parts = _split(text[1:-1], item)
        else:
            parts = [text]
        found.extend(_one(part) for part in parts if part.strip())
        if len(found) > _MAX_MATCHERS:
            raise InvalidArgument(f"at most {_MAX_MATCHERS} matchers")
    return found


def _split(body: str, shown: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in body:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise InvalidArgument(f"matcher list {shown!r} has an unterminated string")
    parts.append("".join(current))
    return parts


def _one(text: str) -> Matcher:
    match = _MATCHER.match(text)
    if not match:
        raise InvalidArgument(
            f'cannot read matcher {text!r}: write name="value", name!="value", name=~"regex" or '
            'name!~"regex" (label names: letters, digits and _)'
        )
    name, op, raw = match.group(1), match.group(2), match.group(3)
    value = _unquote(raw, text) if raw.startswith('"') else raw
    if not raw.startswith('"') and any(c in raw for c in '"{},'):
        raise InvalidArgument(f"matcher {text!r}: quote a value that holds quotes, braces or commas")
    if len(value) > _MAX_VALUE:
        raise InvalidArgument(f"matcher {name}: the value is longer than {_MAX_VALUE} characters")
    if any(ord(c) < 32 and c != "\n" for c in value) or "\x7f" in value:
        raise InvalidArgument(f"matcher {name}: the value holds control characters")
    return Matcher(name, op, value)  # type: ignore[arg-type]


def _unquote(raw: str, shown: str) -> str:
    out: list[str] = []
    index = 1
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            following = raw[index + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(following, "\\" + following))
            index += 2
            continue
        if char == '"':
            if index != len(raw) - 1:
                raise InvalidArgument(f"matcher {shown!r}: text after the closing quote")
            return "".join(out)
        out.append(char)
        index += 1
    raise InvalidArgument(f"matcher {shown!r}: the value's closing quote is missing")


def matches_anything(matcher: Matcher) -> bool:
    """Whether the matcher matches every non-empty label value (so it narrows nothing).

    Raises:
        InvalidArgument: a regex this check cannot decide (see the module docstring).
    """
    if matcher.op == "=":
        return False
    if matcher.op == "!=":
        return matcher.value == ""
    fsm = _automaton(matcher)
    if matcher.op == "=~":
        return bool(_ANY_NONEMPTY.difference(fsm).empty())
    return bool(_ANY_NONEMPTY.intersection(fsm).empty())


def _automaton(matcher: Matcher) -> Any:
    pattern = matcher.value
    shown = f"{matcher.name}{matcher.op}{pattern!r}"
    if len(pattern) > _MAX_SILENCE_REGEX:
        raise InvalidArgument(f"{shown}: a silence regex is limited to {_MAX_SILENCE_REGEX} characters")
    # Alertmanager anchors every regex (^(?:…)$), so anchors at the very ends change nothing.
    if pattern.startswith("^"):
        pattern = pattern[1:]
    if pattern.endswith("$") and not _escaped_at(pattern, len(pattern) - 1):
        pattern = pattern[:-1]
    problem = _unmodelled(pattern)
    if problem:
        raise InvalidArgument(
            f"{shown}: cannot check what this regex matches ({problem}); rewrite it with plain "
            'alternatives, classes and repetitions, e.g. service=~"api|web"'
        )
    try:
        return regex_parse(pattern).to_fsm()
    except Exception as exc:  # greenery raises its own NoMatch for syntax it does not know
        raise InvalidArgument(f"{shown}: cannot check what this regex matches ({exc})") from None


def _escaped_at(pattern: str, index: int) -> bool:
    backslashes = 0
    while index - 1 - backslashes >= 0 and pattern[index - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _unmodelled(pattern: str) -> str | None:
    """The first construct greenery would read differently from Go's RE2, if any."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following in _UNMODELLED_ESCAPES:
                return f"\\{following}"
            index += 2
            continue
        if char == "[":
            end, problem = _class_end(pattern, index)
            if problem:
                return problem
            index = end
            continue
        if char in "^$":
            return f"anchor {char} inside the pattern"
        if pattern.startswith("(?", index) and not pattern.startswith(("(?:", "(?P<"), index):
            return "flags (?…)"
        if char == "{":
            bounds = re.match(r"\{(\d+)(?:,(\d*))?\}", pattern[index:])
            if bounds and max(int(b) for b in bounds.groups() if b) > _MAX_REPEAT:
                return f"a repetition count above {_MAX_REPEAT}"
        index += 1
    return None


def _class_end(pattern: str, start: int) -> tuple[int, str | None]:
    """The index after the character class opening at `start`, or the construct it cannot model."""
    index = start + 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1  # a leading ] is a member, not the end
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following in _UNMODELLED_ESCAPES:
                return index, f"\\{following}"
            index += 2
            continue
        if pattern.startswith("[:", index):
            return index, "a POSIX class [:…:]"
        if char == "]":
            return index + 1, None
        index += 1
    return index, "an unterminated character class"


def refuse_silencing_everything(matchers: list[Matcher]) -> None:
    """Refuse matchers that narrow nothing: none at all, or every one matching any value.

    Raises:
        InvalidArgument: naming the match-anything matchers and what to write instead.
    """
    if not matchers:
        raise InvalidArgument(
            'a silence needs matchers, e.g. alertname="HighLatency" (a silence without any would '
            "silence every alert)"
        )
    broad = [m for m in matchers if matches_anything(m)]
    if len(broad) == len(matchers):
        shown = ", ".join(m.render() for m in broad)
        raise InvalidArgument(
            f"refused: {shown} match(es) every value, so this silence would silence every alert. Add a "
            'matcher that names what to silence, e.g. alertname="HighLatency" or instance="web-1:9100"'
        )
