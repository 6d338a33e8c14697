"""Find each scanner's executable and version: configured path, then PATH, then the scanners virtualenv."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from servers.security_scan.models import ScannerInfo
from servers.security_scan.process_ops import ProcessTimeout, run_process
from servers.security_scan.scanner_specs import SCANNERS

_VERSION = re.compile(rb"\d+\.\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    path: Path | None
    version: str | None
    detail: str | None = None


class Toolchain:
    """Locates scanners once and remembers their versions."""

    def __init__(self, tool_paths: dict[str, Path], venv: Path, *, enabled: list[str]) -> None:
        self._tool_paths = tool_paths
        self._venv = venv
        self._enabled = enabled
        self._tools: dict[str, Tool] = {}

    def locate(self, name: str) -> Path | None:
        spec = SCANNERS[name]
        configured = self._tool_paths.get(name)
        if configured is not None:
            return configured if configured.is_file() and os.access(configured, os.X_OK) else None
        found = shutil.which(spec.program)
        if found:
            return Path(found)
        candidate = self._venv / "bin" / spec.program
        return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None

    async def tool(self, name: str) -> Tool:
        """The scanner's path and version; a missing scanner is looked for again next time."""
        if name in self._tools:
            return self._tools[name]
        tool = await self._probe(name)
        if tool.path is not None:
            self._tools[name] = tool
        return tool

    async def _probe(self, name: str) -> Tool:
        if name not in self._enabled:
            return Tool(name, None, None, "disabled in the [security_scan] configuration")
        path = self.locate(name)
        if path is None:
            return Tool(
                name, None, None, f"{SCANNERS[name].program} not found (configured path, PATH, {self._venv})"
            )
        spec = SCANNERS[name]
        try:
            result = await run_process([str(path), *spec.version_argv], timeout_s=60, env=spec.env)
        except (OSError, ProcessTimeout) as exc:
            return Tool(name, None, None, f"{path} does not run: {exc}")
        m = _VERSION.search(result.stdout + result.stderr)
        if result.returncode != 0 or m is None:
            return Tool(name, None, None, f"{path} --version failed (exit {result.returncode})")
        return Tool(name, path, m.group().decode())

    async def describe(self) -> list[ScannerInfo]:
        infos = []
        for name in SCANNERS:
            tool = await self.tool(name)
            infos.append(
                ScannerInfo(
                    name=name,
                    available=tool.path is not None,
                    version=tool.version,
                    path=str(tool.path) if tool.path else None,
                    detail=tool.detail,
                )
            )
        return infos
