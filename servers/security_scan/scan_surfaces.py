"""The security-scan server's prompt, resources and completions (behind the guard, like its tools).

Prompt: `security_review(path)` — a runbook naming the tools to use. Resources: a scan you ran as
one SARIF 2.1.0 log (`scan://{scan_id}/sarif`, every scanner's run, suppressed results marked —
what "write SARIF to a file" needs, with no write tool) and a CycloneDX SBOM of the scanned folder
(`scan://{scan_id}/sbom`, the folder checked against the scan roots again). Completions: your scan
ids (`scan_id`), and the folders under the scan roots (`path`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import Field

from servers.security_scan.sarif_ops import to_sarif
from servers.security_scan.scan_ops import ScanEngine
from shared.policy import Policy
from shared.toolkit import ServerKit

__all__ = ["scan_surfaces"]

RUN = "scan:run"
MAX_FOLDERS: Final = 200


def scan_surfaces(kit: ServerKit, engine: ScanEngine, policy: Policy, owner: Callable[[], str]) -> None:
    """Register the prompt, resources and completion handler on `kit`."""

    @kit.prompt("security_review", "Security review of a folder", permission=RUN)
    def security_review(
        path: Annotated[str, Field(description="Folder to review, inside the scan roots")] = ".",
    ) -> str:
        """Scan a folder and report what matters, worst first, with the fix for each."""
        return (
            f"Review the security of {path!r} (relative paths start at the first scan root):\n"
            f"1. scan_path path={path!r}. If complete is false, say which scanners failed: the result is "
            "then a lower bound, never a clean bill.\n"
            "2. scan_findings with min_severity=high, then medium; scan_finding for the detail and fix "
            "hint of each one you report.\n"
            f"3. scan_dependencies path={path!r} for known advisories (name the source and its date), and "
            "scan_licenses for licences the policy denies.\n"
            "4. Report by severity: what, where (file:line), why it matters, the fix. Offer the SARIF "
            "log (the scan://<scan_id>/sarif resource) for a code-scanning UI."
        )

    @kit.resource("scan://{scan_id}/sarif", "scan_sarif", "A scan as SARIF 2.1.0", permission=RUN)
    def scan_sarif(scan_id: str) -> dict[str, Any]:
        """One of your scans as a single SARIF 2.1.0 log: a run per scanner, suppressed results marked."""
        record = engine.record(scan_id, owner=owner())
        return to_sarif(record.summary, record.findings)

    @kit.resource("scan://{scan_id}/sbom", "scan_sbom", "The scanned folder's SBOM", permission=RUN)
    async def scan_sbom(scan_id: str) -> dict[str, Any]:
        """A CycloneDX 1.5 SBOM of the folder one of your scans covered (read again, now)."""
        target = policy.check_scan_path(engine.record(scan_id, owner=owner()).summary.target)
        return (await engine.sbom(target)).bom

    @kit.completion(permission=RUN)
    async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        prefix = argument.value
        if argument.name == "scan_id":
            return [sid for sid in engine.scan_ids(owner()) if sid.startswith(prefix)]
        if argument.name == "path":
            return _folders(policy.settings.scan_roots, prefix)
        return []


def _folders(roots: list[Path], prefix: str) -> list[str]:
    """Folders one level under each scan root (and the roots), by prefix; hidden ones left out."""
    found: list[str] = []
    for root in roots:
        found.append(str(root))
        try:
            children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            continue
        found += [str(p) for p in children[:MAX_FOLDERS] if not p.name.startswith(".")]
    return [f for f in found if f.startswith(prefix)]
