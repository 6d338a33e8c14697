"""The dependency audit: a project's pinned dependencies, every ecosystem, against the advisory sources.

It reads only the dependency files of the staged snapshot (lock files and manifests), never runs
project code (no setup.py, no build backend, no package manager) and follows no include or index
option, so a project cannot steer it; a file it cannot parse, an ecosystem no source covers, or a
fresher source that failed makes the run `partial` rather than a clean result.
"""

from __future__ import annotations

from collections import Counter

import anyio

from servers.security_scan.advisory_source_ops import AdvisorySources
from servers.security_scan.deps_ops import Declared
from servers.security_scan.findings_ops import fingerprint
from servers.security_scan.manifest_ops import by_package, read_dependencies
from servers.security_scan.models import Advisory, DependencyReport, Finding, ScannerRun
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.tree_ops import Tree


class DependencyAudit:
    """Advisories for a tree's declared dependencies, as a report or as scan findings."""

    def __init__(self, settings: SecurityScanSettings) -> None:
        self.settings = settings
        self.sources = AdvisorySources(settings)

    async def report(self, tree: Tree) -> DependencyReport:
        deps, read, broken = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        report, _ = await self.check(str(tree.root), deps, read, broken)
        return report

    async def check(
        self, path: str, deps: list[Declared], read: list[str], broken: list[str]
    ) -> tuple[DependencyReport, list[str]]:
        """The report for `deps`, and what kept it from being complete."""
        unique = list(by_package(deps).values())
        answer = await self.sources.check(unique)
        problems = [*answer.problems, *(f"{rel}: cannot be parsed" for rel in broken)]
        database = answer.describe() + (f"; unparseable: {', '.join(broken)}" if broken else "")
        report = DependencyReport(
            path=path,
            files=read,
            dependencies=len(unique),
            unpinned=sorted({d.name for d in unique if d.version is None}),
            advisories=answer.advisories,
            database=database,
            ecosystems=dict(Counter(d.ecosystem for d in unique)),
            sources=answer.uses,
            unchecked=answer.unchecked,
        )
        return report, problems

    async def run(self, tree: Tree) -> tuple[ScannerRun, list[Finding]]:
        """The audit as a scanner of `scan`: one finding per advisory."""
        deps, read, broken = await anyio.to_thread.run_sync(read_dependencies, tree.files)
        if not self.sources.configured():
            detail = (
                "no advisory source: install safety-db (scripts/setup) or configure osv_url / osv_export_dir"
            )
            return ScannerRun(name="dependencies", status="unavailable", detail=detail), []
        report, problems = await self.check(str(tree.root), deps, read, broken)
        if not report.files and not problems:
            return ScannerRun(name="dependencies", status="no_files", version=report.database), []
        findings = advisory_findings(report.advisories)
        run = ScannerRun(name="dependencies", status="ran", version=report.database, files=len(report.files))
        if problems:
            run.status, run.detail = "partial", "; ".join(problems)[:1000]
            run.file_errors = [p for p in problems if p.endswith("cannot be parsed")][:10]
            run.file_error_count = sum(p.endswith("cannot be parsed") for p in problems)
        return run, findings


def advisory_findings(advisories: list[Advisory], scanner: str = "dependencies") -> list[Finding]:
    """One finding per advisory (also used for the packages found in an image)."""
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
                id=fingerprint(scanner, ident, a.file, context, seen[context]),
                scanner=scanner,
                rule_id=ident,
                severity=a.severity,
                category="dependency",
                cwe=["CWE-1395"],
                path=a.file,
                line=a.line,
                message=f"{a.package} {a.installed_version} is affected ({a.affected}): {a.summary[:280]} "
                f"[{a.source}]",
                snippet=f"{a.package}=={a.installed_version}"
                if a.ecosystem == "PyPI"
                else f"{a.package}@{a.installed_version}",
                fix_hint=fixed,
            )
        )
    return findings
