"""Tools beyond scan_path: container images, licences, and one custom Semgrep rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from servers.security_scan.custom_rule_ops import MAX_RULE_BYTES
from servers.security_scan.models import ImageScan, LicenseReport, ScanSummary
from servers.security_scan.rule_scan_ops import scan_with_rule as run_rule
from servers.security_scan.scan_ops import ScanEngine
from shared.toolkit import ServerKit
from shared.validation import image_ref

ScanPath = Annotated[
    str, Field(description="File or directory, absolute or relative to the first scan root.", max_length=4096)
]


def supply_chain_tools(kit: ServerKit, engine: ScanEngine, owner: Callable[[], str]) -> None:
    policy, budget = kit.policy, kit.budget
    settings = engine.settings
    scans = kit.toolset(permission="scan:run", open_world=False)

    if settings.docker_host is not None:

        @scans.tool("scan_image", "Scan a container image", open_world=True, idempotent=False, cost=5)
        async def scan_image(
            image: Annotated[
                str,
                Field(
                    description="Image on the configured Docker engine: name:tag, name@sha256:..., or "
                    "its id.",
                    min_length=1,
                    max_length=512,
                ),
            ],
            include_sbom: Annotated[bool, Field(description="Also return the CycloneDX SBOM.")] = False,
        ) -> ImageScan:
            """Scan an image of the deployment host's Docker engine, read through the Engine API (no
            registry, nothing run): OS packages (dpkg, apk) and language packages (Python, npm, Go
            binaries) against the advisory sources, root user, secrets in env, history and any layer
            (deleted ones too), setuid and world-writable files. Page findings with scan_findings; the
            `attestation` feeds the deployment server's image gate."""
            return await engine.scan_image(image_ref(image), owner=owner(), include_sbom=include_sbom)

    @scans.tool("scan_with_rule", "Scan with a custom Semgrep rule", idempotent=False, cost=5)
    async def scan_with_rule(
        path: ScanPath,
        rule_yaml: Annotated[
            str,
            Field(
                description="One Semgrep rule as YAML: `rules: [{id, message, severity, languages, "
                "pattern...}]`. Validated offline; join/extract modes and includes are refused.",
                min_length=1,
                max_length=MAX_RULE_BYTES,
            ),
        ],
    ) -> ScanSummary:
        """Run one Semgrep rule you write over a path in the scan roots, through the same staging and
        flags as scan_path (the rule is checked here, then by semgrep --strict, never fetched). Page the
        findings (rule ids custom.<id>) with scan_findings."""
        return await run_rule(engine, policy.check_scan_path(path), rule_yaml, owner=owner())

    @scans.tool("scan_licenses", "Licence inventory", open_world=False, cost=2)
    async def scan_licenses(path: ScanPath) -> LicenseReport:
        """Licences of the project's dependencies (where its lock files state them) judged by the
        configured policy ([security_scan] license_allowed / license_denied): allowed, denied,
        not_allowed or unknown, worst first."""
        return await engine.licenses(policy.check_scan_path(path), limit=budget.max_items)
