"""The security-scan MCP server: wiring only. The logic is in scan_ops and the modules it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.apps import Apps
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from servers.security_scan.models import (
    DependencyReport,
    Finding,
    FindingDiff,
    SarifPage,
    Sbom,
    ScannerList,
    ScannerName,
    ScanSummary,
    Severity,
)
from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.scan_surfaces import scan_surfaces
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.supply_chain_tools import supply_chain_tools
from servers.security_scan.toolchain_ops import Toolchain
from shared.calls import current_identity
from shared.paging import Columns, Cursor, Limit, Page, page, pager
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.toolkit import ServerKit

VIEWS = Path(__file__).parent / "views"

INSTRUCTIONS = """Scan code, secrets, Dockerfiles, Kubernetes manifests, shell scripts, dependencies of every
common
ecosystem and licences inside the allowed scan roots (offline unless an OSV API is configured), and
container images of the configured Docker engine (scan_image). Start with scan_path (returns a scan id
and counts), then page through scan_findings (filter by severity, scanner, category or path) and open
one with scan_finding. scan_diff compares a scan with an earlier one or with a SARIF baseline file;
scan_export_sarif gives SARIF 2.1.0 in pages, each a complete log. scan_dependencies lists known
advisories for pinned dependencies (with the source and date of each), scan_sbom a CycloneDX SBOM,
scan_licenses the licence inventory, scan_with_rule runs one Semgrep rule you write.
scan_scanners_available says which scanners are installed. A scan says whether it is complete (every
scanner ran over every file) and lists what it skipped. Scans and findings belong to the caller who ran
them. The project's own .security-scan.toml suppressions apply only to trees the operator trusts; inline
pragmas never hide a finding."""

ScanId = Annotated[str, Field(description="Scan id returned by scan_path.", min_length=1, max_length=64)]
MinSeverity = Annotated[
    Severity | None,
    Field(description="Only findings at this severity or worse (info<low<medium<high<critical)."),
]
ScanPath = Annotated[
    str,
    Field(
        description="File or directory to scan, absolute or relative to the first scan root.", max_length=4096
    ),
]


def build_server(
    config: SuiteConfig, *, runtime: Runtime | None = None, toolchain: Toolchain | None = None
) -> MCPServer[Any]:
    """The security-scan server.

    Args:
        config: the suite configuration; `[security_scan]` configures scanners, cache and limits, and
            `[policy] scan_roots` the folders that may be scanned.
        runtime: shared by every server of one process.
        toolchain: where the scanners are found (tests point it at missing programs).
    """
    settings = config.section("security_scan", SecurityScanSettings)
    engine = ScanEngine(settings, toolchain=toolchain)
    kit = ServerKit("security-scan", config, runtime, instructions=INSTRUCTIONS, extensions=[Apps()])
    policy, budget = kit.policy, kit.budget
    osv = settings.osv_url is not None  # the only call that may leave the machine
    scans = kit.toolset(permission="scan:run", open_world=False)

    def owner() -> str:
        """Scans belong to the caller who ran them: another caller's scan id is unknown to this one."""
        who = current_identity()
        return f"{who.method}:{who.subject}"

    @scans.tool("scan_path", "Scan a path", open_world=osv, idempotent=False, cost=5)
    async def scan_path(
        path: ScanPath,
        ctx: Context,
        scanners: Annotated[
            list[ScannerName] | None,
            Field(description="Scanners to run (default: every available one).", max_length=8),
        ] = None,
        min_severity: MinSeverity = None,
    ) -> ScanSummary:
        """Scan a file or directory with the scanners, concurrently, and return counts and a scan id.

        Reads files only; nothing leaves the machine unless an OSV endpoint is configured. Page through
        the findings with scan_findings.
        """
        target = policy.check_scan_path(path)

        async def progress(done: float, total: float, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return await engine.scan(
            target, owner=owner(), scanners=scanners, min_severity=min_severity, progress=progress
        )

    table = kit.view("findings", "Scan findings", VIEWS / "findings_table.html", permission="scan:run")

    @scans.tool("scan_findings", "List scan findings", meta=table)
    def scan_findings(
        scan_id: ScanId,
        min_severity: MinSeverity = None,
        scanner: Annotated[ScannerName | None, Field(description="Only this scanner's findings.")] = None,
        category: Annotated[
            str | None, Field(description="Only this category (injection, secrets, ...).", max_length=64)
        ] = None,
        path_prefix: Annotated[
            str | None, Field(description="Only files whose relative path starts with this.", max_length=1024)
        ] = None,
        include_suppressed: Annotated[bool, Field(description="Also list suppressed findings.")] = False,
        cursor: Cursor = None,
        limit: Limit = None,
        columns: Columns = None,
    ) -> Page[Finding]:
        """Page through a scan's normalised findings, worst first, with optional filters; the whole
        finding (snippet, fix hint, CWE) with columns=["*"] or scan_finding(id)."""
        return page(
            engine.findings(
                scan_id, owner=owner(), min_severity=min_severity, scanner=scanner, category=category,
                path_prefix=path_prefix, include_suppressed=include_suppressed,
            )
        )  # fmt: skip

    @scans.tool("scan_finding", "Show one finding")
    def scan_finding(
        finding_id: Annotated[
            str, Field(description="Finding id (fingerprint) from scan_findings.", max_length=64)
        ],
    ) -> Finding:
        """One finding in full: rule, severity, CWE, location, redacted snippet and fix hint."""
        return engine.finding(finding_id, owner=owner())

    @scans.tool("scan_diff", "Compare with a baseline")
    def scan_diff(
        scan_id: ScanId,
        baseline: Annotated[
            str,
            Field(
                description="An earlier scan id, or the path of a SARIF baseline: every page of a "
                "scan_export_sarif export saved as a JSON list of the pages' `sarif` logs (or one log).",
                min_length=1,
                max_length=4096,
            ),
        ],
    ) -> FindingDiff:
        """Findings new, fixed and unchanged since the baseline (suppressed ones left out)."""
        baseline_file = None
        if "/" in baseline or baseline.endswith((".sarif", ".json")):
            baseline_file = policy.check_scan_path(baseline)
        return engine.diff(
            scan_id, baseline, owner=owner(), baseline_file=baseline_file, limit=budget.max_items
        )

    @scans.tool("scan_export_sarif", "Export SARIF 2.1.0")
    def scan_export_sarif(
        scan_id: ScanId,
        min_severity: MinSeverity = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> SarifPage:
        """The scan as SARIF 2.1.0, a page at a time: every page is a complete log (for code-scanning
        UIs), suppressed results included and marked. For a scan_diff baseline, save every page's
        `sarif` together in one file as a JSON list."""
        # A plain def: the kit runs it in a thread (the first page of a large scan sorts all its findings).
        paging = pager()
        return engine.sarif_page(
            scan_id, owner=owner(), budget=budget, min_severity=min_severity, start=paging.start(),
            cursor_for=paging.cursor_at, limit=limit,
        )  # fmt: skip

    @scans.tool("scan_dependencies", "Dependency advisories", open_world=osv, cost=2)
    async def scan_dependencies(path: ScanPath) -> DependencyReport:
        """Known advisories for the project's pinned dependencies: Python (requirements, pyproject,
        poetry/uv/Pipfile locks), npm/yarn/pnpm locks, go.mod/go.sum, Cargo.lock, pom.xml,
        gradle.lockfile, Gemfile.lock, composer.lock. Each ecosystem from the freshest configured source
        (OSV API, local OSV export, safety-db), named with its date; `unchecked` lists what no source
        could judge."""
        report = await engine.dependencies(policy.check_scan_path(path))
        cut = page(report.advisories)
        return report.model_copy(update={"advisories": cut.items, "truncated": cut.truncated})

    @scans.tool("scan_sbom", "CycloneDX SBOM")
    async def scan_sbom(path: ScanPath) -> Sbom:
        """A CycloneDX 1.5 JSON SBOM of the dependencies the project declares, every ecosystem, with
        package URLs and licences where the lock files state them."""
        return await engine.sbom(policy.check_scan_path(path))

    @scans.tool("scan_scanners_available", "Available scanners")
    async def scan_scanners_available() -> ScannerList:
        """Each scanner the server knows, whether it is installed here, its version and path."""
        return ScannerList(scanners=await engine.toolchain.describe())

    supply_chain_tools(kit, engine, owner)
    scan_surfaces(kit, engine, policy, owner)
    return kit.server
