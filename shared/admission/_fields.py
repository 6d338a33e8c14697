"""Reading a hostile manifest field by field, the way the apiserver's decoder would.

The apiserver decodes JSON into typed structs: `null` is "not set", a wrong type is an error and
an unknown field is dropped. `Fields` reads a mapping the same way and records a violation for
every value of the wrong type, so a check never sees (and never takes as safe) a string where a
boolean belongs. It also refuses a key that differs from a field it reads only by case
(`Privileged`, `hostnetwork`): the apiserver drops it, but a controller decoding a custom
resource with Go's case-insensitive `encoding/json` would honour it.

Every mapping key and list entry visited is charged to the `Sink`'s budget, which bounds the
work per object whatever its size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_ENTRIES", "NO_FIELDS", "Fields", "Finding", "Known", "Sink", "known", "quote", "segment"]

#: Mapping keys and list entries read per object before the check gives up (and refuses).
MAX_ENTRIES: Final = 20_000
_SHOWN: Final = 100  # characters of a hostile name or value shown in a message


def quote(value: object) -> str:
    """`value` in double quotes as Go's `%q`-ish output, escaped and cut to a readable length."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "..."
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def segment(key: str) -> str:
    """A mapping key as it may appear in a field path: as is when short and printable, else quoted."""
    return key if len(key) <= _SHOWN and key.isprintable() else quote(key)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in an object (turned into a `Violation` by the caller)."""

    control: str
    reason: str
    detail: str
    paths: tuple[str, ...]


class Sink:
    """Collects what reading an object finds, and bounds the work spent on it."""

    __slots__ = ("budget", "exhausted", "findings")

    def __init__(self, budget: int = MAX_ENTRIES) -> None:
        self.budget = budget
        self.findings: list[Finding] = []
        self.exhausted = False

    def spend(self, entries: int, path: str) -> bool:
        """Charge `entries`; False (and one finding) once the budget is gone."""
        if self.exhausted:
            return False
        self.budget -= entries
        if self.budget < 0:
            self.exhausted = True
            self.findings.append(
                Finding(
                    "size",
                    "object too large to check",
                    f"more than {MAX_ENTRIES} fields and list entries in pod templates (at {path}); "
                    "split the object or remove unused entries",
                    (path,),
                )
            )
            return False
        return True

    def bad_type(self, path: str, expected: str, value: object) -> None:
        self.findings.append(
            Finding(
                "fieldType",
                "invalid field type",
                f"{path} must be {expected}, not {_type_name(value)}",
                (path,),
            )
        )

    def bad_case(self, path: str, key: str, field: str) -> None:
        where = f"{path}.{segment(key)}" if path else segment(key)
        self.findings.append(
            Finding(
                "fieldName",
                "field name case",
                f"{where} must be spelled {quote(field)} (field names are case-sensitive)",
                (where,),
            )
        )


@dataclass(frozen=True, slots=True)
class Known:
    """The fields read from one kind of mapping, and their case-folded spellings."""

    names: frozenset[str]
    folded: Mapping[str, str]


def known(*names: str) -> Known:
    return Known(frozenset(names), {name.casefold(): name for name in names})


NO_FIELDS: Final = known()


class Fields:
    """A typed, bounded view of one mapping of a manifest at `path`."""

    __slots__ = ("data", "path", "sink")

    def __init__(self, data: Mapping[Any, Any], path: str, sink: Sink, fields: Known = NO_FIELDS) -> None:
        self.data = data
        self.path = path
        self.sink = sink
        if not sink.spend(len(data), path) or not fields.folded:
            return
        names, folded = fields.names, fields.folded
        for key in data:
            if type(key) is str and key not in names:
                field = folded.get(key.casefold())
                if field is not None:
                    sink.bad_case(path, key, field)

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def flag(self, name: str) -> bool | None:
        """A boolean field; `None` when unset (or of the wrong type, which is recorded)."""
        value = self.data.get(name)
        if value is None or type(value) is bool:
            return value
        self.sink.bad_type(self.at(name), "true or false", value)
        return None

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None or isinstance(value, str):
            return value
        self.sink.bad_type(self.at(name), "a string", value)
        return None

    def number(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self.sink.bad_type(self.at(name), "an integer", value)
        return None

    def child(self, name: str, fields: Known = NO_FIELDS) -> Fields | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, Mapping):
            return Fields(value, self.at(name), self.sink, fields)
        self.sink.bad_type(self.at(name), "a mapping", value)
        return None

    def items(self, name: str) -> Iterator[tuple[str, Any]]:
        """`(path, entry)` for each entry of a list field, charged to the budget."""
        value = self.data.get(name)
        if value is None:
            return
        path = self.at(name)
        if not isinstance(value, (list, tuple)):
            self.sink.bad_type(path, "a list", value)
            return
        if not self.sink.spend(len(value), path):
            return
        for index, entry in enumerate(value):
            yield f"{path}[{index}]", entry

    def children(self, name: str, fields: Known = NO_FIELDS) -> Iterator[Fields]:
        """Each entry of a list of mappings (`null` entries skipped, others recorded)."""
        for path, entry in self.items(name):
            if isinstance(entry, Mapping):
                yield Fields(entry, path, self.sink, fields)
            elif entry is not None:
                self.sink.bad_type(path, "a mapping", entry)

    def strings(self, name: str) -> Iterator[tuple[str, str]]:
        """`(path, value)` for each string of a list of strings."""
        for path, entry in self.items(name):
            if isinstance(entry, str):
                yield path, entry
            else:
                self.sink.bad_type(path, "a string", entry)

    def string_map(self, name: str) -> dict[str, str]:
        """A `map[string]string` field such as `annotations`."""
        value = self.data.get(name)
        if value is None:
            return {}
        path = self.at(name)
        if not isinstance(value, Mapping):
            self.sink.bad_type(path, "a mapping of strings", value)
            return {}
        if not self.sink.spend(len(value), path):
            return {}
        result: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.sink.bad_type(f"{path}[{segment(repr(key))}]", "a string key", key)
            elif item is None or isinstance(item, str):
                result[key] = item or ""  # Go decodes a null map value as ""
            else:
                self.sink.bad_type(f"{path}[{segment(key)}]", "a string", item)
        return result
