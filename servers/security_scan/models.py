"""Inputs and outputs of the security-scan tools; descriptions are written for the model."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
ScannerName = Literal[
    "bandit", "semgrep", "detect-secrets", "checkov", "hadolint", "shellcheck", "dependencies", "licenses"
]
ScannerStatus = Literal[
    "ran", "cached", "partial", "no_files", "unavailable", "failed", "timed_out", "cancelled"
]
# A scanner in one of these states checked everything it was given.
COMPLETE_STATUSES = frozenset({"ran", "cached", "no_files"})


def at_least(severity: str, minimum: str | None) -> bool:
    """True when `severity` is `minimum` or worse (no minimum: always)."""
    return minimum is None or SEVERITY_ORDER[severity] >= SEVERITY_ORDER[minimum]


class Finding(BaseModel):
    """One normalised issue found by a scanner."""

    default_columns: ClassVar[tuple[str, ...]] = ("id", "severity", "rule_id", "path", "line", "message")

    id: str = Field(description="Stable fingerprint: same issue, same id across runs and line shifts.")
    scanner: str = Field(description="Scanner that reported it.")
    rule_id: str = Field(description="Scanner's rule or check id, e.g. B602, CKV_K8S_16, DL3007, SC2086.")
    severity: Severity = Field(description="Normalised severity: info < low < medium < high < critical.")
    category: str = Field(description="Kind of issue: injection, crypto, secrets, container, kubernetes, ...")
    cwe: list[str] = Field(default_factory=list, description="CWE ids where known, e.g. CWE-78.")
    path: str = Field(description="File path relative to the scanned root.")
    line: int = Field(description="1-based line of the issue (0 when the issue is about the whole file).")
    message: str = Field(description="What is wrong.")
    snippet: str = Field(default="", description="The offending line, with any secret redacted.")
    fix_hint: str = Field(default="", description="How to fix it.")
    help_url: str | None = Field(default=None, description="Documentation of the rule.")
    suppressed: bool = Field(
        default=False,
        description="True when a suppression entry covers it: the operator's file, or the project's own "
        "file in a trusted tree. Inline pragmas (# nosec, nosemgrep, ...) never suppress.",
    )
    suppression_reason: str | None = Field(default=None, description="Reason given in the suppression file.")


class ScannerRun(BaseModel):
    """How one scanner fared in a scan."""

    name: str
    status: ScannerStatus = Field(
        description="ran, cached (results reused), partial (ran, but could not check everything: its "
        "findings are kept, the scan is incomplete), no_files, unavailable, failed, timed_out."
    )
    version: str | None = None
    files: int = Field(default=0, description="Files handed to this scanner.")
    cached_files: int = Field(default=0, description="Files whose results came from the content-hash cache.")
    findings: int = 0
    duration_s: float = 0.0
    detail: str | None = Field(
        default=None,
        description="Why it was unavailable, failed, timed out or partial: the scanner's own error text "
        "(redacted, bounded).",
    )
    file_errors: list[str] = Field(
        default_factory=list,
        description="Files this scanner could not fully check, with its reason (the first few).",
    )
    file_error_count: int = Field(default=0, description="Files this scanner could not fully check, in all.")


class ScannerProblem(BaseModel):
    """A scanner whose results are missing or partial, which makes the scan incomplete."""

    name: str
    status: ScannerStatus
    reason: str = Field(description="What went wrong, from the scanner's own output.")


class ScanSummary(BaseModel):
    """The outcome of `scan_path`; page through findings with `scan_findings(scan_id)`."""

    scan_id: str = Field(description="Pass to scan_findings, scan_diff, scan_export_sarif.")
    target: str = Field(description="What was scanned (resolved path).")
    root: str = Field(description="Directory finding paths are relative to.")
    duration_s: float
    files_scanned: int
    complete: bool = Field(
        description="False when a scanner failed, timed out, was unavailable or could not check some "
        "files: the findings are then a lower bound, never a clean result. See failed_scanners."
    )
    failed_scanners: list[ScannerProblem] = Field(
        default_factory=list, description="Scanners that did not check everything, and why."
    )
    skipped: dict[str, int] = Field(
        default_factory=dict,
        description="Files left out before any scanner saw them, by reason: symlink, symlink_escape, "
        "broken_symlink, symlink_dir, special_file, too_large, binary, unreadable, unreadable_dir, too_deep.",
    )
    skipped_paths: dict[str, list[str]] = Field(
        default_factory=dict, description="The first few relative paths left out, by reason."
    )
    scanners: list[ScannerRun]
    total: int = Field(description="Findings at or above min_severity, suppressed ones excluded.")
    by_severity: dict[str, int] = Field(default_factory=dict)
    by_scanner: dict[str, int] = Field(default_factory=dict)
    by_category: dict[str, int] = Field(default_factory=dict)
    suppressed: int = Field(default=0, description="Findings covered by a suppression entry (still listed).")
    trusted: bool = Field(
        default=False,
        description="True when the scanned root is inside [security_scan] trusted_roots, so the project's "
        "own suppression file applies.",
    )
    suppressions_ignored: int = Field(
        default=0,
        description="Entries of the project's suppression file not applied: the tree is not trusted.",
    )
    suppression_note: str | None = Field(
        default=None, description="Why the project's suppression file was not applied, when it was not."
    )
    suppression_errors: list[str] = Field(
        default_factory=list,
        description="Suppression entries refused: invalid, or so broad they would hide everything.",
    )


class FindingDiff(BaseModel):
    """Findings new, fixed and unchanged between a baseline and a scan (suppressed ones excluded)."""

    scan_id: str
    baseline: str
    new: list[Finding] = Field(description="In the scan, not in the baseline (bounded; see new_total).")
    new_total: int
    fixed: list[str] = Field(description="Fingerprints in the baseline that the scan no longer reports.")
    fixed_total: int
    unchanged_total: int
    truncated: bool = False


class ScannerInfo(BaseModel):
    """Whether a scanner can run here."""

    name: str
    available: bool
    version: str | None = None
    path: str | None = None
    detail: str | None = None


class ScannerList(BaseModel):
    """Every scanner the server knows, installed or not."""

    scanners: list[ScannerInfo]


class Dependency(BaseModel):
    """A dependency declared by the project."""

    name: str
    version: str | None = Field(default=None, description="Pinned or locked version; null when unpinned.")
    source: str = Field(description="File it was declared in, relative to the scanned root.")
    line: int = 0


class Advisory(BaseModel):
    """A known vulnerability affecting a pinned dependency."""

    package: str
    installed_version: str
    affected: str = Field(description="Affected version range, e.g. '<2.10.1' or '>=4.0.0 <4.17.21'.")
    fixed_versions: list[str] = Field(default_factory=list, description="First versions outside the range.")
    ids: list[str] = Field(
        description="Advisory ids: the record's own id first, then its aliases (CVE, GHSA)."
    )
    summary: str
    source: str = Field(description="Where the advisory came from and how fresh it is: osv-api, osv-export, "
                        "safety-db, with the date of the data.")  # fmt: skip
    file: str
    line: int = 0
    ecosystem: str = Field(default="PyPI", description="OSV ecosystem: PyPI, npm, Go, crates.io, Maven, ...")
    purl: str = Field(default="", description="Package URL of the affected package.")
    severity: Severity = Field(default="high", description="Normalised severity of the advisory.")
    severity_source: str = Field(
        default="", description="Where the severity came from: the database's rating, a CVSS score, or none."
    )
    source_date: str | None = Field(
        default=None, description="Date of the advisory data used (export or snapshot date, or fetch time)."
    )


class AdvisorySourceUse(BaseModel):
    """Which advisory source answered for one ecosystem's dependencies."""

    ecosystem: str
    dependencies: int
    source: str | None = Field(description="osv-api, osv-export or safety-db; null when none covers it.")
    date: str | None = Field(default=None, description="How fresh that source's data is.")
    note: str | None = Field(default=None, description="Fresher sources that failed or do not cover it.")


