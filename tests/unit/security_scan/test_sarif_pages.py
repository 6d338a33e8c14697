"""SARIF export in pages: every page a valid log within the budget, every result exactly once, baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from servers.security_scan.models import Finding, SarifPage, ScannerRun, ScanSummary, Severity
from servers.security_scan.sarif_ops import (
    FINGERPRINT_KEY,
    export_page,
    fingerprints_from_sarif,
    prepare_export,
    to_sarif,
)
from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from shared.errors import InvalidArgument, NotFound
from shared.output import OutputBudget
from shared.paging import CursorCodec

SCHEMA = json.loads((Path(__file__).parents[2] / "fixtures" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
SCOPE = "test-export"
CODEC = CursorCodec()
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")


def _summary() -> ScanSummary:
    return ScanSummary(
        scan_id="s1", target="/src", root="/src", duration_s=1.0, files_scanned=40, total=0, complete=False,
        scanners=[
            ScannerRun(name="bandit", status="ran", version="1.9.4"),
            ScannerRun(name="semgrep", status="ran", version="1.185.0"),  # ran, found nothing
            ScannerRun(name="shellcheck", status="cached", version="0.9.0"),
            ScannerRun(name="hadolint", status="unavailable"),
        ],
    )  # fmt: skip


def _findings(n: int) -> list[Finding]:
    """`n` findings from two scanners and a dozen rules, sorted worst first as a scan sorts them."""
    out = [
        Finding(
            id=f"fp{i:05d}",
            scanner="shellcheck" if i % 3 == 0 else "bandit",
            rule_id=f"R{i % 12}",
            severity=SEVERITIES[i % 5],
            category="injection",
            cwe=["CWE-78"] if i % 2 else [],
            path=f"pkg/mod{i % 40}.py",
            line=i + 1,
            message=f"finding {i}: " + "details " * (i % 9),
            snippet=f"call({i})",
            fix_hint="do not" if i % 4 else "",
            suppressed=i % 10 == 0,
            suppression_reason="planted" if i % 10 == 0 else None,
        )
        for i in range(n)
    ]
    order = {s: n for n, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda f: (order[f.severity], f.path, f.line))


def _page(findings: list[Finding], start: int = 0, *, items: int = 50, chars: int = 20_000) -> SarifPage:
    return export_page(
        prepare_export(_summary(), findings), start=start, max_items=items, max_chars=chars,
        cursor_for=lambda end: CODEC.encode(end, SCOPE),
    )  # fmt: skip


def _all_pages(findings: list[Finding], *, items: int = 50, chars: int = 20_000) -> list[SarifPage]:
    pages = [_page(findings, items=items, chars=chars)]
    while pages[-1].next_cursor is not None:
        assert len(pages) < 1000, "paging does not end"
        start = CODEC.decode(pages[-1].next_cursor, SCOPE)
        pages.append(_page(findings, start, items=items, chars=chars))
    return pages


def _order(findings: list[Finding]) -> list[str]:
    return [f.id for f in prepare_export(_summary(), findings).results]


def _fingerprints(page: SarifPage) -> list[str]:
    return [r["partialFingerprints"][FINGERPRINT_KEY] for run in page.sarif["runs"] for r in run["results"]]


def _size(page: SarifPage) -> int:
    return len(page.model_dump_json())


@pytest.mark.parametrize(("items", "chars"), [(50, 20_000), (200, 6_000), (7, 100_000), (50, 2_500)])
def test_paging_yields_every_result_once_each_page_a_valid_log_within_budget(items: int, chars: int) -> None:
    findings = _findings(400)
    pages = _all_pages(findings, items=items, chars=chars)
    seen = [fp for page in pages for fp in _fingerprints(page)]
    assert seen == _order(findings)  # each once, in export order
    assert len(pages) >= len(findings) / items
    for page in pages:
        VALIDATOR.validate(page.sarif)
        assert _size(page) <= chars
        assert 1 <= page.results <= items
        assert page.trimmed == []
        props = page.sarif["properties"]
        assert (props["firstResult"], props["lastResult"]) == (
            page.first_result,
            page.first_result + page.results - 1,
        )
        assert props["totalResults"] == page.total_results == len(findings)
        assert props["nextCursor"] == page.next_cursor
        assert page.truncated == (page.next_cursor is not None)
    assert pages[-1].next_cursor is None and pages[-1].note is None
    assert all(p.note and "next_cursor" in p.note for p in pages[:-1])


def test_each_run_lists_only_the_rules_its_results_reference_with_matching_indexes() -> None:
    for page in _all_pages(_findings(300), chars=8_000):
        for run in page.sarif["runs"]:
            rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
            assert len(rules) == len(set(rules))
            assert set(rules) == {r["ruleId"] for r in run["results"]} or not run["results"]
            for result in run["results"]:
                assert rules[result["ruleIndex"]] == result["ruleId"]


def test_scanners_that_found_nothing_appear_on_the_first_page_only() -> None:
    pages = _all_pages(_findings(300), chars=8_000)
    first = {run["tool"]["driver"]["name"]: run for run in pages[0].sarif["runs"]}
    assert first["semgrep"]["results"] == [] and first["semgrep"]["tool"]["driver"]["version"] == "1.185.0"
    assert list(first) == ["bandit", "semgrep"]  # in the scan's scanner order; hadolint did not run
    assert all("semgrep" not in {r["tool"]["driver"]["name"] for r in p.sarif["runs"]} for p in pages[1:])


def test_an_empty_export_is_one_valid_page_listing_the_scanners_that_ran() -> None:
    page = _page([])
    VALIDATOR.validate(page.sarif)
    assert (page.results, page.total_results, page.first_result, page.next_cursor) == (0, 0, 0, None)
    assert [run["tool"]["driver"]["name"] for run in page.sarif["runs"]] == [
        "bandit",
        "semgrep",
        "shellcheck",
    ]


def test_limit_bounds_the_page_and_the_note_names_the_reason() -> None:
    findings = _findings(100)
    by_items = _page(findings, items=3, chars=1_000_000)
    assert by_items.results == 3
    assert by_items.note is not None and "limit of 3 results" in by_items.note
    by_chars = _page(findings, items=200, chars=4_000)
    assert 1 < by_chars.results < 200
    assert by_chars.note is not None and "character budget" in by_chars.note


def test_a_result_larger_than_the_budget_is_trimmed_and_says_so() -> None:
    findings = _findings(5)
    huge = findings[2].model_copy(update={"message": "A" * 60_000, "fix_hint": "B" * 30_000})
    findings[2] = huge
    pages = _all_pages(findings, chars=4_000)
    assert [fp for p in pages for fp in _fingerprints(p)] == _order(findings)
    trimmed = next(p for p in pages if p.trimmed)
    assert trimmed.trimmed == [huge.id] and trimmed.results == 1
    assert _size(trimmed) <= 4_000
    VALIDATOR.validate(trimmed.sarif)
    result = trimmed.sarif["runs"][0]["results"][0]
    assert result["properties"]["trimmed"] is True
    assert "clipped" in result["message"]["text"] and len(result["message"]["text"]) < 4_000
    assert trimmed.note is not None and "scan_finding" in trimmed.note
    assert all(p.trimmed == [] for p in pages if p is not trimmed)


def test_a_budget_below_any_result_still_makes_progress_and_says_so() -> None:
    findings = _findings(3)
    pages = _all_pages(findings, chars=100)
    assert [p.results for p in pages] == [1, 1, 1]
    assert all(p.note is not None and "raise [output] max_chars" in p.note for p in pages)


@pytest.mark.parametrize("limit", [0, -1])
def test_the_engine_refuses_a_limit_below_one_before_anything_else(tmp_path: Path, limit: int) -> None:
    engine = ScanEngine(SecurityScanSettings(cache_dir=tmp_path))
    with pytest.raises(InvalidArgument, match="limit must be at least 1"):
        engine.sarif_page("no-such-scan", owner="alice", budget=OutputBudget(), cursor_for=str, limit=limit)
    with pytest.raises(NotFound, match="run scan_path first"):
        engine.sarif_page("no-such-scan", owner="alice", budget=OutputBudget(), cursor_for=str, limit=1)


def test_a_start_past_the_end_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="past the end"):
        _page(_findings(3), 4)


def test_the_whole_log_holds_the_same_results_as_the_pages() -> None:
    findings = _findings(200)
    whole = to_sarif(_summary(), findings)
    VALIDATOR.validate(whole)
    paged = [fp for page in _all_pages(findings, chars=5_000) for fp in _fingerprints(page)]
    assert [
        r["partialFingerprints"][FINGERPRINT_KEY] for run in whole["runs"] for r in run["results"]
    ] == paged


# --------------------------------------------------------------------------- baselines


def _active(findings: list[Finding]) -> set[str]:
    return {f.id for f in findings if not f.suppressed}


def test_a_baseline_of_every_page_as_a_list_in_any_order_gives_the_unsuppressed_fingerprints() -> None:
    findings = _findings(300)
    logs = [page.sarif for page in _all_pages(findings, chars=6_000)]
    assert len(logs) > 3
    assert fingerprints_from_sarif(logs[::-1]) == _active(findings)


def test_a_baseline_of_the_pages_runs_merged_into_one_log_is_accepted() -> None:
    findings = _findings(300)
    logs = [page.sarif for page in _all_pages(findings, chars=6_000)]
    merged = {**logs[0], "runs": [run for log in logs for run in log["runs"]]}
    VALIDATOR.validate(merged)
    assert fingerprints_from_sarif(merged) == _active(findings)


def test_a_baseline_missing_pages_is_refused_rather_than_reporting_them_as_new() -> None:
    findings = _findings(300)
    logs = [page.sarif for page in _all_pages(findings, chars=6_000)]
    with pytest.raises(InvalidArgument, match=r"holds \d+ of the 300 results"):
        fingerprints_from_sarif(logs[0])
    with pytest.raises(InvalidArgument, match="of the 300 results"):
        fingerprints_from_sarif(logs[:-1])


def test_a_baseline_mixing_two_exports_is_refused() -> None:
    findings = _findings(30)
    other = export_page(
        prepare_export(_summary().model_copy(update={"scan_id": "s2"}), findings), start=0, max_items=50,
        max_chars=50_000, cursor_for=lambda end: CODEC.encode(end, SCOPE),
    )  # fmt: skip
    with pytest.raises(InvalidArgument, match="different exports"):
        fingerprints_from_sarif([_page(findings, chars=50_000).sarif, other.sarif])


def test_a_foreign_log_without_page_properties_is_taken_as_it_is() -> None:
    findings = _findings(10)
    log = to_sarif(_summary(), findings)
    assert "properties" not in log
    assert fingerprints_from_sarif(log) == _active(findings)


@pytest.mark.parametrize(
    "document",
    [
        {},
        [],
        [{}],
        "2.1.0",
        {"scan_id": "s1", "sarif": {"version": "2.1.0", "runs": []}, "total_results": 0},  # the tool result
        {"version": "2.0.0", "runs": []},
        {"version": "2.1.0", "runs": {"results": []}},
        {"version": "2.1.0", "runs": [1]},
        {"version": "2.1.0", "runs": [{"results": "all"}]},
        {"version": "2.1.0", "runs": [{"results": [None]}]},
    ],
)
def test_what_is_not_a_sarif_log_is_refused(document: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"not a SARIF 2\.1\.0 log"):
        fingerprints_from_sarif(document)


def test_hostile_page_properties_are_refused_not_crashed_on() -> None:
    log = _page(_findings(3)).sarif
    log["properties"]["totalResults"] = "3; rm -rf /"
    with pytest.raises(InvalidArgument, match="results of export"):
        fingerprints_from_sarif(log)
    log["properties"]["totalResults"] = 3
    log["runs"][0]["results"][0]["partialFingerprints"] = ["not", "a", "dict"]
    with pytest.raises(InvalidArgument, match="holds 2 of the 3"):
        fingerprints_from_sarif(log)


def test_every_budget_from_tiny_to_large_is_kept_or_the_overrun_is_said() -> None:
    findings = _findings(40)
    for chars in range(100, 12_000, 397):
        pages = _all_pages(findings, chars=chars)
        assert [fp for p in pages for fp in _fingerprints(p)] == _order(findings)
        for page in pages:
            if _size(page) > chars:
                assert page.results == 1 and page.note is not None and "raise [output] max_chars" in page.note
            elif page.results > 1:
                assert not page.trimmed
