"""Helpers for fixtures that start real services on loopback.

A fixture whose program is missing skips with a clear reason on a contributor's machine, and
fails instead when `CODE_REQUIRE_SERVICES=1` (as `.ci/run` sets it), so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def cache_dir() -> Path:
    """Where setup caches slow builds and downloads: `$CODE_MCP_CACHE`, else ~/.cache/code-mcp."""
    return Path(os.environ.get("CODE_MCP_CACHE") or Path.home() / ".cache" / "code-mcp")


def services_required() -> bool:
    return os.environ.get("CODE_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip (or fail, when services are required) because a service cannot run."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)  # turned into a failure above when CODE_REQUIRE_SERVICES=1


def require_program(name: str, *candidates: str) -> str:
    """Return the path of the first program found, or skip/fail naming what is missing."""
    for candidate in (name, *candidates):
        path = shutil.which(candidate)
        if path:
            return path
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    unavailable(f"{name} is not installed (run scripts/setup)")
    raise AssertionError("unreachable")


_GIVEN: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS says is free right now, and that no earlier call in this
    process returned: the OS may hand a just-closed port out again, and two services of one fixture
    given the same port make the second fail to bind while the first answers in its place."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `check` until it returns True; fail after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: S110 - the service is still starting
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def stop_process(proc: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Terminate a process started by a fixture, killing it if it does not stop in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
