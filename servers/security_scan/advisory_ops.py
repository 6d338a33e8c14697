"""The last-resort advisory source: PyPI `safety-db`, the one database a registry ships (frozen 2021)."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from servers.security_scan.deps_ops import Declared
from servers.security_scan.models import Advisory


@dataclass(frozen=True, slots=True)
class _Entry:
    ids: tuple[str, ...]
    specs: tuple[str, ...]
    summary: str


def find_safety_db(venv: Path) -> Path | None:
    """`insecure_full.json` of the installed safety-db: this interpreter first, then the scanners venv."""
    spec = importlib.util.find_spec("safety_db")
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / "insecure_full.json"
        if candidate.is_file():
            return candidate
    hits = sorted(venv.glob("lib/python3*/site-packages/safety_db/insecure_full.json"))
    return hits[-1] if hits else None


class AdvisoryDatabase:
    """safety-db's advisories indexed by canonical package name."""

    def __init__(self, source: Path) -> None:
        raw: dict[str, Any] = json.loads(source.read_text("utf-8"))
        meta = raw.pop("$meta", {})
        stamp = meta.get("timestamp")
        date = datetime.fromtimestamp(stamp, UTC).date().isoformat() if isinstance(stamp, int) else "unknown"
        self.date = date
        self.label = f"safety-db ({date})"
        self._index: dict[str, list[_Entry]] = {}
        for name, items in raw.items():
            entries = self._index.setdefault(canonicalize_name(name), [])
            for item in items:
                ids = tuple(i for i in (item.get("cve"), item.get("id")) if i)
                entries.append(
                    _Entry(
                        ids, tuple(item.get("specs") or [item.get("v", "")]), str(item.get("advisory", ""))
                    )
                )

    def check(self, dep: Declared) -> list[Advisory]:
        if dep.version is None or dep.ecosystem != "PyPI":
            return []
        try:
            version = Version(dep.version)
        except InvalidVersion:
            return []
        found = []
        for entry in self._index.get(dep.name, []):
            hit = [s for s in entry.specs if _contains(s, version)]
            if hit:
                found.append(
                    Advisory(
                        package=dep.name,
                        installed_version=dep.version,
                        affected=" || ".join(hit),
                        fixed_versions=sorted({v for s in hit for v in _upper_bounds(s)}, key=_sort_key),
                        ids=list(entry.ids),
                        summary=entry.summary[:500],
                        source=self.label,
                        file=dep.source,
                        line=dep.line,
                        purl=f"pkg:pypi/{dep.name}@{dep.version}",
                        severity_source="not stated (taken as high)",
                        source_date=self.date,
                    )
                )
        return found


def _contains(spec: str, version: Version) -> bool:
    try:
        return SpecifierSet(spec).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def _upper_bounds(spec: str) -> list[str]:
    return re.findall(r"<\s*([0-9][\w.!+-]*)", spec.replace("<=", "\0"))


def _sort_key(v: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(v))
    except InvalidVersion:
        return (1, v)
