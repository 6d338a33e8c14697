"""Read a project's declared dependencies: requirements files, pyproject.toml and lock files."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from servers.security_scan.tree_ops import SourceFile


@dataclass(frozen=True, slots=True)
class Declared:
    """One dependency as a file declares it; `version` is set only when pinned or locked."""

    name: str
    version: str | None
    source: str
    line: int


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


def parse_requirements(text: str, source: str) -> list[Declared]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http:", "https:", "file:")):
            continue
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


def read_dependencies(files: Iterable[SourceFile]) -> tuple[list[Declared], list[str], list[str]]:
    """Every declared dependency, the files read, and files that could not be parsed."""
    deps: list[Declared] = []
    read, broken = [], []
    for f in files:
        if "dependencies" not in f.kinds:
            continue
        name = f.path.name
        try:
            text = f.path.read_text("utf-8")
            if name == "pyproject.toml":
                deps += parse_pyproject(text, f.rel)
            elif name in ("poetry.lock", "uv.lock"):
                deps += parse_lock(text, f.rel)
            elif name == "Pipfile.lock":
                deps += parse_pipfile_lock(text, f.rel)
            else:
                deps += parse_requirements(text, f.rel)
            read.append(f.rel)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            broken.append(f.rel)
    return deps, read, broken


def by_package(deps: list[Declared]) -> dict[tuple[str, str | None], Declared]:
    """One entry per (name, version); the first declaration wins."""
    out: dict[tuple[str, str | None], Declared] = {}
    for d in deps:
        out.setdefault((d.name, d.version), d)
    return out
