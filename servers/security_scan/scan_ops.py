"""Run the scanners over a tree concurrently, normalise, suppress, cache, and keep finished scans."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx

from servers.security_scan import sarif_ops
from servers.security_scan.advisory_ops import AdvisoryDatabase, find_safety_db, query_osv
from servers.security_scan.cache_ops import ResultCache
from servers.security_scan.deps_ops import by_package, read_dependencies
from servers.security_scan.findings_ops import apply_suppressions, fingerprint, load_suppressions, normalise
from servers.security_scan.models import (
    SEVERITY_ORDER,
    Advisory,
    DependencyReport,
    Finding,
    FindingDiff,
    SarifPage,
    Sbom,
    ScannerRun,
    ScanSummary,
    at_least,
)
from servers.security_scan.process_ops import ProcessTimeout, run_process
from servers.security_scan.sbom_ops import cyclonedx
from servers.security_scan.scan_errors import ScanError, UnknownScan
from servers.security_scan.scanner_specs import SCANNERS
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.toolchain_ops import Toolchain
from servers.security_scan.tree_ops import Tree, collect
from shared.output import OutputBudget, decode_cursor, encode_cursor

ProgressFn = Callable[[float, float, str], Awaitable[None]]
ALL_SCANNERS = (*SCANNERS, "dependencies")
TOOL_VERSION = "0.1.0"
BASELINE_MAX_BYTES = 64 * 1024 * 1024  # a SARIF baseline is read whole into memory
EXPORTS_KEPT = 8  # SARIF exports being paged, kept in export order


@dataclass(slots=True)
class ScanRecord:
    summary: ScanSummary
    findings: list[Finding]


class ScanEngine:
    """Everything the security-scan tools do, with no knowledge of MCP."""

    def __init__(self, settings: SecurityScanSettings, *, toolchain: Toolchain | None = None) -> None:
        self.settings = settings
        self.toolchain = toolchain or Toolchain(
            settings.tool_paths, settings.resolved_venv(), enabled=settings.enabled
        )
        self.cache = ResultCache(settings.resolved_cache_dir())
        # Scanners run from an empty folder, not the scanned tree: a project's own .semgrepignore or
        # .checkov.yaml must not be able to hide findings.
        self.workdir = settings.resolved_cache_dir() / "workdir"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._scans: OrderedDict[str, ScanRecord] = OrderedDict()
        self._advisories: AdvisoryDatabase | None = None
        self._exports: OrderedDict[tuple[str, str | None], sarif_ops.SarifExport] = OrderedDict()

    # -- scanning ------------------------------------------------------------------------------------------
    async def scan(
        self,
        target: Path,
        *,
        scanners: Sequence[str] | None = None,
        min_severity: str | None = None,
        progress: ProgressFn | None = None,
    ) -> ScanSummary:
        chosen = (
            list(dict.fromkeys(scanners))
            if scanners
            else [s for s in ALL_SCANNERS if s in self.settings.enabled]
        )
        unknown = [s for s in chosen if s not in ALL_SCANNERS]
        if unknown:
            raise ScanError(f"unknown scanner(s) {unknown}; choose from {list(ALL_SCANNERS)}")
        started = time.monotonic()
        tree = await anyio.to_thread.run_sync(self._collect, target)
        rules, suppression_errors = load_suppressions(tree.root / self.settings.suppression_file)
        runs: dict[str, ScannerRun] = {}
        found: dict[str, list[Finding]] = {}
        done = 0

        async def one(name: str) -> None:
            nonlocal done
            runs[name], found[name] = await self._run(name, tree)
            done += 1
            if progress is not None:
                await progress(done, len(chosen), f"{name}: {runs[name].status}, {len(found[name])} findings")

        async with anyio.create_task_group() as tg:
            for name in chosen:
                tg.start_soon(one, name)
        findings = [f for name in chosen for f in found[name] if at_least(f.severity, min_severity)]
        findings = apply_suppressions(findings, rules)
        findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.path, f.line, f.rule_id))
        active = [f for f in findings if not f.suppressed]
        summary = ScanSummary(
            scan_id=uuid.uuid4().hex[:16],
            target=str(target),
            root=str(tree.root),
            duration_s=round(time.monotonic() - started, 3),
            files_scanned=len(tree.files),
            skipped=dict(tree.skipped),
            scanners=[runs[name] for name in chosen],
            total=len(active),
            by_severity=dict(Counter(f.severity for f in active)),
            by_scanner=dict(Counter(f.scanner for f in active)),
            by_category=dict(Counter(f.category for f in active)),
            suppressed=len(findings) - len(active),
            suppression_errors=suppression_errors,
        )
        self._scans[summary.scan_id] = ScanRecord(summary, findings)
        while len(self._scans) > self.settings.max_scans_kept:
            self._scans.popitem(last=False)
        return summary

    def _collect(self, target: Path) -> Tree:
        s = self.settings
        return collect(
            target, max_file_bytes=s.max_file_bytes, max_files=s.max_files, exclude_dirs=s.exclude_dirs
        )

    async def _run(self, name: str, tree: Tree) -> tuple[ScannerRun, list[Finding]]:
        started = time.monotonic()
        if name == "dependencies":
            run, findings = await self._run_dependencies(tree)
        else:
            try:
                with anyio.fail_after(self.settings.scanner_timeout_s):
                    run, findings = await self._run_external(name, tree)
            except (TimeoutError, ProcessTimeout):
                tool = await self.toolchain.tool(name)
                limit = self.settings.scanner_timeout_s
                run, findings = ScannerRun(name=name, status="timed_out", version=tool.version,
                                           detail=f"killed after {limit:.0f}s"), []  # fmt: skip
        run.duration_s = round(time.monotonic() - started, 3)
        run.findings = len(findings)
        return run, findings

    async def _run_external(self, name: str, tree: Tree) -> tuple[ScannerRun, list[Finding]]:
        spec = SCANNERS[name]
        files = tree.of_kind(spec.kind)
        if not files:  # decided before probing the scanner: checkov takes seconds to say its version
            return ScannerRun(name=name, status="no_files"), []
        tool = await self.toolchain.tool(name)
        if tool.path is None:
            return ScannerRun(name=name, status="unavailable", detail=tool.detail), []
        keys = {f.rel: self.cache.key(name, tool.version, f.rel, f.sha256) for f in files}
        cached = await anyio.to_thread.run_sync(self.cache.get_many, keys.values())
        todo = [f for f in files if keys[f.rel] not in cached]
        findings = [x for f in files if keys[f.rel] in cached for x in cached[keys[f.rel]]]
        lookup: dict[str, tuple[Path, str]] = {}
        for f in todo:
            for spelling in (str(f.path), f.rel, f"./{f.rel}", str(f.path.absolute())):
                lookup[spelling] = (f.path, f.rel)
        fresh: list[Finding] = []
        for start in range(0, len(todo), spec.batch):
            batch = todo[start : start + spec.batch]
            argv = spec.argv(str(tool.path), [str(f.path) for f in batch], str(tree.root))
            try:
                result = await run_process(
                    argv, timeout_s=self.settings.scanner_timeout_s, cwd=self.workdir, env=spec.env
                )
            except OSError as exc:
                return ScannerRun(name=name, status="failed", version=tool.version, detail=str(exc)), []
            if result.returncode not in spec.ok_codes:
                tail = result.stderr.decode("utf-8", "replace").strip()[-300:]
                detail = f"exit {result.returncode}: {tail}"
                return ScannerRun(name=name, status="failed", version=tool.version, detail=detail), []
            try:
                raws = spec.parse(result.stdout)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                detail = f"unreadable output: {exc}"
                return ScannerRun(name=name, status="failed", version=tool.version, detail=detail), []
            batch_findings = normalise(name, raws, lookup)
            # Cached batch by batch: after a timeout, the next scan resumes where this one stopped.
            per_file: dict[str, list[Finding]] = {keys[f.rel]: [] for f in batch}
            for finding in batch_findings:
                per_file[keys[finding.path]].append(finding)
            await anyio.to_thread.run_sync(self.cache.put_many, per_file)
            fresh += batch_findings
        status = "cached" if not todo else "ran"
        run = ScannerRun(name=name, status=status, version=tool.version, files=len(files),
                         cached_files=len(files) - len(todo))  # fmt: skip
        return run, findings + fresh

    # -- dependencies --------------------------------------------------------------------------------------
    def advisory_db(self) -> AdvisoryDatabase | None:
        if self._advisories is None:
            source = self.settings.advisory_db or find_safety_db(self.settings.resolved_venv())
            if source is None or not source.is_file():
                return None
            self._advisories = AdvisoryDatabase(source)
        return self._advisories

    async def dependencies(self, target: Path) -> DependencyReport:
        tree = await anyio.to_thread.run_sync(self._collect, target)
        return await self._dependency_report(tree)

    async def sbom(self, target: Path) -> Sbom:
        tree = await anyio.to_thread.run_sync(self._collect, target)
        deps, _, _ = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        bom = cyclonedx(tree.root.name, deps, tool_version=TOOL_VERSION)
        return Sbom(path=str(tree.root), components=len(bom["components"]), bom=bom)

    async def _dependency_report(self, tree: Tree) -> DependencyReport:
        deps, read, broken = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        db = await anyio.to_thread.run_sync(self.advisory_db)
        unique = list(by_package(deps).values())
        advisories: list[Advisory] = []
        sources = []
        if db is not None:
            sources.append(db.label)
            advisories += [a for d in unique for a in db.check(d)]
        else:
            sources.append("safety-db not installed (run scripts/setup)")
        if self.settings.osv_url is not None:
            url = str(self.settings.osv_url)
            try:
                advisories += await query_osv(url, unique, timeout_s=self.settings.osv_timeout_s)
                sources.append(f"osv {url}")
            except (httpx.HTTPError, ValueError) as exc:
                sources.append(f"osv {url} failed: {type(exc).__name__}")
        if broken:
            sources.append(f"unparseable: {', '.join(broken)}")
        return DependencyReport(
            path=str(tree.root),
            files=read,
            dependencies=len(unique),
            unpinned=sorted({d.name for d in unique if d.version is None}),
            advisories=advisories,
            database="; ".join(sources),
        )

    async def _run_dependencies(self, tree: Tree) -> tuple[ScannerRun, list[Finding]]:
        report = await self._dependency_report(tree)
        if self.advisory_db() is None and self.settings.osv_url is None:
            return ScannerRun(name="dependencies", status="unavailable", detail=report.database), []
        if not report.files:
            return ScannerRun(name="dependencies", status="no_files", version=report.database), []
        seen: Counter[str] = Counter()
        findings = []
        for a in report.advisories:
            ident = a.ids[0] if a.ids else a.summary[:40]
            context = f"{a.package}\0{ident}"
            seen[context] += 1
            fixed = f"Upgrade {a.package} to {a.fixed_versions[-1]} or later." if a.fixed_versions else (
                f"Replace {a.package} or upgrade past {a.affected}.")  # fmt: skip
            findings.append(
                Finding(
                    id=fingerprint("dependencies", ident, a.file, context, seen[context]),
                    scanner="dependencies",
                    rule_id=ident,
                    severity="high",
                    category="dependency",
                    cwe=["CWE-1395"],
                    path=a.file,
                    line=a.line,
                    message=f"{a.package} {a.installed_version} is affected ({a.affected}): "
                    f"{a.summary[:280]}",
                    snippet=f"{a.package}=={a.installed_version}",
                    fix_hint=fixed,
                )
            )
        run = ScannerRun(name="dependencies", status="ran", version=report.database, files=len(report.files))
        return run, findings

    # -- reading results -----------------------------------------------------------------------------------
    def record(self, scan_id: str) -> ScanRecord:
        try:
            return self._scans[scan_id]
        except KeyError:
            raise UnknownScan(
                f"no scan {scan_id!r}: run scan_path first (only recent scans are kept)"
            ) from None

    def findings(
        self,
        scan_id: str,
        *,
        min_severity: str | None = None,
        scanner: str | None = None,
        category: str | None = None,
        path_prefix: str | None = None,
        include_suppressed: bool = False,
    ) -> list[Finding]:
        return [
            f
            for f in self.record(scan_id).findings
            if at_least(f.severity, min_severity)
            and (scanner is None or f.scanner == scanner)
            and (category is None or f.category == category)
            and (path_prefix is None or f.path.startswith(path_prefix))
            and (include_suppressed or not f.suppressed)
        ]

    def finding(self, finding_id: str) -> Finding:
        for record in reversed(self._scans.values()):
            for f in record.findings:
                if f.id == finding_id:
                    return f
        raise UnknownScan(f"no finding {finding_id!r} in the recent scans: list ids with scan_findings")

    def diff(
        self, scan_id: str, baseline: str, *, baseline_file: Path | None = None, limit: int = 50
    ) -> FindingDiff:
        current = {f.id: f for f in self.record(scan_id).findings if not f.suppressed}
        if baseline_file is not None:
            before = self._baseline(baseline, baseline_file)
        else:
            before = {f.id for f in self.record(baseline).findings if not f.suppressed}
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
        except (OSError, UnicodeDecodeError, ValueError, ScanError) as exc:
            raise ScanError(f"{baseline} is not a usable SARIF baseline: {exc}") from exc

    def sarif_page(
        self,
        scan_id: str,
        *,
        budget: OutputBudget,
        min_severity: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> SarifPage:
        """One page of the scan as a complete SARIF log, within `budget`; `cursor` continues an export."""
        if limit is not None and limit < 1:
            raise ScanError("limit must be at least 1")
        record = self.record(scan_id)
        scope = f"scan_export_sarif|{scan_id}|{min_severity}"
        start = 0 if cursor is None else decode_cursor(cursor, scope)
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
            max_chars=budget.max_chars, cursor_for=lambda end: encode_cursor(end, scope),
        )  # fmt: skip
