"""Real scanners for the security-scan tests: skip (or fail under CODE_REQUIRE_SERVICES=1) when missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import pytest

from servers.security_scan.advisory_ops import find_safety_db
from servers.security_scan.settings import SecurityScanSettings
from servers.security_scan.toolchain_ops import Toolchain
from tests.support.services import unavailable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VULNERABLE = FIXTURES / "vulnerable_project"
CLEAN = FIXTURES / "clean_project"
EXTERNAL = ("bandit", "semgrep", "detect-secrets", "checkov", "hadolint", "shellcheck")
OWNER = "integration-tests"  # the identity every engine-level scan is run as


def _probe(settings: SecurityScanSettings) -> list[str]:
    async def probe() -> list[str]:
        chain = Toolchain(settings.tool_paths, settings.resolved_venv(), enabled=list(EXTERNAL))
        return [name for name in EXTERNAL if (await chain.tool(name)).path is None]

    return anyio.run(probe)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One result cache for the session, so each fixture project pays the slow scanners once."""
    return tmp_path_factory.mktemp("scan-cache")


@pytest.fixture(scope="session")
def scanners_installed() -> None:
    """Every scanner and the advisory database must be installed (scripts/setup.d/30-scanners.sh)."""
    settings = SecurityScanSettings()
    missing = _probe(settings)
    if find_safety_db(settings.resolved_venv()) is None:
        missing.append("safety-db")
    if missing:
        unavailable(f"scanners not installed: {', '.join(missing)} (run scripts/setup.d/30-scanners.sh)")


@pytest.fixture
def settings(shared_cache: Path, scanners_installed: None) -> SecurityScanSettings:
    return SecurityScanSettings(cache_dir=shared_cache)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the vulnerable project that a test may edit."""
    target = tmp_path / "project"
    shutil.copytree(VULNERABLE, target)
    return target
