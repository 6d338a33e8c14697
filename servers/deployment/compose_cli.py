"""Docker Compose (v2+, the Go `docker-compose`), driven with argv lists only, against one engine.

A clean environment: `DOCKER_HOST` is the server's engine, `DOCKER_CONFIG` and `HOME` a private
folder (no credential helper, context or plugin of the machine's user), nothing else — so neither
a `COMPOSE_*` variable of the server's environment nor a project's `.env` can point Compose at
another engine. Every value passes `safe_arg`; the only options are the ones this module writes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from shared.errors import InvalidArgument, NotFound, UpstreamUnavailable
from shared.redaction import redact_text
from shared.telemetry import program_span
from shared.validation import safe_arg

__all__ = ["ComposeCli"]

_FLAGS: Final = frozenset(
    {
        "--project-name",
        "--file",
        "--project-directory",
        "--profile",
        "--format",
        "--hash",
        "--all",
        "--no-env-resolution",
        "--progress",
        "--detach",
        "--pull",
        "--remove-orphans",
        "--no-build",
        "--no-color",
        "--tail",
        "--timeout",
        "--ansi",
    }
)


class ComposeCli:
    """One docker-compose binary aimed at `docker_host`."""

    def __init__(self, binary: Path | None, *, docker_host: str, timeout_s: float) -> None:
        self.binary = binary
        self.docker_host = docker_host
        self.timeout_s = timeout_s
        self.home = Path(tempfile.mkdtemp(prefix="code-mcp-compose-"))
        (self.home / "docker").mkdir(mode=0o700)

    def close(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def work_dir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="call-", dir=self.home))

    def _argv(self, args: Sequence[str]) -> list[str]:
        if self.binary is None:
            raise UpstreamUnavailable(
                "docker compose is not installed: set [deployment.compose] compose_path, or build it with "
                "scripts/setup.d/65-helm-compose.sh"
            )
        for arg in args:
            if arg.startswith("--"):
                if arg not in _FLAGS:
                    raise InvalidArgument(f"compose option {arg[:60]!r} is not one this server uses")
            else:
                safe_arg(arg, what="compose argument")
        return [str(self.binary), "--ansi", "never", *args]

    def _env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "DOCKER_CONFIG": str(self.home / "docker"),
            "DOCKER_HOST": self.docker_host,
        }

    def run(self, args: Sequence[str], *, cwd: Path | None = None, what: str) -> str:
        """Run compose; stdout, or a tool error worded from its stderr."""
        argv = self._argv(args)
        try:
            with program_span(argv, system="compose"):
                done = subprocess.run(
                    argv,
                    env=self._env(),
                    capture_output=True,
                    text=True,
                    timeout=self.timeout_s,
                    check=False,
                    cwd=cwd or self.home,
                )
        except subprocess.TimeoutExpired:
            raise UpstreamUnavailable(f"{what}: compose did not finish within {self.timeout_s:g}s") from None
        except OSError as exc:
            raise UpstreamUnavailable(f"{what}: compose could not be started ({exc.strerror})") from None
        if done.returncode != 0:
            raise compose_error(what, done.stderr)
        return done.stdout

    def run_json(self, args: Sequence[str], *, cwd: Path | None = None, what: str) -> Any:
        out = self.run(args, cwd=cwd, what=what)
        try:
            return json.loads(out)
        except ValueError:
            raise UpstreamUnavailable(f"{what}: compose printed no JSON") from None

    def stream(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        what: str,
        on_event: Callable[[dict[str, Any]], None],
    ) -> None:
        """Run compose with `--progress json`, handing each progress event to `on_event` as it comes."""
        argv = self._argv(["--progress", "json", *args])
        with program_span(argv, system="compose"):
            self._stream(argv, cwd=cwd, what=what, on_event=on_event)

    def _stream(
        self, argv: list[str], *, cwd: Path | None, what: str, on_event: Callable[[dict[str, Any]], None]
    ) -> None:
        try:
            proc = subprocess.Popen(
                argv,
                env=self._env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                cwd=cwd or self.home,
            )
        except OSError as exc:
            raise UpstreamUnavailable(f"{what}: compose could not be started ({exc.strerror})") from None
        errors: list[str] = []
        assert proc.stderr is not None
        try:
            for line in proc.stderr:
                try:
                    event = json.loads(line)
                except ValueError:
                    errors.append(line)
                    continue
                if isinstance(event, dict):
                    if event.get("level") == "error" or event.get("status") == "Error":
                        errors.append(str(event.get("msg") or event.get("text") or ""))
                    on_event(event)
            code = proc.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise UpstreamUnavailable(f"{what}: compose did not finish within {self.timeout_s:g}s") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            raise compose_error(what, "\n".join(errors))


def compose_error(what: str, stderr: str) -> Exception:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    detail = redact_text(lines[-1] if lines else "no detail")[:1500]
    if "no such" in detail.lower() or "not found" in detail.lower():
        return NotFound(f"{what}: {detail}")
    if "cannot connect to the docker daemon" in detail.lower():
        return UpstreamUnavailable(f"{what}: {detail}")
    return InvalidArgument(f"{what}: compose refused it: {detail}")