class DependencyReport(BaseModel):
    """Dependency advisories for a project."""

    path: str
    files: list[str] = Field(description="Dependency files read.")
    dependencies: int
    unpinned: list[str] = Field(default_factory=list, description="Dependencies without a version to check.")
    advisories: list[Advisory]
    database: str = Field(description="Advisory sources used and their dates.")
    truncated: bool = False
    ecosystems: dict[str, int] = Field(default_factory=dict, description="Dependencies per ecosystem.")
    sources: list[AdvisorySourceUse] = Field(
        default_factory=list, description="Per ecosystem: the freshest configured source that answered."
    )
    unchecked: list[str] = Field(
        default_factory=list,
        description="name@version pairs no advisory could be evaluated for (version unreadable in the "
        "ecosystem's ordering, or no source covers the ecosystem): not known to be safe.",
    )


class SarifPage(BaseModel):
    """One page of a scan's SARIF 2.1.0 export; call again with `cursor=next_cursor` for the next."""

    scan_id: str
    sarif: dict[str, Any] = Field(
        description="A complete SARIF 2.1.0 log holding this page's results: a run per scanner on the page "
        "(scanners that found nothing: on the first page), only the rules these results reference, and "
        "`properties` with scanId, firstResult, lastResult, totalResults and nextCursor."
    )
    total_results: int = Field(description="Results in the whole export, across all pages.")
    first_result: int = Field(description="1-based position of this page's first result (0 when none).")
    results: int = Field(description="Results on this page.")
    next_cursor: str | None = Field(default=None, description="Cursor for the next page; null at the end.")
    truncated: bool = Field(default=False, description="True when more pages follow.")
    trimmed: list[str] = Field(
        default_factory=list,
        description="Fingerprints of results whose texts were cut to fit the output budget "
        "(see scan_finding for them in full).",
    )
    note: str | None = Field(default=None, description="Why the page stops where it does and how to go on.")


