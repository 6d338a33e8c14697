"""Run the scanners over a tree concurrently, normalise, suppress, cache, and keep finished scans.

Every scan belongs to the identity that ran it (`owner`): reading a scan, a finding, a diff or a SARIF
page of another owner's scan gets the same "unknown scan" answer as an id that never existed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from servers.security_scan import sarif_ops
from servers.security_scan.audit_ops import DependencyAudit
from servers.security_scan.cache_ops import ResultCache
from servers.security_scan.external_ops import RunPlace, run_external
from servers.security_scan.image_ops import ImageScanner
from servers.security_scan.license_ops import LicensePolicy, inventory, license_findings
from servers.security_scan.manifest_ops import read_dependencies
from servers.security_scan.models import (
    COMPLETE_STATUSES,
    SEVERITY_ORDER,
    DependencyReport,
    Finding,
    FindingDiff,
    ImageScan,
    LicenseReport,
    SarifPage,
    Sbom,
    ScannerProblem,
    ScannerRun,
    ScanSummary,
    at_least,
)
from servers.security_scan.process_ops import ProcessTimeout
from servers.security_scan.sbom_ops import cyclonedx
from servers.security_scan.scanner_specs import NEUTRAL_CONFIGS, SCANNERS
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.suppression_ops import apply_suppressions, plan
from servers.security_scan.toolchain_ops import Toolchain
from servers.security_scan.tree_ops import Limits, Tree, collect
from shared.errors import InvalidArgument, NotFound
from shared.output import OutputBudget

ProgressFn = Callable[[float, float, str], Awaitable[None]]
ALL_SCANNERS = (*SCANNERS, "dependencies", "licenses")
TOOL_VERSION = "0.1.0"
BASELINE_MAX_BYTES = 64 * 1024 * 1024  # a SARIF baseline is read whole into memory
EXPORTS_KEPT = 8  # SARIF exports being paged, kept in export order
STALE_STAGING_S = 24 * 3600  # staging folders left by a process that died are removed after this


@dataclass(slots=True)
class ScanRecord:
    owner: str
    summary: ScanSummary
    findings: list[Finding]


class ScanEngine:
    """Everything the security-scan tools do, with no knowledge of MCP."""

    def __init__(self, settings: SecurityScanSettings, *, toolchain: Toolchain | None = None) -> None:
        self.settings = settings
        self.toolchain = toolchain or Toolchain(
            settings.tool_paths, settings.resolved_venv(), enabled=settings.enabled
        )
        base = settings.resolved_cache_dir()
        self.cache = ResultCache(base)
        # Scanners run from an empty folder, not the scanned tree, and read the staged snapshot, so a
        # project's own .semgrepignore, .checkov.yaml, .hadolint.yaml or .shellcheckrc is never found.
        self.workdir = base / "workdir"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_dir = base / "scanner-config"
        self.config_dir.mkdir(exist_ok=True)
        for name, text in NEUTRAL_CONFIGS.items():
            (self.config_dir / name).write_text(text)
        self.staging = base / "staging"
        self.staging.mkdir(mode=0o700, exist_ok=True)
        _remove_stale(self.staging)
        self._scans: OrderedDict[str, ScanRecord] = OrderedDict()
        self.audit = DependencyAudit(settings)
        self.license_policy = LicensePolicy(
            frozenset(settings.license_allowed), frozenset(settings.license_denied)
        )
        self.images = ImageScanner(settings, self.audit, self.staging)
        self._exports: OrderedDict[tuple[str, str | None], sarif_ops.SarifExport] = OrderedDict()

    # -- scanning ------------------------------------------------------------------------------------------
    async def scan(
        self,
        target: Path,
        *,
        owner: str,
        scanners: Sequence[str] | None = None,
        min_severity: str | None = None,
        progress: ProgressFn | None = None,
    ) -> ScanSummary:
        """Scan `target` (already allowed by the policy) for `owner`, the identity that asks.

        Raises:
            InvalidArgument: an unknown scanner, or a target that cannot be scanned.
        """
        chosen = (
            list(dict.fromkeys(scanners))
            if scanners
            else [s for s in ALL_SCANNERS if s in self.settings.enabled]
        )
        unknown = [s for s in chosen if s not in ALL_SCANNERS]
        if unknown:
            raise InvalidArgument(f"unknown scanner(s) {unknown}; choose from {list(ALL_SCANNERS)}")
        started = time.monotonic()
        async with self.snapshot(target) as tree:
            s = self.settings
            suppressions = plan(
                tree.root, [f.rel for f in tree.files], file_name=s.suppression_file,
                trusted_roots=s.trusted_roots, operator_file=s.operator_suppressions,
            )  # fmt: skip
            runs: dict[str, ScannerRun] = {}
            found: dict[str, list[Finding]] = {}
            done = 0

            async def one(name: str) -> None:
                nonlocal done
                runs[name], found[name] = await self._run(name, tree)
                done += 1
                if progress is not None:
                    message = f"{name}: {runs[name].status}, {len(found[name])} findings"
                    await progress(done, len(chosen), message)

            async with anyio.create_task_group() as tg:
                for name in chosen:
                    tg.start_soon(one, name)
        findings = [f for name in chosen for f in found[name] if at_least(f.severity, min_severity)]
        findings = apply_suppressions(findings, suppressions.rules)
        findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.path, f.line, f.rule_id))
        active = [f for f in findings if not f.suppressed]
        problems = [_problem(runs[name]) for name in chosen if runs[name].status not in COMPLETE_STATUSES]
        summary = ScanSummary(
            scan_id=uuid.uuid4().hex[:16],
            target=str(target),
            root=str(tree.root),
            duration_s=round(time.monotonic() - started, 3),
            files_scanned=len(tree.files),
            complete=not problems,
            failed_scanners=problems,
            skipped=dict(tree.skipped),
            skipped_paths={reason: list(paths) for reason, paths in tree.skipped_paths.items()},
            scanners=[runs[name] for name in chosen],
            total=len(active),
            by_severity=dict(Counter(f.severity for f in active)),
            by_scanner=dict(Counter(f.scanner for f in active)),
            by_category=dict(Counter(f.category for f in active)),
            suppressed=len(findings) - len(active),
            trusted=suppressions.trusted,
            suppressions_ignored=suppressions.ignored,
            suppression_note=suppressions.note,
            suppression_errors=suppressions.errors,
        )
        self.keep(ScanRecord(owner, summary, findings))
        return summary

    @asynccontextmanager
    async def snapshot(self, target: Path) -> AsyncIterator[Tree]:
        """The tree under `target`, copied into a private staging folder removed afterwards."""
        scan_dir = Path(tempfile.mkdtemp(prefix="scan-", dir=self.staging))
        try:
            stage = scan_dir / "tree"
            stage.mkdir(mode=0o700)
            s = self.settings
            limits = Limits(
                max_file_bytes=s.max_file_bytes, max_files=s.max_files, max_depth=s.max_depth,
                max_total_bytes=s.max_total_bytes, exclude_dirs=frozenset(s.exclude_dirs),
            )  # fmt: skip
            yield await anyio.to_thread.run_sync(lambda: collect(target, stage=stage, limits=limits))
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(scan_dir, ignore_errors=True))

    async def _run(self, name: str, tree: Tree) -> tuple[ScannerRun, list[Finding]]:
        started = time.monotonic()
        found: list[Finding] = []
        if name == "dependencies":
            run, found = await self.audit.run(tree)
        elif name == "licenses":
            run, found = await self._run_licenses(tree)
        else:
            try:
                with anyio.fail_after(self.settings.scanner_timeout_s):
                    run = await self._run_external(name, tree, found)
            except (TimeoutError, ProcessTimeout):
                tool = await self.toolchain.tool(name)
                limit = self.settings.scanner_timeout_s
                detail = f"killed after {limit:.0f}s; findings of the batches finished before are kept"
                run = ScannerRun(name=name, status="timed_out", version=tool.version, detail=detail)
        run.duration_s = round(time.monotonic() - started, 3)
        run.findings = len(found)
        return run, found

    async def _run_external(self, name: str, tree: Tree, found: list[Finding]) -> ScannerRun:
        files = tree.of_kind(SCANNERS[name].kind)
        if not files:  # decided before probing the scanner: checkov takes seconds to say its version
            return ScannerRun(name=name, status="no_files")
        tool = await self.toolchain.tool(name)
        if tool.path is None:
            return ScannerRun(name=name, status="unavailable", detail=tool.detail)
        place = RunPlace(self.workdir, self.config_dir, self.settings.scanner_timeout_s)
        return await run_external(name, tool, files, tree, cache=self.cache, place=place, found=found)

    # -- dependencies --------------------------------------------------------------------------------------
    async def dependencies(self, target: Path) -> DependencyReport:
        async with self.snapshot(target) as tree:
            return await self.audit.report(tree)

    async def sbom(self, target: Path) -> Sbom:
        async with self.snapshot(target) as tree:
            deps, _, _ = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        bom = cyclonedx(tree.root.name, deps, tool_version=TOOL_VERSION)
        return Sbom(path=str(tree.root), components=len(bom["components"]), bom=bom)

    async def scan_image(self, image: str, *, owner: str, include_sbom: bool = False) -> ImageScan:
        scan, summary, findings = await self.images.scan(image, include_sbom=include_sbom)
        self.keep_scan(owner, summary, findings)
        return scan

    async def licenses(self, target: Path, *, limit: int) -> LicenseReport:
        async with self.snapshot(target) as tree:
            deps, _, _ = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        entries = inventory(deps, self.license_policy)
        p = self.license_policy
        return LicenseReport(
            path=str(tree.root), components=len(entries),
            by_verdict=dict(Counter(e.verdict for e in entries)),
            by_license=dict(Counter(e.license or "unknown" for e in entries)), allowed=sorted(p.allowed),
            denied=sorted(p.denied), items=entries[:limit], truncated=len(entries) > limit,
        )  # fmt: skip

    async def _run_licenses(self, tree: Tree) -> tuple[ScannerRun, list[Finding]]:
        deps, read, broken = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        if not read and not broken:
            return ScannerRun(name="licenses", status="no_files"), []
        entries = inventory(deps, self.license_policy)
        found = license_findings(entries, {(d.source, d.name): d.line for d in deps})
        run = ScannerRun(name="licenses", status="ran", files=len(read))
        if not self.license_policy.active:
            run.detail = "no licence policy configured ([security_scan] license_allowed / license_denied)"
        if broken:
            run.status, run.detail = "partial", f"cannot be parsed: {', '.join(broken)}"[:1000]
            run.file_errors, run.file_error_count = broken[:10], len(broken)
        return run, found

    # -- reading results: each only for the owner of the scan ---------------------------------------------
    def keep_scan(self, owner: str, summary: ScanSummary, findings: list[Finding]) -> None:
        """Keep a scan made elsewhere (an image, a custom rule) for scan_findings, scan_diff, SARIF."""
        self.keep(ScanRecord(owner, summary, findings))

    def keep(self, record: ScanRecord) -> None:
        """Keep a finished scan: at most max_scans_kept per owner and max_scans_total in all."""
        self._scans[record.summary.scan_id] = record
        mine = [sid for sid, r in self._scans.items() if r.owner == record.owner]
        for sid in mine[: max(0, len(mine) - self.settings.max_scans_kept)]:
            del self._scans[sid]
        while len(self._scans) > self.settings.max_scans_total:
            self._scans.popitem(last=False)

    def record(self, scan_id: str, *, owner: str) -> ScanRecord:
        """The scan `scan_id` of `owner`.

        Raises:
            NotFound: no such scan, or it belongs to someone else (the same answer, so an id of
                another identity's scan cannot be told from one that never existed).
        """
        record = self._scans.get(scan_id)
        if record is None or record.owner != owner:
            raise NotFound(f"no scan {scan_id!r}: run scan_path first (only recent scans are kept)")
        return record

    def scan_ids(self, owner: str) -> list[str]:
        """`owner`'s kept scans, newest first."""
        return [sid for sid, r in reversed(self._scans.items()) if r.owner == owner]

    def findings(
        self,
        scan_id: str,
        *,
        owner: str,
        min_severity: str | None = None,
        scanner: str | None = None,
        category: str | None = None,
        path_prefix: str | None = None,
        include_suppressed: bool = False,
    ) -> list[Finding]:
        return [
            f
            for f in self.record(scan_id, owner=owner).findings
            if at_least(f.severity, min_severity)
            and (scanner is None or f.scanner == scanner)
            and (category is None or f.category == category)
            and (path_prefix is None or f.path.startswith(path_prefix))
            and (include_suppressed or not f.suppressed)
        ]

    def finding(self, finding_id: str, *, owner: str) -> Finding:
        """A finding of one of `owner`'s recent scans (the most recent that holds it)."""
        for record in reversed(self._scans.values()):
            if record.owner != owner:
                continue
            for f in record.findings:
                if f.id == finding_id:
                    return f
        raise NotFound(f"no finding {finding_id!r} in the recent scans: list ids with scan_findings")

    def diff(
        self, scan_id: str, baseline: str, *, owner: str, baseline_file: Path | None = None, limit: int = 50
    ) -> FindingDiff:
        """New, fixed and unchanged findings of `scan_id` against an earlier scan of the same owner or a
        SARIF baseline file (already allowed by the policy)."""
        current = {f.id: f for f in self.record(scan_id, owner=owner).findings if not f.suppressed}
        if baseline_file is not None:
            before = self._baseline(baseline, baseline_file)
        else:
            before = {f.id for f in self.record(baseline, owner=owner).findings if not f.suppressed}
        new = [f for fid, f in current.items() if fid not in before]
        fixed = sorted(before - current.keys())
        return FindingDiff(
            scan_id=scan_id,
            baseline=baseline,
            new=new[:limit],
            new_total=len(new),
            fixed=fixed[:limit],
            fixed_total=len(fixed),
            unchanged_total=len(before & current.keys()),
            truncated=len(new) > limit or len(fixed) > limit,
        )

    def _baseline(self, baseline: str, path: Path) -> set[str]:
        try:
            if path.stat().st_size > BASELINE_MAX_BYTES:
                raise ValueError(f"larger than {BASELINE_MAX_BYTES // 2**20} MiB")
            return sarif_ops.fingerprints_from_sarif(json.loads(path.read_text("utf-8")))
        except (OSError, UnicodeDecodeError, ValueError, InvalidArgument) as exc:
            raise InvalidArgument(f"{baseline} is not a usable SARIF baseline: {exc}") from exc

    def sarif_page(
        self,
        scan_id: str,
        *,
        owner: str,
        budget: OutputBudget,
        cursor_for: Callable[[int], str],
        min_severity: str | None = None,
        start: int = 0,
        limit: int | None = None,
    ) -> SarifPage:
        """One page of `owner`'s scan as a complete SARIF log, within `budget`, from result `start`
        (0-based, from the caller's cursor); `cursor_for(end)` makes the cursor of the next page."""
        if limit is not None and limit < 1:
            raise InvalidArgument("limit must be at least 1")
        record = self.record(scan_id, owner=owner)
        key = (scan_id, min_severity)
        export = self._exports.pop(key, None)
        if export is None:
            findings = [f for f in record.findings if at_least(f.severity, min_severity)]
            export = sarif_ops.prepare_export(record.summary, findings, min_severity=min_severity)
        self._exports[key] = export  # most recently used last; sorting a large scan once, not per page
        while len(self._exports) > EXPORTS_KEPT:
            self._exports.popitem(last=False)
        return sarif_ops.export_page(
            export, start=start, max_items=min(limit or budget.max_items, budget.max_items),
            max_chars=budget.max_chars, cursor_for=cursor_for,
        )  # fmt: skip


def _problem(run: ScannerRun) -> ScannerProblem:
    reason = run.detail or run.status
    if run.file_errors:
        reason = f"{reason} (first: {run.file_errors[0]})"
    return ScannerProblem(name=run.name, status=run.status, reason=reason)


def _remove_stale(staging: Path) -> None:
    cutoff = time.time() - STALE_STAGING_S
    for entry in staging.iterdir():
        try:
            if entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
