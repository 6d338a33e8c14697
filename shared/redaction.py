"""Secret redaction for every tool result: text (`redact_text`) and JSON-like data (`redact_data`).

What is recognised: `shared.secret_patterns` (by shape: ~60 token prefixes, private keys, URL
credentials, webhook URLs, Authorization and Cookie headers) and `shared.secret_keys` (by the name
a value is stored under, in text and as dict keys).

The kit runs every result through here, so nothing-to-redact is the path made cheap. A text is
lowercased once and tried against ~28 gates, each about one substring scan: a needle (`"token"`,
`"q~"`) or an expression with a literal prefix (`-----BEGIN`, `AKIA…`, `://`), which the regex
engine finds as fast as `in`. Only the rules behind a gate that fired run (the plan is cached per
combination of gates). Data is surveyed in one pass: its strings and distinct keys are joined and
gated as one text, so the thousands of short strings of a Kubernetes list do not each pay for the
gates; the rules then run on the strings under a gate hit, and only the containers on the path to
a change are copied.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from itertools import accumulate
from typing import Any, Final

from shared.secret_keys import (
    KEYWORD_NEEDLES,
    is_mode,
    is_reference,
    is_secret_key,
    is_workdir,
    keyword_spans,
)
from shared.secret_patterns import FORMATS, PEM_BODY_LINES, SecretFormat, ignorecase

__all__ = ["MAX_DEPTH", "REDACTED", "is_secret_key", "redact_data", "redact_text", "redacted_value"]

REDACTED: Final = "[REDACTED]"
MAX_DEPTH: Final = 64
"""Containers nested deeper than this are replaced by empty ones of the same type."""

Span = tuple[int, int]
Step = SecretFormat | str  # a format, or "base64-lines" / "keywords"

# The regex engine finds a literal as fast as `in` does, and short ones faster (no skip table).
_NEEDLES: Final = tuple(
    (n, re.compile(re.escape(n)))
    for n in dict.fromkeys((*KEYWORD_NEEDLES, *(n for f in FORMATS for n in f.needles)))
)
_GATES: Final = tuple(dict.fromkeys(f.gate for f in FORMATS if f.gate is not None and not f.needles))
# PEM body lines have no literal to look for. Mapped through this table, base64 characters become
# "b" and line breaks "n" (a backslash too, for "\n" in JSON), so one `find` spots a 64+ run.
_B64_TABLE: Final = bytes(
    0x62
    if chr(i).isascii() and (chr(i).isalnum() or chr(i) in "+/")
    else 0x6E
    if chr(i) in "\n\r\t \\"
    else 0x78
    for i in range(256)
)
_B64_RUN: Final = b"b" * 64 + b"n"
_SECRET_GROUPS: Final = {
    f.pattern: tuple(g for g in f.pattern.groupindex if re.fullmatch(r"s[0-9]*", g)) for f in FORMATS
}
_PLANS: dict[tuple[frozenset[str], tuple[int, ...], bool], tuple[Step, ...]] = {}


def redact_text(text: str) -> str:
    """`text` with every secret it holds replaced by `[REDACTED]`.

    Keys, quotes, schemes and PEM armour lines stay, so the result still reads:
    `password="[REDACTED]"`, `postgres://app:[REDACTED]@db`, `Authorization: Bearer [REDACTED]`.
    Idempotent: a text redacted once comes back unchanged.
    """
    if len(text) < 4:
        return text
    lowered = text.lower()
    found = frozenset(n for n, rx in _NEEDLES if rx.search(lowered))
    gates = tuple(i for i, gate in enumerate(_GATES) if gate.search(text))
    base64_lines = len(text) >= 130 and _base64_run_at(text) >= 0
    if not (found or gates or base64_lines):
        return text
    for step in _plan(found, gates, base64_lines):
        if isinstance(step, SecretFormat):
            new = _replace(text, _format_spans(step, text, lowered))
        elif step == "base64-lines":
            new = _replace(text, [m.span() for m in PEM_BODY_LINES.finditer(text)])
        else:
            new = _replace(text, keyword_spans(text, lowered, found.intersection(KEYWORD_NEEDLES)))
        if new is not text:
            text, lowered = new, new.lower()
    return text


def _plan(found: frozenset[str], gates: tuple[int, ...], base64_lines: bool) -> tuple[Step, ...]:
    key = (found, gates, base64_lines)
    plan = _PLANS.get(key)
    if plan is None:
        hit = {_GATES[i] for i in gates}
        steps: list[Step] = ["base64-lines"] if base64_lines else []
        steps += [f for f in FORMATS if (found.intersection(f.needles) if f.needles else f.gate in hit)]
        if found.intersection(KEYWORD_NEEDLES):
            steps.append("keywords")  # last: values that a format rule redacted already are skipped
        if len(_PLANS) >= 1024:
            _PLANS.clear()
        plan = _PLANS[key] = tuple(steps)
    return plan


def _base64_run_at(text: str) -> int:
    """Where a line of 64+ base64 characters ends in a line break (a PEM body), or -1."""
    return text.encode("utf-8", "surrogatepass").translate(_B64_TABLE).find(_B64_RUN)


def _format_spans(fmt: SecretFormat, text: str, lowered: str) -> list[Span]:
    hay, pattern = text, fmt.pattern
    if fmt.caseless:
        if len(lowered) == len(text):
            hay = lowered
        else:
            pattern = ignorecase(pattern)
    groups = _SECRET_GROUPS[fmt.pattern]
    spans: list[Span] = []
    for match in pattern.finditer(hay):
        if fmt.spans is not None:
            spans += fmt.spans(match)
        elif fmt.check is None or fmt.check(match):
            spans += [match.span(g) for g in groups if match.start(g) >= 0] or [match.span()]
    return spans


def _replace(text: str, spans: Iterable[Span]) -> str:
    """`text` with each span replaced by `[REDACTED]` (overlaps merged); `text` itself if none."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif start < end:
            merged.append([start, end])
    parts: list[str] = []
    last = 0
    for start, end in merged:
        if text[start:end] != REDACTED:
            parts += (text[last:start], REDACTED)
            last = end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


