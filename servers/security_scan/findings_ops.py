"""Turn raw scanner output into normalised findings: stable fingerprints, redacted snippets."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from servers.security_scan.models import Finding
from servers.security_scan.scanner_specs import RawFinding
from shared.redaction import REDACTED, redact_text

SNIPPET_CHARS = 200
_SPACE = re.compile(r"\s+")
_QUOTED = re.compile(r"(['\"])(?:(?!\1).){4,}\1")
_ASSIGNED = re.compile(r"([:=]\s*)[\w+/.~=-]{8,}")


def redact(text: str, *, secret_line: bool = False) -> str:
    """The suite's redaction (`shared.redaction`); on a line a secret scanner flagged, every quoted
    or assigned value is masked too (the scanner saw a secret there, whatever its shape)."""
    text = redact_text(text)
    if secret_line:
        text = _QUOTED.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(1)}", text)
        text = _ASSIGNED.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


def normalise_text(line: str) -> str:
    return _SPACE.sub(" ", line).strip()


def fingerprint(scanner: str, rule_id: str, rel: str, context: str, occurrence: int) -> str:
    """Independent of line numbers: the same issue in the same file keeps its id when code moves."""
    key = "\0".join((scanner, rule_id, rel, context, str(occurrence)))
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class _Lines:
    def __init__(self) -> None:
        self._cache: dict[Path, list[str]] = {}

    def get(self, path: Path) -> list[str]:
        if path not in self._cache:
            try:
                self._cache[path] = path.read_text("utf-8", "replace").splitlines()
            except OSError:
                self._cache[path] = []
        return self._cache[path]


def normalise(scanner: str, raws: Iterable[RawFinding], files: dict[str, tuple[Path, str]]) -> list[Finding]:
    """Map raw findings of one scanner onto `Finding`s.

    Args:
        scanner: scanner name.
        raws: its raw findings.
        files: every path spelling the scanner may report (absolute path) -> (real path, relative path).
    """
    lines = _Lines()
    staged: list[tuple[RawFinding, str, int, str]] = []
    for raw in raws:
        entry = files.get(raw.path)
        if entry is None:
            continue  # a file the scan did not hand over (cannot happen with explicit file lists)
        path, rel = entry
        text = lines.get(path)
        line = raw.line
        if raw.locate and raw.end_line >= raw.line:
            pattern = re.compile(raw.locate)
            for n in range(max(raw.line, 1), min(raw.end_line, len(text)) + 1):
                if pattern.search(text[n - 1]):
                    line = n
                    break
        source_line = text[line - 1] if 0 < line <= len(text) else ""
        staged.append((raw, rel, line, source_line))
    staged.sort(key=lambda s: (s[1], s[2], s[0].rule_id))
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for raw, rel, line, source_line in staged:
        context = raw.context if raw.context else normalise_text(source_line)
        seen[(raw.rule_id, rel, context)] += 1
        snippet = redact(normalise_text(source_line), secret_line=raw.category == "secrets")
        out.append(
            Finding(
                id=fingerprint(scanner, raw.rule_id, rel, context, seen[(raw.rule_id, rel, context)]),
                scanner=scanner,
                rule_id=raw.rule_id,
                severity=raw.severity
                if raw.severity in ("info", "low", "medium", "high", "critical")
                else "low",
                category=raw.category,
                cwe=list(raw.cwe),
                path=rel,
                line=line,
                message=redact(raw.message),
                snippet=snippet[:SNIPPET_CHARS],
                fix_hint=raw.fix_hint,
                help_url=raw.help_url,
            )
        )
    return out
