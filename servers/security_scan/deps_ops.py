"""Read a project's declared dependencies: Python's here, the other ecosystems' in lock_*_ops.

Every parser reads text the scanned project wrote (hostile input): data formats only (JSON, TOML,
bounded YAML, XML without DTDs or entities), no include, index, plugin or script is followed.
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True, slots=True)
class Declared:
    """One dependency as a file declares it; `version` is set only when pinned or locked."""

    name: str
    version: str | None
    source: str
    line: int
    ecosystem: str = "PyPI"
    license: str | None = None  # an SPDX expression, where the file states one


class LineFinder:
    """The line of a needle's first occurrence, searching on from the last hit (lock files list
    packages in order, so finding every package's line stays linear in the file's size)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self._at = 0

    def line(self, needle: str) -> int:
        pos = self._text.find(needle, self._at)
        if pos < 0:
            pos = self._text.find(needle)
        if pos < 0:
            return 0
        self._at = pos + len(needle)
        return bisect.bisect_left(self._newlines, pos) + 1


def _line_of(text: str, name: str) -> int:
    pattern = re.compile(rf"(?im)^\s*[\"']?{re.escape(name)}(?![\w.-])")
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else 0


def _from_requirement(spec: str, source: str, line: int) -> Declared | None:
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        return None
    pins = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    version = pins[0].version if len(pins) == 1 else None
    return Declared(canonicalize_name(req.name), version, source, line)


_OPTION = re.compile(r"\s--?[a-z][\w-]*(?:[=\s]\S+)?")


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with `\\` continuations joined (pip-compile's `--hash` lines), numbered by their first."""
    start, parts = 0, list[str]()
    for n, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = n
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            parts.append(stripped[:-1])
            continue
        parts.append(raw)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def parse_requirements(text: str, source: str) -> list[Declared]:
    """Requirement lines; options (`--hash`, `-r`, `--index-url`, ...) are never followed."""
    out = []
    for n, joined in _logical_lines(text):
        line = joined.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http:", "https:", "file:")):
            continue
        line = _OPTION.sub("", f" {line}").strip()  # per-requirement options: --hash=sha256:...
        dep = _from_requirement(line.split(";", 1)[0].strip(), source, n)
        if dep:
            out.append(dep)
    return out


def parse_pyproject(text: str, source: str) -> list[Declared]:
    data = tomllib.loads(text)
    project = data.get("project", {})
    specs: list[str] = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        specs.extend(group)
    out = [d for s in specs if (d := _from_requirement(s, source, 0))]
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
    for name, value in poetry.items():
        if name.lower() == "python":
            continue
        version = value.get("version") if isinstance(value, dict) else value
        pinned = isinstance(version, str) and re.fullmatch(r"=?=?\s*(\d[\w.!+-]*)", version.strip())
        out.append(Declared(canonicalize_name(name), pinned.group(1) if pinned else None, source, 0))
    return [Declared(d.name, d.version, d.source, _line_of(text, d.name)) for d in out]


def parse_lock(text: str, source: str) -> list[Declared]:
    """poetry.lock and uv.lock: `[[package]]` tables with name and version."""
    data = tomllib.loads(text)
    return [
        Declared(
            canonicalize_name(p["name"]), str(p["version"]), source, _line_of(text, f'name = "{p["name"]}"')
        )
        for p in data.get("package", [])
        if isinstance(p, dict) and "name" in p and "version" in p
    ]


def parse_pipfile_lock(text: str, source: str) -> list[Declared]:
    data = json.loads(text)
    out = []
    for section in ("default", "develop"):
        for name, info in data.get(section, {}).items():
            version = str(info.get("version", "")).lstrip("=") or None
            out.append(Declared(canonicalize_name(name), version, source, _line_of(text, f'"{name}"')))
    return out
