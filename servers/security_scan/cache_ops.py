"""Per-file scan results cached by content hash, so a rescan of an unchanged tree skips the scanners."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from servers.security_scan.models import Finding

# What decides a file's cached findings: the rules, the command lines, the snapshot and the normaliser.
_LOGIC_FILES = ("rule_catalog.py", "scanner_specs.py", "tree_ops.py", "external_ops.py", "findings_ops.py")


def logic_digest() -> str:
    """Changes whenever the rules or the normaliser change, which invalidates every cached result."""
    h = hashlib.sha256()
    base = Path(__file__).parent
    for path in [*(base / name for name in _LOGIC_FILES), *sorted((base / "rules").glob("*.yml"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


class ResultCache:
    """A small SQLite table: (scanner, version, logic, path, content hash) -> findings of that file."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._db = directory / "results.sqlite3"
        self._logic = logic_digest()
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, findings TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._db, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def key(self, scanner: str, version: str | None, rel: str, sha256: str) -> str:
        return hashlib.sha256(f"{scanner}\0{version}\0{self._logic}\0{rel}\0{sha256}".encode()).hexdigest()

    def get_many(self, keys: Iterable[str]) -> dict[str, list[Finding]]:
        wanted = list(keys)
        found: dict[str, list[Finding]] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, findings FROM results WHERE key IN ({marks})", chunk)  # noqa: S608 - only placeholders
                for key, blob in rows:
                    found[key] = [Finding.model_validate(item) for item in json.loads(blob)]
        return found

    def put_many(self, entries: dict[str, list[Finding]]) -> None:
        rows = [(k, json.dumps([f.model_dump() for f in v])) for k, v in entries.items()]
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO results (key, findings) VALUES (?, ?)", rows)
