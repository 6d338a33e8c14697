"""The helm CLI (v4), driven with argv lists only, in homes of its own, with explicit cluster flags.

Each server gets private `HELM_CACHE_HOME`, `HELM_CONFIG_HOME`, `HELM_DATA_HOME` and `HELM_PLUGINS`
folders and a clean environment (no `KUBECONFIG`, no `HELM_*` from the server's own environment),
so no repository, registry login, plugin or kubeconfig of the machine's user changes what helm
does. Every argument passes `safe_arg` (no option smuggled in as a value), and every call names the
kubeconfig and context (and the impersonated caller) explicitly.

The one plugin installed is this server's post-renderer `code-mcp-render`: at plan time it records
the exact stream helm rendered (`record`), at apply time it hands helm back that recorded stream
(`replay`), so what is installed is byte for byte what was planned and admitted — even for a chart
whose templates call `randAlphaNum` or `lookup`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from servers.deployment.impersonation import Impersonation
from shared.errors import InvalidArgument, NotFound, PermissionDenied, UpstreamUnavailable
from shared.redaction import redact_text
from shared.telemetry import program_span
from shared.validation import safe_arg

__all__ = ["HelmCli", "KubeTarget", "find_program"]

# Every option a call may carry. A value is a separate argument and must pass `safe_arg`, so no
# caller-supplied text can become an option (`--post-renderer=/bin/sh`, `--kubeconfig=...`).
_FLAGS: Final = frozenset(
    {
        "--all",
        "--all-namespaces",
        "--deployed",
        "--failed",
        "--pending",
        "--superseded",
        "--uninstalling",
        "--destination",
        "--dry-run=server",
        "--install",
        "--kube-as-group",
        "--kube-as-user",
        "--kube-context",
        "--kubeconfig",
        "--max",
        "--namespace",
        "--output",
        "--post-renderer",
        "--post-renderer-args",
        "--revision",
        "--timeout",
        "--values",
        "--version",
        "--wait=hookOnly",
        "--plain-http",
    }
)

PLUGIN: Final = "code-mcp-render"
_PLUGIN_YAML: Final = f"""apiVersion: v1
type: postrenderer/v1
name: {PLUGIN}
version: 1.0.0
runtime: subprocess
runtimeConfig:
  platformCommand:
    - command: "${{HELM_PLUGIN_DIR}}/render.sh"
"""
_RENDER_SH: Final = """#!/bin/sh
# code-mcp's post-renderer: `record` keeps what helm rendered, `replay` gives back what was planned.
set -eu
case "${1:-}" in
  record) tee "$CODE_MCP_RENDERED" ;;
  replay) cat >/dev/null; cat "$CODE_MCP_RENDERED" ;;
  *) echo "usage: render.sh record|replay" >&2; exit 2 ;;
esac
"""


def find_program(configured: Path | None, name: str, cache_parts: Sequence[str]) -> Path | None:
    """`configured`, else `name` on PATH, else the suite's build cache (`$CODE_MCP_CACHE/...`)."""
    if configured is not None:
        return configured
    found = shutil.which(name)
    if found:
        return Path(found)
    cache = Path(os.environ.get("CODE_MCP_CACHE", Path.home() / ".cache" / "code-mcp"))
    candidate = cache.joinpath(*cache_parts)
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


@dataclass(frozen=True)
class KubeTarget:
    """Which cluster a helm call talks to, and as whom."""

    kubeconfig: Path | None
    context: str
    namespace: str
    impersonate: Impersonation | None = None

    def flags(self) -> list[str]:
        flags = ["--kube-context", self.context, "--namespace", self.namespace]
        if self.kubeconfig is not None:
            flags = ["--kubeconfig", str(self.kubeconfig), *flags]
        if self.impersonate is not None:
            flags += ["--kube-as-user", self.impersonate.user]
            for group in self.impersonate.groups:
                flags += ["--kube-as-group", group]
        return flags


