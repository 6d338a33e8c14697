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


# Clients of one backend each, loaded when a tool first needs them: a server that never touches a
# cluster, an engine or a Redis does not pay for them at start (issue 20: cold start).
HEAVY = ("kubernetes", "docker", "requests", "redis")


@pytest.mark.parametrize("module", MODULES)
def test_building_a_server_loads_no_backend_client(module: str) -> None:
    probe = (
        "import sys\n"
        "from shared.settings import SuiteConfig\n"
        f"from servers.{module}.server import build_server\n"
        "build_server(SuiteConfig())\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True, text=True, cwd=REPO, env=subprocess_env(), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
