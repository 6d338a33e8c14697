"""What the conformance tests run against: the four servers, one configuration, one read-only call each.

The configuration enables every tier (so write and admin tools are registered and checked too) and
needs no backend: the deployment server reads a kubeconfig written to the test's folder (no cluster
is contacted), the security-scan server offers only its two fastest scanners.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.connect import REPO, subprocess_env
from tests.support.pages import rows
from tests.support.services import unavailable

SERVER_NAMES: tuple[str, ...] = ("deployment", "experts", "security-scan", "monitoring")

# Tool names start with the server's domain (DESIGN.md: docker_…, k8s_…, prom_…, scan_…, experts_…);
# monitoring also reads the host, endpoint health and the suite's own metrics.
DOMAIN_PREFIXES: dict[str, tuple[str, ...]] = {
    "deployment": ("docker_", "k8s_", "helm_", "compose_"),
    "experts": ("experts_",),
    "security-scan": ("scan_",),
    "monitoring": ("prom_", "am_", "slo_", "rollout_", "health_", "host_", "suite_"),
}

CLIENT_DIR = Path(__file__).resolve().parent / "ts_client"
NODE_BIN = CLIENT_DIR / "node_modules" / ".bin"
SETUP_HINT = "run scripts/setup.d/80-conformance.sh"

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: conformance-cluster
  cluster: {server: "https://127.0.0.1:9"}
contexts:
- name: conformance
  context: {cluster: conformance-cluster, user: conformance-user, namespace: default}
current-context: conformance
users:
- name: conformance-user
  user: {token: not-a-real-token}
"""


def suite_config(tmp_path: Path) -> dict[str, Any]:
    """TOML data enabling every tool of every server, with a kubeconfig in `tmp_path`."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    return {
        "role": "admin",
        "policy": {"tiers": dict.fromkeys(SERVER_NAMES, "admin")},
        "deployment": {"kubeconfig": str(kubeconfig)},
        "security_scan": {"enabled": ["shellcheck", "hadolint"]},
    }


def _contexts(result: dict[str, Any]) -> None:
    assert [c["name"] for c in rows(result)] == ["conformance"], result
    assert rows(result)[0]["current"] is True


def _experts(result: dict[str, Any]) -> None:
    assert isinstance(result["source"], str), result
    assert isinstance(result["experts"], list) and result["total_experts"] == len(result["experts"]), result


def _scanners(result: dict[str, Any]) -> None:
    by_name = {s["name"]: s for s in result["scanners"]}
    assert {"shellcheck", "hadolint", "bandit"} <= set(by_name), result
    assert by_name["bandit"]["available"] is False  # disabled by the configuration above


def _host(result: dict[str, Any]) -> None:
    assert result["cpu_count"] >= 1 and result["memory_total_gb"] > 0, result


@dataclass(frozen=True)
class ReadCall:
    """One read-only tool call a client makes against a server, and what its result must show."""

    tool: str
    arguments: dict[str, Any]
    check: Callable[[dict[str, Any]], None]


READ_CALLS: dict[str, ReadCall] = {
    "deployment": ReadCall("k8s_contexts", {}, _contexts),
    "experts": ReadCall("experts_list", {}, _experts),
    "security-scan": ReadCall("scan_scanners_available", {}, _scanners),
    "monitoring": ReadCall("host_stats", {}, _host),
}


def stdio_command(server: str, config_file: Path) -> list[str]:
    """The command a stdio client launches: `code-mcp serve <server> --transport stdio`."""
    return [
        sys.executable,
        "-m",
        "servers",
        "serve",
        server,
        "--transport",
        "stdio",
        "--config",
        str(config_file),
    ]


def stdio_env() -> dict[str, str]:
    """Environment for a server launched by a node client (which passes its own environment on)."""
    env = subprocess_env()
    env["PYTHONUNBUFFERED"] = "1"
    return env


def node_tool(name: str) -> Path:
    """A program from the conformance clients' node_modules (Node 22 included), or skip/fail."""
    path = NODE_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        unavailable(f"{path} is missing ({SETUP_HINT})")
    return path


def node_env() -> dict[str, str]:
    """Our environment with Node 22 from node_modules first on PATH."""
    env = stdio_env()
    env["PATH"] = os.pathsep.join([str(NODE_BIN), env.get("PATH", "")])
    return env


__all__ = [
    "CLIENT_DIR",
    "DOMAIN_PREFIXES",
    "READ_CALLS",
    "REPO",
    "SERVER_NAMES",
    "ReadCall",
    "node_env",
    "node_tool",
    "stdio_command",
    "stdio_env",
    "suite_config",
]