class HelmCli:
    """One helm binary with this server's private homes and post-renderer plugin."""

    def __init__(self, binary: Path | None, *, timeout_s: float) -> None:
        self.binary = binary
        self.timeout_s = timeout_s
        self.home = Path(tempfile.mkdtemp(prefix="code-mcp-helm-"))
        plugin = self.home / "plugins" / PLUGIN
        plugin.mkdir(parents=True)
        (plugin / "plugin.yaml").write_text(_PLUGIN_YAML)
        script = plugin / "render.sh"
        script.write_text(_RENDER_SH)
        script.chmod(0o700)
        for folder in ("cache", "config", "data", "work"):
            (self.home / folder).mkdir(mode=0o700)

    def close(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def work_dir(self) -> Path:
        """A fresh private folder for one call's files (chart, values, rendered stream)."""
        return Path(tempfile.mkdtemp(prefix="call-", dir=self.home / "work"))

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
            "HELM_PLUGINS": str(self.home / "plugins"),
            "HELM_DRIVER": "secret",
            "HELM_NO_UPDATE_NOTIFIER": "1",
        }
        return {**env, **(extra or {})}

    def run(
        self,
        args: Sequence[str],
        *,
        target: KubeTarget | None = None,
        env: dict[str, str] | None = None,
        what: str,
        timeout_s: float | None = None,
    ) -> str:
        """Run `helm ARGS [cluster flags]`; stdout, or a tool error worded from helm's stderr."""
        if self.binary is None:
            raise UpstreamUnavailable(
                "helm is not installed: set [deployment.helm] helm_path, or build it with "
                "scripts/setup.d/65-helm-compose.sh"
            )
        argv = [str(self.binary), *args, *(target.flags() if target is not None else [])]
        for arg in argv[1:]:
            if arg.startswith("--"):
                if arg not in _FLAGS:  # only the options this module writes itself, never a value
                    raise InvalidArgument(f"helm option {arg[:60]!r} is not one this server uses")
            else:
                safe_arg(arg, what="helm argument")
        try:
            with program_span(argv, system="helm"):
                done = subprocess.run(
                    argv,
                    env=self.environment(env),
                    capture_output=True,
                    text=True,
                    timeout=timeout_s or self.timeout_s,
                    check=False,
                    cwd=self.home,
                )
        except subprocess.TimeoutExpired as exc:
            raise UpstreamUnavailable(f"{what}: helm did not finish within {exc.timeout:g}s") from None
        except OSError as exc:
            raise UpstreamUnavailable(f"{what}: helm could not be started ({exc.strerror})") from None
        if done.returncode != 0:
            raise helm_error(what, done.stderr)
        return done.stdout

    def run_json(self, args: Sequence[str], **kwargs: Any) -> Any:
        out = self.run([*args, "--output", "json"], **kwargs)
        try:
            return json.loads(out) if out.strip() else None
        except ValueError:
            raise UpstreamUnavailable(f"{kwargs.get('what', 'helm')}: helm printed no JSON") from None


def helm_error(what: str, stderr: str) -> Exception:
    """A tool error from helm's stderr (its last `Error:` line, secrets redacted)."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    message = next(
        (line for line in reversed(lines) if line.startswith("Error:")), lines[-1] if lines else ""
    )
    detail = redact_text(message.removeprefix("Error:").strip())[:1500] or "no detail"
    lowered = detail.lower()
    if "release: not found" in lowered or ("not found" in lowered and "release" in lowered):
        return NotFound(f"{what}: {detail}; list releases with helm_list")
    if "forbidden" in lowered or "unauthorized" in lowered:
        return PermissionDenied(f"{what}: the cluster refused it: {detail}")
    if "connection refused" in lowered or "no such host" in lowered or "i/o timeout" in lowered:
        return UpstreamUnavailable(f"{what}: cannot reach the cluster: {detail}")
    return InvalidArgument(f"{what}: helm refused it: {detail}")