class LicenseEntry(BaseModel):
    """One component's licence and what the policy says of it."""

    name: str
    version: str | None
    ecosystem: str
    license: str | None = Field(
        description="SPDX expression; null when the files do not state one in SPDX terms."
    )
    verdict: Literal["allowed", "denied", "not_allowed", "unknown", "no_policy"] = Field(
        description="allowed, denied (only usable under a denied licence), not_allowed (outside "
        "license_allowed), unknown (no SPDX licence stated), no_policy (no policy configured)."
    )
    source: str = Field(description="File (or image path) the component was found in.")


class LicenseReport(BaseModel):
    """The licence inventory of a project's dependencies under the configured policy."""

    path: str
    components: int
    by_verdict: dict[str, int]
    by_license: dict[str, int] = Field(description="Components per licence expression ('unknown' for none).")
    allowed: list[str] = Field(description="The policy's allowed SPDX ids (empty: any not denied).")
    denied: list[str] = Field(description="The policy's denied SPDX ids.")
    items: list[LicenseEntry] = Field(description="Components, worst verdict first (bounded: see truncated).")
    truncated: bool = False


class Sbom(BaseModel):
    """A CycloneDX 1.5 JSON SBOM of the project's declared dependencies."""

    path: str
    components: int
    bom: dict[str, Any] = Field(description="The CycloneDX document.")


class ImageScan(BaseModel):
    """The outcome of `scan_image`; page through its findings with `scan_findings(scan_id)`."""

    scan_id: str = Field(description="Pass to scan_findings, scan_finding, scan_diff, scan_export_sarif.")
    image: str = Field(description="The image as asked for.")
    image_id: str = Field(description="The engine's content id of the image (sha256 of its config).")
    repo_digests: list[str] = Field(default_factory=list, description="name@sha256 digests the engine knows.")
    os: str | None = Field(
        default=None, description="Distribution and release from os-release, e.g. 'debian 12'."
    )
    layers: int
    entries: int = Field(description="Files, folders and links in all layers.")
    packages: dict[str, int] = Field(
        description="Packages found per ecosystem (Debian:12, PyPI, npm, Go, ...)."
    )
    user: str = Field(description="The user the image runs as ('' means root).")
    complete: bool = Field(
        description="False when something could not be inventoried or matched (an rpm database, an "
        "ecosystem no advisory source covers, a fresher source that failed): not a clean result then."
    )
    problems: list[str] = Field(default_factory=list, description="What made the scan incomplete.")
    sources: list[AdvisorySourceUse] = Field(
        default_factory=list, description="Advisory source per ecosystem."
    )
    total: int = Field(description="Findings (vulnerabilities, misconfigurations, licences).")
    by_severity: dict[str, int] = Field(default_factory=dict)
    by_category: dict[str, int] = Field(default_factory=dict)
    refused_entries: int = Field(default=0, description="Layer entries refused (absolute or ../ names).")
    attestation: str | None = Field(
        default=None,
        description="Signed token of this result for the deployment server's image gate (when "
        "[security_scan] gate_key_file is set); pass it as the apply's image_scans argument.",
    )
    sbom: dict[str, Any] | None = Field(default=None, description="CycloneDX 1.5 SBOM (when include_sbom).")
    duration_s: float = 0.0
