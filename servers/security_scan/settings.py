"""The `[security_scan]` section of the suite configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

SCANNER_NAMES = (
    "bandit", "semgrep", "detect-secrets", "checkov", "hadolint", "shellcheck", "dependencies", "licenses"
)  # fmt: skip
AdvisorySourceName = Literal["osv-api", "osv-export", "safety-db"]
DEFAULT_SOURCES: tuple[AdvisorySourceName, ...] = ("osv-api", "osv-export", "safety-db")


class SecurityScanSettings(BaseModel):
    """How the security-scan server finds its scanners and bounds their work."""

    model_config = ConfigDict(extra="forbid")

    tool_paths: dict[str, Path] = Field(
        default_factory=dict,
        description="Explicit executable per scanner (bandit, semgrep, detect-secrets, checkov, hadolint, "
        "shellcheck); otherwise PATH, then the scanners virtualenv.",
    )
    scanners_venv: Path | None = Field(
        default=None,
        description="Virtualenv holding the scanners; default $CODE_MCP_CACHE/scanners (~/.cache/code-mcp).",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where per-file results are cached by content hash; default $CODE_MCP_CACHE.",
    )
    enabled: list[str] = Field(default_factory=lambda: list(SCANNER_NAMES), description="Scanners offered.")
    scanner_timeout_s: float = Field(default=300.0, gt=0, le=3600, description="Wall-time limit per scanner.")
    max_file_bytes: int = Field(default=2_000_000, gt=0, description="Larger files are skipped and counted.")
    max_files: int = Field(default=50_000, gt=0, description="A tree with more files is refused.")
    max_total_bytes: int = Field(
        default=2_000_000_000, gt=0, description="A tree with more bytes of text files is refused."
    )
    max_depth: int = Field(
        default=64, gt=0, le=256, description="Folders nested deeper are not walked (skipped as too_deep)."
    )
    max_scans_kept: int = Field(
        default=32, gt=0, description="Finished scans kept in memory for paging, per identity."
    )
    max_scans_total: int = Field(
        default=256, gt=0, description="Finished scans kept in memory for paging, all identities together."
    )
    suppression_file: str = Field(
        default=".security-scan.toml",
        pattern=r"^[^/\\\x00]+$",
        description="Suppression file name looked up at the scanned root; applied only in trusted_roots.",
    )
    trusted_roots: list[Path] = Field(
        default_factory=list,
        description="Trees whose own suppression file is applied: a scanned root inside one of these "
        "folders is trusted. Default: none, so a scanned project's suppression file is read, counted "
        "and ignored.",
    )
    operator_suppressions: Path | None = Field(
        default=None,
        description="An operator-owned suppression file (same format as the project's) applied to every "
        "scan, trusted or not; paths in it are relative to the scanned root.",
    )
    exclude_dirs: list[str] = Field(
        default_factory=lambda: [
            ".git",
            ".hg",
            ".svn",
            ".venv",
            "venv",
            "node_modules",
            "__pycache__",
            ".mypy_cache",
            ".pytest_cache",
            ".ruff_cache",
            "target",
            ".tox",
            "dist",
            "build",
        ],
        description="Directory names never descended into.",
    )
    advisory_db: Path | None = Field(
        default=None, description="safety-db insecure_full.json; default: found in the installed safety-db."
    )
    osv_url: HttpUrl | None = Field(
        default=None,
        description="An OSV API (POST /v1/querybatch, GET /v1/vulns/{id}), e.g. https://api.osv.dev where "
        "the network allows; default none: the server stays offline.",
    )
    osv_timeout_s: float = Field(default=10.0, gt=0, le=120)
    osv_cache_ttl_s: float = Field(
        default=6 * 3600, ge=0, le=30 * 86400, description="How long an OSV API answer is reused."
    )
    osv_export_dir: Path | None = Field(
        default=None,
        description="A folder of OSV exports (<Ecosystem>/all.zip as osv.dev publishes them), indexed once "
        "into the cache folder and again whenever a zip changes.",
    )
    osv_export_max_bytes: int = Field(
        default=8 * 2**30, gt=0, description="Uncompressed bytes the export's zips may expand to, in all."
    )
    advisory_sources: list[AdvisorySourceName] = Field(
        default_factory=lambda: list(DEFAULT_SOURCES),
        min_length=1,
        description="Advisory sources in the order they are tried for each ecosystem (freshest first); the "
        "first one configured that covers the ecosystem and answers is used.",
    )
    license_allowed: list[str] = Field(
        default_factory=list,
        description="SPDX licence ids allowed; when set, a licence outside it (or unknown) is a finding.",
    )
    license_denied: list[str] = Field(
        default_factory=list, description="SPDX licence ids denied: a dependency that can only be used under "
        "one of them is a finding.",
    )  # fmt: skip
    docker_host: str | None = Field(
        default=None,
        description="Docker Engine API address for scan_image (unix:///var/run/docker.sock, tcp://...); "
        "default none: scan_image is not offered.",
    )
    gate_key_file: Path | None = Field(
        default=None,
        description="HMAC key shared with the deployment server's image gate: scan_image then returns a "
        "signed attestation of its result (shared/image_gate.py). The file must be mode 0600, >= 32 bytes.",
    )
    docker_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    image_max_bytes: int = Field(
        default=4 * 2**30, gt=0, description="Largest image (its saved tar) scan_image reads."
    )
    image_max_entries: int = Field(default=500_000, gt=0, description="Most files and folders in all layers.")
    image_max_file_bytes: int = Field(
        default=64 * 2**20,
        gt=0,
        description="Largest file read from a layer (package databases, metadata, Go binaries, text checked "
        "for secrets); larger ones are inventoried by name, mode and size only.",
    )

    def cache_root(self) -> Path:
        """The suite's cache folder ($CODE_MCP_CACHE or ~/.cache/code-mcp), read at call time."""
        env = os.environ.get("CODE_MCP_CACHE")
        return Path(env) if env else Path.home() / ".cache" / "code-mcp"

    def resolved_venv(self) -> Path:
        return self.scanners_venv or self.cache_root() / "scanners"

    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.cache_root() / "scan-cache"
