"""Which suppression entries a scan applies: the operator's file always, the project's only when trusted.

A scanned project is not trusted: its `.security-scan.toml` is read and counted, and applied only
when the scanned root lies inside `[security_scan] trusted_roots`. Even then, and in the operator's
file too, an entry that would hide everything (rule `*` with a path glob matching every path, or
rule-`*` entries that together cover every file of the tree) is refused as an error.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from servers.security_scan.models import Finding
from servers.security_scan.tree_ops import read_regular_file

MAX_SUPPRESSION_BYTES = 1024 * 1024
# A rule-"*" glob that matches all of these matches every path a scan can report.
_ANY_PATHS = ("a", "Z", "0", "_", "-", ".x", "x y", "é", "a/b", "deep/er/path/file.name", ".h/.i")


@dataclass(frozen=True, slots=True)
class Suppression:
    reason: str
    rule: str | None = None
    fingerprint: str | None = None
    path: str | None = None
    source: str = ""  # which file and entry, for error messages

    def covers(self, finding: Finding) -> bool:
        if self.fingerprint is not None:
            return finding.id == self.fingerprint
        if self.path is not None and not fnmatch.fnmatchcase(finding.path, self.path):
            return False
        return self.rule in ("*", finding.rule_id)

    @property
    def any_rule(self) -> bool:
        return self.fingerprint is None and self.rule == "*"


@dataclass(slots=True)
class SuppressionPlan:
    """The entries a scan applies, and what it says about those it did not."""

    rules: list[Suppression] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    trusted: bool = False
    ignored: int = 0
    note: str | None = None


def is_trusted(root: Path, trusted_roots: Iterable[Path]) -> bool:
    """True when `root` (resolved) is one of `trusted_roots` or inside one (each resolved)."""
    real = root.resolve()
    for trusted in trusted_roots:
        base = trusted.expanduser().resolve()
        if real == base or base in real.parents:
            return True
    return False


def parse_suppressions(text: str, label: str) -> tuple[list[Suppression], list[str], int]:
    """Entries of a suppression file, errors for the entries refused, and how many entries it has.

    Entries without a reason, without a rule or fingerprint, and rule-`*` entries without a path glob
    or with a glob that matches every path are refused.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [f"{label}: cannot be read as TOML ({exc}); no suppression applied"], 0
    entries = data.get("suppress", [])
    if not isinstance(entries, list):
        return [], [f"{label}: 'suppress' must be an array of tables ([[suppress]])"], 0
    rules, errors = [], []
    for n, entry in enumerate(entries, 1):
        where = f"{label} entry {n}"
        if not isinstance(entry, dict):
            errors.append(f"{where}: not a table")
            continue
        reason = str(entry.get("reason", "")).strip()
        rule, fp, path = entry.get("rule"), entry.get("fingerprint"), entry.get("path")
        if not reason:
            errors.append(f"{where}: a reason is required; entry ignored")
        elif not rule and not fp:
            errors.append(f"{where}: give a rule or a fingerprint; entry ignored")
        elif rule == "*" and not fp and not path:
            errors.append(f"{where}: rule '*' needs a path glob; entry ignored")
        elif rule == "*" and not fp and matches_every_path(str(path)):
            errors.append(
                f"{where}: rule '*' with path {str(path)[:80]!r} would hide every finding; refused "
                "(name a rule, a fingerprint or a narrower path such as 'tests/fixtures/*')"
            )
        else:
            rules.append(
                Suppression(
                    reason=reason,
                    rule=str(rule) if rule else None,
                    fingerprint=str(fp) if fp else None,
                    path=str(path) if path else None,
                    source=where,
                )
            )
    return rules, errors, len(entries)


def matches_every_path(glob: str) -> bool:
    """True for a glob such as `*`, `**`, `?*` or `[!/]*` that matches any relative path."""
    pattern = re.compile(fnmatch.translate(glob))
    return all(pattern.match(p) for p in _ANY_PATHS)


def refuse_blanket(rules: list[Suppression], paths: Sequence[str]) -> tuple[list[Suppression], list[str]]:
    """Refuse the rule-`*` entries when together they cover every file of the scanned tree."""
    blanket = [r for r in rules if r.any_rule]
    if not blanket or not paths:
        return rules, []
    if not all(any(fnmatch.fnmatchcase(p, r.path or "") for r in blanket) for p in paths):
        return rules, []
    names = ", ".join(r.source for r in blanket)
    error = f"{names}: rule '*' entries that together cover every scanned file would hide everything; refused"
    return [r for r in rules if not r.any_rule], [error]


def plan(
    root: Path,
    paths: Sequence[str],
    *,
    file_name: str,
    trusted_roots: Sequence[Path],
    operator_file: Path | None,
) -> SuppressionPlan:
    """The suppressions a scan of `root` applies (`paths`: the relative paths of the files scanned)."""
    result = SuppressionPlan(trusted=is_trusted(root, trusted_roots))
    if operator_file is not None:
        label = f"operator suppressions {operator_file}"
        try:
            text = operator_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.errors.append(f"{label}: cannot be read ({type(exc).__name__}); none applied")
        else:
            rules, errors, _ = parse_suppressions(text, label)
            result.rules += rules
            result.errors += errors
    project = _read_project_file(root / file_name, result)
    if project is not None:
        rules, errors, count = parse_suppressions(project, file_name)
        if result.trusted:
            result.rules += rules
            result.errors += errors
        else:
            result.ignored = count
            result.note = (
                f"the project's {file_name} was not applied: this tree is not in [security_scan] "
                f"trusted_roots ({count} entr{'y' if count == 1 else 'ies'} ignored)"
            )
    result.rules, blanket = refuse_blanket(result.rules, paths)
    result.errors += blanket
    return result


def _read_project_file(path: Path, result: SuppressionPlan) -> str | None:
    if not path.exists() and not path.is_symlink():
        return None
    data = read_regular_file(path, MAX_SUPPRESSION_BYTES)
    if data is None:
        result.errors.append(
            f"{path.name}: not a regular file of at most {MAX_SUPPRESSION_BYTES} bytes (a symlink, "
            "a special file or too large); not read"
        )
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        result.errors.append(f"{path.name}: not UTF-8; not read")
        return None


def apply_suppressions(findings: list[Finding], rules: list[Suppression]) -> list[Finding]:
    out = []
    for f in findings:
        match = next((r for r in rules if r.covers(f)), None)
        out.append(
            f.model_copy(update={"suppressed": True, "suppression_reason": match.reason}) if match else f
        )
    return out
