"""`python -m servers.<name>` is exactly `code-mcp serve <name>`: one command line, one logging setup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.connect import REPO, subprocess_env

MODULES = ["deployment", "experts", "security_scan", "monitoring"]


@pytest.mark.parametrize("module", MODULES)
def test_module_entry_point_is_code_mcp_serve(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"servers.{module}", "--help"],
        capture_output=True, text=True, cwd=REPO, env=subprocess_env(), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: code-mcp serve")


@pytest.mark.parametrize("module", MODULES)
def test_module_entry_point_reports_a_missing_config_like_the_cli(module: str, tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    result = subprocess.run(
        [sys.executable, "-m", f"servers.{module}", "--config", str(missing)],
        capture_output=True, text=True, cwd=REPO, env=subprocess_env(), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""  # stdout is the JSON-RPC channel: nothing else may reach it
    assert f"configuration file '{missing}' does not exist" in result.stderr
