"""A local OSV export (the `<Ecosystem>/all.zip` files osv.dev publishes), indexed once in SQLite.

The folder is operator-supplied but its zips are still read defensively: only `*.json` members,
each at most `MAX_MEMBER_BYTES` uncompressed (checked against the stream, not only the header), at
most `max_total_bytes` in all, no path is ever extracted to disk. The index (`osv-export.sqlite3`
in the cache folder) is keyed by (ecosystem, package name) and records which zips (name, size,
mtime) it was built from: it is rebuilt only when they change, into a new file renamed over the
old one, so a reader never sees half an index.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.security_scan import ecosystem_ops as eco

MAX_MEMBER_BYTES = 16 * 1024 * 1024
_SCHEMA = """
CREATE TABLE records (id TEXT PRIMARY KEY, modified TEXT, body TEXT NOT NULL);
CREATE TABLE affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX affected_by_package ON affected (ecosystem, name);
CREATE TABLE ecosystems (ecosystem TEXT PRIMARY KEY, records INTEGER, newest TEXT);
CREATE TABLE sources (file TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER);
"""


class ExportError(ValueError):
    """The export folder cannot be indexed (a zip is corrupt, too large, or holds a bomb)."""


@dataclass(frozen=True, slots=True)
class ExportInfo:
    ecosystems: dict[str, tuple[int, str]]  # base ecosystem -> (records, newest `modified` date)


def _zips(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.zip") if p.is_file() and not p.is_symlink())


def _stamp(folder: Path) -> list[tuple[str, int, int]]:
    return [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in _zips(folder)]


def _members(path: Path, budget: list[int]) -> Iterator[dict[str, Any]]:
    """The JSON records of one zip, each read with its size bounded as it streams."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportError(f"{path.name} is not a readable zip: {exc}") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                raise ExportError(f"{path.name}:{info.filename} is larger than {MAX_MEMBER_BYTES} bytes")
            with archive.open(info) as member:
                data = member.read(MAX_MEMBER_BYTES + 1)  # the header's size may lie
            if len(data) > MAX_MEMBER_BYTES:
                raise ExportError(f"{path.name}:{info.filename} expands past {MAX_MEMBER_BYTES} bytes")
            budget[0] -= len(data)
            if budget[0] < 0:
                raise ExportError("the export expands past [security_scan] osv_export_max_bytes")
            try:
                record = json.loads(data)
            except ValueError:
                continue  # one malformed record does not poison the rest
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                yield record


def _packages(record: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for entry in record.get("affected") or []:
        package = entry.get("package") if isinstance(entry, dict) else None
        if isinstance(package, dict) and package.get("ecosystem") and package.get("name"):
            ecosystem = str(package["ecosystem"])
            yield ecosystem, eco.normalise_name(ecosystem, str(package["name"]))


def build_index(folder: Path, target: Path, *, max_total_bytes: int) -> None:
    """Index every zip under `folder` into a new SQLite file `target`."""
    tmp = target.with_name(target.name + f".{os.getpid()}.building")
    tmp.unlink(missing_ok=True)
    try:
        _fill(tmp, folder, max_total_bytes)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)


def _fill(tmp: Path, folder: Path, max_total_bytes: int) -> None:
    budget = [max_total_bytes]
    newest: dict[str, tuple[int, str]] = {}
    with closing(sqlite3.connect(tmp)) as db, db:
        db.executescript(_SCHEMA)
        for path in _zips(folder):
            for record in _members(path, budget):
                rid, modified = record["id"], str(record.get("modified", ""))
                db.execute(
                    "INSERT OR REPLACE INTO records VALUES (?, ?, ?)", (rid, modified, json.dumps(record))
                )
                pairs = set(_packages(record))
                db.executemany("INSERT INTO affected VALUES (?, ?, ?)", [(e, n, rid) for e, n in pairs])
                for ecosystem in {eco.base(e) for e, _ in pairs}:
                    count, date = newest.get(ecosystem, (0, ""))
                    newest[ecosystem] = (count + 1, max(date, modified[:10]))
        db.executemany("INSERT INTO ecosystems VALUES (?, ?, ?)", [(e, c, d) for e, (c, d) in newest.items()])
        db.executemany("INSERT INTO sources VALUES (?, ?, ?)", _stamp(folder))


class OsvExport:
    """Look up OSV records by package in the indexed export folder; builds the index on first use."""

    def __init__(self, folder: Path, cache_dir: Path, *, max_total_bytes: int) -> None:
        self.folder = folder
        self.index = cache_dir / "osv-export.sqlite3"
        self._max = max_total_bytes
        self._lock = threading.Lock()
        self._info: ExportInfo | None = None

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(f"file:{self.index}?mode=ro", uri=True)
        try:
            yield db
        finally:
            db.close()

    def _current(self) -> bool:
        if not self.index.is_file():
            return False
        try:
            with self._db() as db:
                built = sorted(db.execute("SELECT file, size, mtime_ns FROM sources"))
        except sqlite3.Error:
            return False
        return built == sorted(_stamp(self.folder))

    def info(self) -> ExportInfo:
        """What the export holds; (re)builds the index when its zips changed. Blocking."""
        with self._lock:
            if self._info is not None and self._current():
                return self._info
            if not self.folder.is_dir():
                raise ExportError(f"the OSV export folder {self.folder} does not exist")
            if not self._current():
                self.index.parent.mkdir(parents=True, exist_ok=True)
                with (self.index.parent / "osv-export.lock").open("w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # another server process may be building it
                    if not self._current():
                        build_index(self.folder, self.index, max_total_bytes=self._max)
            with self._db() as db:
                rows = db.execute("SELECT ecosystem, records, newest FROM ecosystems").fetchall()
            self._info = ExportInfo({e: (c, d) for e, c, d in rows})
            return self._info

    def records(self, ecosystem: str, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Records per normalised name for packages of `ecosystem` (any release of a distribution)."""
        wanted = sorted({eco.normalise_name(ecosystem, n) for n in names})
        out: dict[str, list[dict[str, Any]]] = {n: [] for n in wanted}
        family = eco.base(ecosystem)
        with self._db() as db:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT DISTINCT a.name, r.body FROM affected a JOIN records r ON r.id = a.id "  # noqa: S608 - placeholders only
                    f"WHERE (a.ecosystem = ? OR substr(a.ecosystem, 1, ?) = ?) AND a.name IN ({marks})",
                    [family, len(family) + 1, f"{family}:", *chunk],
                )
                for name, body in rows:
                    out[name].append(json.loads(body))
        return out
