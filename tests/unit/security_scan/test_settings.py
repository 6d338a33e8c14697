"""The [security_scan] section: defaults, the cache location, refusals, and the stdio entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from servers.security_scan.settings import SCANNER_NAMES, SecurityScanSettings


def test_defaults_live_under_the_suite_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODE_MCP_CACHE", str(tmp_path))
    settings = SecurityScanSettings()
    assert settings.resolved_venv() == tmp_path / "scanners"
    assert settings.resolved_cache_dir() == tmp_path / "scan-cache"
    assert settings.enabled == list(SCANNER_NAMES)
    monkeypatch.delenv("CODE_MCP_CACHE")
    assert SecurityScanSettings().resolved_venv() == Path.home() / ".cache" / "code-mcp" / "scanners"


def test_explicit_locations_win(tmp_path: Path) -> None:
    settings = SecurityScanSettings(scanners_venv=tmp_path / "v", cache_dir=tmp_path / "c")
    assert (settings.resolved_venv(), settings.resolved_cache_dir()) == (tmp_path / "v", tmp_path / "c")


@pytest.mark.parametrize(
    "bad",
    [{"scanner_timeout_s": 0}, {"max_file_bytes": -1}, {"unknown_key": 1}, {"osv_url": "not a url"}],
)
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SecurityScanSettings.model_validate(bad)


def test_by_default_no_scanned_tree_is_trusted_and_no_operator_file_applies() -> None:
    settings = SecurityScanSettings()
    assert (settings.trusted_roots, settings.operator_suppressions) == ([], None)


@pytest.mark.parametrize("name", ["../escape.toml", "sub/.security-scan.toml", "a\\b", "nul\x00"])
def test_the_suppression_file_is_a_plain_name_at_the_root(name: str) -> None:
    with pytest.raises(ValidationError):
        SecurityScanSettings(suppression_file=name)
