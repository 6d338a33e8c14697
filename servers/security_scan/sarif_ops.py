"""Export a scan as SARIF 2.1.0: one run per scanner, fingerprints and suppressions carried over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servers.security_scan.models import Finding, ScanSummary

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "codeScanFingerprint/v1"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def to_sarif(summary: ScanSummary, findings: list[Finding]) -> dict[str, Any]:
    runs = []
    for run in summary.scanners:
        if run.status not in ("ran", "cached"):
            continue
        mine = [f for f in findings if f.scanner == run.name]
        rule_ids = sorted({f.rule_id for f in mine})
        index = {rule: n for n, rule in enumerate(rule_ids)}
        first = {rule: next(f for f in mine if f.rule_id == rule) for rule in rule_ids}
        rules = []
        for rule in rule_ids:
            sample = first[rule]
            entry: dict[str, Any] = {
                "id": rule,
                "shortDescription": {"text": sample.message[:200] or rule},
                "defaultConfiguration": {"level": _LEVEL[sample.severity]},
                "properties": {"tags": ["security", sample.category, *sample.cwe]},
            }
            if sample.fix_hint:
                entry["help"] = {"text": sample.fix_hint}
            if sample.help_url:
                entry["helpUri"] = sample.help_url
            rules.append(entry)
        results = [_result(f, index[f.rule_id]) for f in mine]
        runs.append(
            {
                "tool": {"driver": {"name": run.name, "version": run.version or "unknown", "rules": rules}},
                "originalUriBaseIds": {"SRCROOT": {"uri": _dir_uri(summary.root)}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        )
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def _dir_uri(root: str) -> str:
    uri = Path(root).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
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
    if f.suppressed:
        result["suppressions"] = [{"kind": "external", "justification": f.suppression_reason or ""}]
    return result


def fingerprints_from_sarif(document: dict[str, Any]) -> set[str]:
    """The fingerprints of the unsuppressed results of a SARIF log this server exported."""
    out = set()
    for run in document.get("runs", []):
        for result in run.get("results", []):
            fp = result.get("partialFingerprints", {}).get(FINGERPRINT_KEY)
            if fp and not result.get("suppressions"):
                out.add(str(fp))
    return out
