"""How each server under test is launched over stdio: CODE's four, the five peers, and the bare SDK server.

CODE runs as users run it, `code-mcp serve <server> --transport stdio` with `CODE_MCP_CONFIG` naming
one configuration file (role viewer, the loopback backends, the benchmark's namespace allowed by
policy, quotas lifted far above the benchmark's call rate so no call is refused; everything else
default). Each peer runs from its own prefix in the cache, pointed at the
same backends the way its README says (environment variables or flags), in its read-only mode
where it has one — CODE's viewer role registers read tools only too. The Go Kubernetes server is
started as its native binary, not through the npm package's Node launcher, so its start-up and
memory are the server's own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomli_w

from .backends import Backends
from .install import ALERTMANAGER, DOCKER, KUBERNETES_GO, KUBERNETES_NODE, PROMETHEUS, PeerPackage

REPO = Path(__file__).resolve().parents[2]
BARE_SERVER = Path(__file__).resolve().parent / "bare_server.py"
CODE_SERVERS = ("deployment", "monitoring", "experts", "security-scan")

Side = Literal["code", "peer", "bare"]


@dataclass(frozen=True)
class ServerSpec:
    """One server process: how to start it and what to call it in tables."""

    key: str
    label: str
    side: Side
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    package: PeerPackage | None = None
    compared_with: tuple[str, ...] = ()  # CODE only: the keys of the peers that do its job

    @property
    def version(self) -> str:
        return self.package.version if self.package else ""


def code_config(backends: Backends, folder: Path) -> Path:
    """The one configuration file every CODE server reads."""
    unlimited = {"rate": 1e6, "burst": 1_000_000}
    data: dict[str, Any] = {
        "role": "viewer",
        "limits": {"global": unlimited, "identity": unlimited},
        "policy": {"k8s_namespaces": [backends.namespace]},
        "deployment": {
            "docker_host": backends.docker_host,
            "kubeconfig": str(backends.kubeconfig),
            "helm": {"helm_path": str(backends.helm)},
        },
        "monitoring": {
            "endpoints": {"local": {"url": backends.prometheus}},
            "alertmanagers": {"local": {"url": backends.alertmanager}},
        },
        # The conformance tests' choice: the two fastest scanners, so scan_scanners_available is cheap.
        "security_scan": {"enabled": ["shellcheck", "hadolint"]},
    }
    path = folder / "code-mcp.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def _code_command() -> tuple[str, tuple[str, ...]]:
    script = Path(sys.executable).parent / "code-mcp"
    if script.is_file():
        return str(script), ()
    return sys.executable, ("-m", "servers")


def code_servers(config: Path) -> list[ServerSpec]:
    command, prefix = _code_command()
    env = {"CODE_MCP_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    compared = {
        "deployment": ("peer:k8s-go", "peer:k8s-node", "peer:docker"),
        "monitoring": ("peer:prometheus", "peer:alertmanager"),
    }
    return [
        ServerSpec(
            key=f"code:{name}",
            label=f"CODE {name}",
            side="code",
            command=command,
            args=(*prefix, "serve", name, "--transport", "stdio"),
            env=env,
            compared_with=compared.get(name, ()),
        )
        for name in CODE_SERVERS
    ]


def peer_servers(backends: Backends, kubectl: Path) -> list[ServerSpec]:
    kube_env = {"KUBECONFIG": str(backends.kubeconfig)}
    go_binary = (
        KUBERNETES_GO.prefix
        / "node_modules"
        / "kubernetes-mcp-server-linux-amd64"
        / "bin"
        / "kubernetes-mcp-server-linux-amd64"
    )
    node_entry = KUBERNETES_NODE.prefix / "node_modules" / "mcp-server-kubernetes" / "dist" / "index.js"
    path = os.pathsep.join([str(kubectl.parent), os.environ.get("PATH", "/usr/bin:/bin")])
    return [
        ServerSpec(
            key="peer:k8s-go",
            label=f"kubernetes-mcp-server {KUBERNETES_GO.version} (Go)",
            side="peer",
            command=str(go_binary),
            args=("--kubeconfig", str(backends.kubeconfig), "--toolsets", "core,config,helm", "--read-only"),
            env=kube_env,
            package=KUBERNETES_GO,
        ),
        ServerSpec(
            key="peer:k8s-node",
            label=f"mcp-server-kubernetes {KUBERNETES_NODE.version} (Node)",
            side="peer",
            command="node",
            args=(str(node_entry),),
            env={**kube_env, "PATH": path, "ALLOW_ONLY_READONLY_TOOLS": "true"},
            package=KUBERNETES_NODE,
        ),
        ServerSpec(
            key="peer:docker",
            label=f"mcp-server-docker {DOCKER.version} (Python)",
            side="peer",
            command=str(DOCKER.prefix / "bin" / "mcp-server-docker"),
            env={"DOCKER_HOST": backends.docker_host},
            package=DOCKER,
        ),
        ServerSpec(
            key="peer:prometheus",
            label=f"prometheus-mcp-server {PROMETHEUS.version} (Python)",
            side="peer",
            command=str(PROMETHEUS.prefix / "bin" / "prometheus-mcp-server"),
            env={"PROMETHEUS_URL": backends.prometheus, "PROMETHEUS_MCP_SERVER_TRANSPORT": "stdio"},
            package=PROMETHEUS,
        ),
        ServerSpec(
            key="peer:alertmanager",
            label=f"alertmanager-mcp-server {ALERTMANAGER.version} (Python)",
            side="peer",
            command=str(ALERTMANAGER.prefix / "bin" / "alertmanager-mcp-server"),
            env={"ALERTMANAGER_URL": backends.alertmanager},
            package=ALERTMANAGER,
        ),
    ]


def bare_server() -> ServerSpec:
    """The floor: the official SDK's MCPServer with one echo tool, on the project's interpreter."""
    label = "bare SDK server (1 echo tool)"
    return ServerSpec(key="bare", label=label, side="bare", command=sys.executable, args=(str(BARE_SERVER),))
