"""The dependency audit: a project's pinned dependencies against safety-db and an optional OSV endpoint.

It reads only the dependency files of the staged snapshot (requirements, pyproject.toml, lock files),
never runs project code (no setup.py, no build backend) and follows no `-r`/`-c` include or index
option, so a project cannot steer it; a file it cannot parse, or an OSV endpoint that fails, makes
the run `partial` rather than a clean result.
"""

from __future__ import annotations

from collections import Counter

import anyio
import httpx

from servers.security_scan.advisory_ops import AdvisoryDatabase, find_safety_db, query_osv
from servers.security_scan.deps_ops import by_package, read_dependencies
from servers.security_scan.findings_ops import fingerprint
from servers.security_scan.models import Advisory, DependencyReport, Finding, ScannerRun
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.tree_ops import Tree


class DependencyAudit:
    """Advisories for a tree's declared dependencies, as a report or as scan findings."""

    def __init__(self, settings: SecurityScanSettings) -> None:
        self.settings = settings
        self._db: AdvisoryDatabase | None = None

    def advisory_db(self) -> AdvisoryDatabase | None:
        if self._db is None:
            source = self.settings.advisory_db or find_safety_db(self.settings.resolved_venv())
            if source is None or not source.is_file():
                return None
            self._db = AdvisoryDatabase(source)
        return self._db

    async def report(self, tree: Tree) -> DependencyReport:
        report, _ = await self._report(tree)
        return report

    async def _report(self, tree: Tree) -> tuple[DependencyReport, list[str]]:
        """The report, and what kept it from being complete (unparseable files, a failed endpoint)."""
        deps, read, broken = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        db = await anyio.to_thread.run_sync(self.advisory_db)
        unique = list(by_package(deps).values())
        advisories: list[Advisory] = []
        sources, problems = [], []
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
                problems.append(f"the OSV endpoint {url} failed ({type(exc).__name__})")
        if broken:
            sources.append(f"unparseable: {', '.join(broken)}")
            problems += [f"{rel}: cannot be parsed" for rel in broken]
        report = DependencyReport(
            path=str(tree.root),
            files=read,
            dependencies=len(unique),
            unpinned=sorted({d.name for d in unique if d.version is None}),
            advisories=advisories,
            database="; ".join(sources),
        )
        return report, problems

    async def run(self, tree: Tree) -> tuple[ScannerRun, list[Finding]]:
        """The audit as a scanner of `scan`: one finding per advisory."""
        report, problems = await self._report(tree)
        if self.advisory_db() is None and self.settings.osv_url is None:
            return ScannerRun(name="dependencies", status="unavailable", detail=report.database), []
        if not report.files and not problems:
            return ScannerRun(name="dependencies", status="no_files", version=report.database), []
        findings = _findings(report.advisories)
        run = ScannerRun(name="dependencies", status="ran", version=report.database, files=len(report.files))
        if problems:
            run.status, run.detail = "partial", "; ".join(problems)[:1000]
            run.file_errors = [p for p in problems if p.endswith("cannot be parsed")][:10]
            run.file_error_count = sum(p.endswith("cannot be parsed") for p in problems)
        return run, findings


def _findings(advisories: list[Advisory]) -> list[Finding]:
    seen: Counter[str] = Counter()
    findings = []
    for a in advisories:
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
                message=f"{a.package} {a.installed_version} is affected ({a.affected}): {a.summary[:280]}",
                snippet=f"{a.package}=={a.installed_version}",
                fix_hint=fixed,
            )
        )
    return findings
