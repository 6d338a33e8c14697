"""Export a scan as SARIF 2.1.0 in pages: every page is a complete log (a run per scanner, only the
rules its results reference), cut to the output budget. Fingerprints and suppressions are carried over,
and a baseline for `scan_diff` is read back from one log or from every page of an export."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from servers.security_scan.models import COMPLETE_STATUSES, Finding, SarifPage, ScannerRun, ScanSummary
from shared.errors import InvalidArgument
from shared.output import clip

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "codeScanFingerprint/v1"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
# When one result alone is over the budget, its texts are cut to this many characters, halving down to
# the floor; below the floor the page goes out over the budget (and says so) rather than make no progress.
_TRIM_FLOOR = 40
_TEXTS = ("message", "snippet", "fix_hint")  # what trimming cuts, in the result and in its rule


# Each rule's first finding in the export: its descriptor is built from it, the same on every page.
Rules = dict[tuple[str, str], Finding]


@dataclass(frozen=True, slots=True)
class SarifExport:
    """A scan's results in export order with each rule's first finding: what every page is cut from."""

    summary: ScanSummary
    results: list[Finding]
    rules: Rules
    silent: list[str]  # scanners that ran and have no result in this export
    min_severity: str | None = None


def prepare_export(
    summary: ScanSummary, findings: Sequence[Finding], *, min_severity: str | None = None
) -> SarifExport:
    """The export of `findings`: grouped by scanner in the scan's scanner order (worst first inside),
    as pages hold them."""
    rank = {run.name: n for n, run in enumerate(summary.scanners)}
    ordered = sorted(findings, key=lambda f: rank.get(f.scanner, len(rank)))
    found = {f.scanner for f in ordered}
    silent = [name for name in _ran(summary) if name not in found]
    return SarifExport(summary, ordered, _rule_samples(ordered), silent, min_severity)


def to_sarif(summary: ScanSummary, findings: Sequence[Finding]) -> dict[str, Any]:
    """The whole scan as one SARIF log: a run per scanner that ran, each with all its results."""
    export = prepare_export(summary, findings)
    return _log(summary, export.results, export.rules, _ran(summary), properties=None)


def export_page(
    export: SarifExport, *, start: int, max_items: int, max_chars: int, cursor_for: Callable[[int], str]
) -> SarifPage:
    """The page of the export that starts at result `start` (0-based), as a complete SARIF log.

    It holds at most `max_items` results and, serialised as JSON, at most `max_chars` characters: it
    stops before the result that would go over. A result that alone is over the budget has its texts
    cut (marked `trimmed`), so every page makes progress. Scanners that ran and found nothing appear, as
    runs without results, on the first page.
    """
    summary, ordered, rules = export.summary, export.results, export.rules
    if not 0 <= start <= len(ordered):
        raise InvalidArgument("cursor is past the end of the export; call again without a cursor")
    silent = export.silent if start == 0 else []

    def build(page: list[Finding], descriptors: Rules, trimmed: list[str]) -> SarifPage:
        end = start + len(page)
        more = end < len(ordered)
        next_cursor = cursor_for(end) if more else None
        first = start + 1 if page else 0
        names = _in_scan_order(summary, [*silent, *(f.scanner for f in page)])
        properties = {
            "scanId": summary.scan_id,
            "minSeverity": export.min_severity,
            "firstResult": first,
            "lastResult": end,
            "totalResults": len(ordered),
            "nextCursor": next_cursor,
            "complete": summary.complete,  # false: some scanner failed or could not check every file
        }
        return SarifPage(
            scan_id=summary.scan_id,
            sarif=_log(summary, page, descriptors, names, properties=properties, trimmed=trimmed),
            total_results=len(ordered),
            first_result=first,
            results=len(page),
            next_cursor=next_cursor,
            truncated=more,
            trimmed=trimmed,
            note=_note(start, end, len(ordered), max_items, trimmed, more=more),
        )

    candidates = ordered[start : start + max_items]
    count = _largest(len(candidates), lambda n: _size(build(candidates[:n], rules, [])) <= max_chars)
    if count == 0 and candidates:
        report = _trim_to_fit(candidates[0], rules, max_chars, build)
    else:
        report = build(candidates[:count], rules, [])
    if (size := _size(report)) > max_chars:  # a budget below the smallest possible page
        overrun = f"This page needs {size} characters even at its smallest: raise [output] max_chars."
        report.note = f"{report.note} {overrun}" if report.note else overrun
    return report


def _largest(limit: int, fits: Callable[[int], bool]) -> int:
    """The largest n in 0..limit with `fits(n)`, for a `fits` that holds up to some n and not past it.

    Measuring the real page (a binary search: a handful of serialisations) keeps the budget exact
    where an estimate could drift with run, rule and cursor overheads."""
    if fits(limit):
        return limit
    low, high = 0, limit - 1
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _trim_to_fit(
    f: Finding,
    rules: Rules,
    max_chars: int,
    build: Callable[[list[Finding], Rules, list[str]], SarifPage],
) -> SarifPage:
    """The page of one result whose texts (message, snippet, fix hint, rule texts) are cut to fit."""
    key = (f.scanner, f.rule_id)
    limit = max_chars // 2
    while True:
        cut, short = (
            g.model_copy(update={name: clip(getattr(g, name), limit)[0] for name in _TEXTS})
            for g in (f, rules[key])
        )
        report = build([cut], {**rules, key: short}, [f.id])
        if _size(report) <= max_chars or limit <= _TRIM_FLOOR:
            return report
        limit = max(limit // 2, _TRIM_FLOOR)


def _note(start: int, end: int, total: int, max_items: int, trimmed: list[str], *, more: bool) -> str | None:
    parts = []
    if more:
        reason = "the character budget" if end - start < max_items else f"the limit of {max_items} results"
        parts.append(
            f"Showing results {start + 1}-{end} of {total} ({reason}). Each page is a complete SARIF log; "
            "call again with `cursor` set to next_cursor for the next. For a scan_diff baseline, save "
            "every page together (a JSON list of the logs)."
        )
    if trimmed:
        parts.append(
            f"Result {trimmed[0]} alone is larger than the output budget: its message, snippet and rule "
            "texts were cut (properties.trimmed=true); scan_finding shows it in full."
        )
    return " ".join(parts) or None


def _size(value: object) -> int:
    return len(to_json(value, fallback=str))


def _in_scan_order(summary: ScanSummary, names: Sequence[str]) -> list[str]:
    rank = {run.name: n for n, run in enumerate(summary.scanners)}
    return sorted(set(names), key=lambda name: (rank.get(name, len(rank)), name))


# Scanners that were run: each has a SARIF run, whose invocation says whether it checked everything.
_ATTEMPTED = ("ran", "cached", "partial", "failed", "timed_out")


def _ran(summary: ScanSummary) -> list[str]:
    return [run.name for run in summary.scanners if run.status in _ATTEMPTED]


def _invocation(run: ScannerRun | None) -> dict[str, Any]:
    ok = run is not None and run.status in COMPLETE_STATUSES
    invocation: dict[str, Any] = {"executionSuccessful": ok}
    if run is not None and not ok:
        text = f"{run.name} {run.status}: {run.detail or 'no detail'}"
        invocation["toolExecutionNotifications"] = [{"level": "error", "message": {"text": text}}]
    return invocation


def _rule_samples(findings: Sequence[Finding]) -> Rules:
    rules: Rules = {}
    for f in findings:
        rules.setdefault((f.scanner, f.rule_id), f)
    return rules


def _descriptor(sample: Finding) -> dict[str, Any]:
    """The SARIF reportingDescriptor of a rule, from its first finding in the export."""
    entry: dict[str, Any] = {
        "id": sample.rule_id,
        "shortDescription": {"text": sample.message[:200] or sample.rule_id},
        "defaultConfiguration": {"level": _LEVEL[sample.severity]},
        "properties": {"tags": ["security", sample.category, *sample.cwe]},
    }
    if sample.fix_hint:
        entry["help"] = {"text": sample.fix_hint}
    if sample.help_url:
        entry["helpUri"] = sample.help_url
    return entry


def _log(
    summary: ScanSummary,
    findings: Sequence[Finding],
    rules: Rules,
    scanners: Sequence[str],
    *,
    properties: dict[str, Any] | None,
    trimmed: Sequence[str] = (),
) -> dict[str, Any]:
    """A SARIF log of `findings` with a run per scanner in `scanners`, each with only its rules."""
    versions = {run.name: run.version or "unknown" for run in summary.scanners}
    by_name = {run.name: run for run in summary.scanners}
    runs = []
    for name in scanners:
        mine = [f for f in findings if f.scanner == name]
        rule_ids = list(dict.fromkeys(f.rule_id for f in mine))
        index = {rule: n for n, rule in enumerate(rule_ids)}
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": name,
                    "version": versions.get(name, "unknown"),
                    "rules": [_descriptor(rules[(name, rule)]) for rule in rule_ids],
                }
            },
            "invocations": [_invocation(by_name.get(name))],
            "originalUriBaseIds": {"SRCROOT": {"uri": _dir_uri(summary.root)}},
            "results": [_result(f, index[f.rule_id], trimmed=f.id in trimmed) for f in mine],
            "columnKind": "unicodeCodePoints",
        }
        runs.append(run)
    log: dict[str, Any] = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
    if properties is not None:
        log["properties"] = properties
    return log


def _dir_uri(root: str) -> str:
    uri = Path(root).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _result(f: Finding, rule_index: int, *, trimmed: bool = False) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": f.path, "uriBaseId": "SRCROOT"}}
    if f.line > 0:
        region: dict[str, Any] = {"startLine": f.line}
        if f.snippet:
            region["snippet"] = {"text": f.snippet}
        location["region"] = region
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message or f.rule_id},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {FINGERPRINT_KEY: f.id},
        "properties": {
            "severity": f.severity,
            "security-severity": _SCORE[f.severity],
            "category": f.category,
        },
    }
    if f.cwe:
        result["properties"]["cwe"] = f.cwe
    if trimmed:
        result["properties"]["trimmed"] = True
    if f.suppressed:
        result["suppressions"] = [{"kind": "external", "justification": f.suppression_reason or ""}]
    return result


def fingerprints_from_sarif(document: Any) -> set[str]:
    """The fingerprints of the unsuppressed results of a baseline exported by `scan_export_sarif`.

    `document` is one SARIF log, or a JSON list of logs (the pages of one export, in any order); pages'
    runs may also have been merged into one log. It must hold the whole export: when its page
    properties say the export had more results than the document holds, it is refused, since every
    missing result would show up as new. Logs without page properties (other tools) are taken as they are.
    """
    logs = document if isinstance(document, list) else [document]
    if not logs:
        raise InvalidArgument(_NOT_SARIF)
    results = [result for log in logs for run in _runs(log) for result in _results(run)]
    held: set[str] = set()
    active: set[str] = set()
    for result in results:
        fingerprints = result.get("partialFingerprints")
        fp = fingerprints.get(FINGERPRINT_KEY) if isinstance(fingerprints, dict) else None
        if isinstance(fp, str) and fp:
            held.add(fp)
            if not result.get("suppressions"):
                active.add(fp)
    exports = {
        (str(props.get("scanId")), str(props.get("minSeverity")), props["totalResults"])
        for log in logs
        if isinstance(props := log.get("properties"), dict) and "totalResults" in props
    }
    if len(exports) > 1:
        raise InvalidArgument("the baseline mixes pages of different exports: save the pages of one export")
    for scan_id, _, total in exports:
        if not isinstance(total, int) or len(held) < total:
            raise InvalidArgument(
                f"the baseline holds {len(held)} of the {total} results of export {scan_id}: save every "
                "page (follow next_cursor) as a JSON list of the logs, or merge their runs into one log"
            )
    return active


_NOT_SARIF = "not a SARIF 2.1.0 log or a JSON list of them: save the `sarif` field of every export page"


def _runs(log: Any) -> list[dict[str, Any]]:
    runs = log.get("runs") if isinstance(log, dict) and log.get("version") == "2.1.0" else None
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise InvalidArgument(_NOT_SARIF)
    return runs


def _results(run: dict[str, Any]) -> list[dict[str, Any]]:
    results = run.get("results") or []
    if not isinstance(results, list) or not all(isinstance(result, dict) for result in results):
        raise InvalidArgument(_NOT_SARIF)
    return results