# --------------------------------------------------------------------------- data

_DIGEST_KEY: Final = os.urandom(32)
_ENV_RX: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)=(.*)", re.DOTALL)
_NAME_KEYS: Final = ("name", "Name", "key", "Key")
_VALUE_KEYS: Final = ("value", "Value")


def redacted_value(value: str) -> str:
    """A stand-in for a secret value that still shows, in a diff, whether the value changed.

    `<redacted: N chars, sha256 abcd1234>`. The digest is an HMAC-SHA256 under a key made at
    process start: equal values show equal digests for the life of the server, but a digest
    cannot be checked against guessed passwords offline, as a bare 32-bit SHA-256 prefix could.
    """
    digest = hmac.new(_DIGEST_KEY, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"<redacted: {len(value)} chars, sha256 {digest[:8]}>"


def _mask(_value: str) -> str:
    return REDACTED


def redact_data(value: Any, *, mask: Callable[[str], str] = _mask) -> Any:
    """`value` (JSON-like: dict, list, tuple, str, int, float, bool, None) with secrets redacted.

    Every string and key goes through `redact_text`. Replaced as well — type-preserving — are the
    value under a secret-sounding key (`is_secret_key`), the `value` of a name/value pair with a
    secret-sounding name (Kubernetes env, Helm values, tags; `valueFrom` references stay), the
    value of a `NAME=value` string in a list (Docker `Env`) and the `data`/`stringData` of a
    Kubernetes Secret (by `redacted_value`): a string becomes `mask(string)` (`[REDACTED]`; pass
    `redacted_value` to keep changes visible in a diff); in a dict or list every string is
    replaced except references (`secretName`, `path`, `type`); numbers, booleans and None stay.

    Containers deeper than `MAX_DEPTH` become empty ones of their type. The input is never
    modified; what needs no change is shared with the result (`value` itself if nothing did).
    """
    if isinstance(value, str):
        return redact_text(value)
    survey = _Survey(value)
    if not survey.nodes:
        return value
    dirty = survey.dirty_nodes()
    if not dirty:
        return value
    return _Rebuild(survey.changed, mask, dirty).node(value, 0, deep=False)


class _Survey:
    """One breadth-first pass over `value`: its containers with their parents, its strings with
    the container holding each, its keys, and the containers a key-based rule applies to."""

    def __init__(self, value: Any) -> None:
        self.nodes: list[Any] = []
        self.parents: list[int] = []
        self.strings: list[str] = []
        self.owners: list[int] = []
        self.keys: set[Any] = set()
        self.flagged: list[int] = []
        if _is_container(value):
            self._walk(value)
        self.changed: dict[str, str] = {}

    def _walk(self, value: Any) -> None:
        nodes, parents, strings, owners, depths = [value], [-1], self.strings, self.owners, [0]
        i = 0
        while i < len(nodes):
            node, depth = nodes[i], depths[i] + 1
            kind = type(node)
            if kind is dict or (kind is not list and kind is not tuple and isinstance(node, Mapping)):
                self.keys.update(node)
                children: Iterable[Any] = node.values()
                pair = ("value" in node or "Value" in node) and _secret_pair(node)
                if pair or node.get("kind") == "Secret":
                    self.flagged.append(i)
            else:
                children = node
                if node and isinstance(node[0], str) and "=" in node[0] and any(map(_secret_env, node)):
                    self.flagged.append(i)
            if depth > MAX_DEPTH:
                self.flagged.append(i)  # cut here: `_Rebuild` empties it
                children = ()
            for child in children:
                kind = type(child)
                if kind is str:
                    strings.append(child)
                    owners.append(i)
                elif kind in _SCALARS:
                    continue
                elif kind is dict or kind is list or kind is tuple or _is_container(child):
                    nodes.append(child)
                    parents.append(i)
                    depths.append(depth)
                elif isinstance(child, str):
                    strings.append(child)
                    owners.append(i)
            i += 1
        self.nodes, self.parents = nodes, parents

    def dirty_nodes(self) -> set[int]:
        """The ids of the containers on a path to something to redact (empty: nothing to do)."""
        keys = [k for k in self.keys if isinstance(k, str)]
        changed = self.changed = _changed_strings([*self.strings, *keys])
        flagged = self.flagged
        if changed:  # by value: every place a changed string occurs
            flagged = flagged + [
                owner for s, owner in zip(self.strings, self.owners, strict=True) if s in changed
            ]
        marked = {k for k in keys if k in self.changed or is_secret_key(k)}
        if marked:
            flagged += [
                i for i, n in enumerate(self.nodes) if isinstance(n, Mapping) and not marked.isdisjoint(n)
            ]
        dirty: set[int] = set()
        for i in flagged:
            while i >= 0 and i not in dirty:
                dirty.add(i)
                i = self.parents[i]
        return {id(self.nodes[i]) for i in dirty}


_SCALARS: Final = frozenset((int, float, bool, type(None)))


def _is_container(value: object) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def _secret_pair(node: Mapping[Any, Any]) -> bool:
    if "value" not in node and "Value" not in node:
        return False
    name = next((node[k] for k in _NAME_KEYS if k in node), None)
    return isinstance(name, str) and is_secret_key(name)


def _secret_env(item: object) -> bool:
    m = _ENV_RX.fullmatch(item) if isinstance(item, str) else None
    return m is not None and bool(m.group(2)) and is_secret_key(m.group(1)) and not is_workdir(*m.groups())


def _changed_strings(strings: list[str]) -> dict[str, str]:
    """The strings that `redact_text` changes, mapped to their redacted form.

    The strings are joined with NUL and gated as one text; only those under a gate hit are then
    redacted one by one. Joining keeps every gate hit (needles are substrings; the boundaries of
    the gate expressions treat NUL as a non-word character).
    """
    joined = "\0".join(strings)
    lowered = joined.lower()
    if len(lowered) != len(joined):  # lowering moved offsets: try every string (rare)
        candidates: Iterable[int] = range(len(strings))
    else:
        starts = [0, *accumulate(map((1).__add__, map(len, strings)))]
        candidates = {bisect_right(starts, at) - 1 for at in _gate_positions(joined, lowered)}
    changed: dict[str, str] = {}
    for text in {strings[j] for j in candidates}:
        redacted = redact_text(text)
        if redacted != text:
            changed[text] = redacted
    return changed


def _gate_positions(joined: str, lowered: str) -> list[int]:
    hits: list[int] = []
    for _, needle in _NEEDLES:
        hits += [m.start() for m in needle.finditer(lowered)]
    for gate in _GATES:
        hits += [m.start() for m in gate.finditer(joined)]
    if joined.isascii():  # byte offsets are character offsets
        encoded = joined.encode().translate(_B64_TABLE)
        at = encoded.find(_B64_RUN)
        while at >= 0:
            hits.append(at)
            at = encoded.find(_B64_RUN, at + 1)
    else:
        hits += [m.start() for m in PEM_BODY_LINES.finditer(joined)]
    return hits


class _Rebuild:
    """The second pass of `redact_data`: copy the dirty containers, share the rest."""

    def __init__(self, changed: dict[str, str], mask: Callable[[str], str], dirty: set[int]) -> None:
        self.changed, self.mask, self.dirty = changed, mask, dirty

    def node(self, node: Any, depth: int, *, deep: bool, key: str = "") -> Any:
        if isinstance(node, str):
            if deep and node and not is_workdir(key, node) and not is_mode(node):
                return self.mask(node)
            return self.changed.get(node, node)
        if not _is_container(node) or (not deep and id(node) not in self.dirty):
            if deep and isinstance(node, bytes) and node:
                return REDACTED.encode()
            return node
        if depth >= MAX_DEPTH:
            return {} if isinstance(node, Mapping) else type(node)()
        if isinstance(node, Mapping):
            return self.mapping(node, depth, deep=deep)
        items = [self.item(item, depth + 1, deep=deep) for item in node]
        if all(new is old for new, old in zip(items, node, strict=True)):
            return node
        return tuple(items) if isinstance(node, tuple) else items

    def item(self, item: Any, depth: int, *, deep: bool) -> Any:
        """A list item: a secret `NAME=value` string keeps its name."""
        if not deep and isinstance(item, str) and _secret_env(item):
            name, _, secret = item.partition("=")
            return f"{name}={self.mask(secret)}"
        return self.node(item, depth, deep=deep)

    def mapping(self, node: Mapping[Any, Any], depth: int, *, deep: bool) -> Any:
        pair = not deep and _secret_pair(node)
        secret_object = not deep and node.get("kind") == "Secret"
        out: dict[Any, Any] = {}
        same = type(node) is dict
        for key, value in node.items():
            name = key if isinstance(key, str) else ""
            new_key = self.changed.get(key, key) if name else key
            new: Any
            if deep and name and isinstance(value, str) and is_reference(name):
                new = self.changed.get(value, value)  # a reference inside a secret (its name, a path)
            elif secret_object and name in ("data", "stringData") and isinstance(value, Mapping):
                new = {k: redacted_value(v) if isinstance(v, str) else v for k, v in value.items()}
            else:
                secret = deep or (pair and name in _VALUE_KEYS) or (bool(name) and is_secret_key(name))
                new = self.node(value, depth + 1, deep=secret, key=name)
            out[new_key] = new
            same = same and new is value and new_key is key
        return node if same else out
