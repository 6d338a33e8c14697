"""Run one scanner process: argument list, own process group, bounded output, killed on timeout or cancel."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream

from shared.telemetry import program_span

MAX_OUTPUT = 256 * 1024 * 1024
# A scanned tree must never become importable by a scanner (PYTHONPATH="." with the tree as working
# directory would run the project's own modules): Python start-up variables are dropped.
_DROPPED_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONINSPECT",
    "PYTHONEXECUTABLE",
)


def scanner_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without Python start-up variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update({"PYTHONSAFEPATH": "1", "PYTHONNOUSERSITE": "1"})
    env.update(extra or {})
    return env


@dataclass(frozen=True, slots=True)
class ProcessResult:
    returncode: int
    stdout: bytes
    stderr: bytes


class ProcessTimeout(Exception):
    """The process did not finish within its time limit and was killed."""


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _drain(stream: ByteReceiveStream | None, sink: bytearray) -> None:
    if stream is None:
        return
    async for chunk in stream:
        if len(sink) < MAX_OUTPUT:
            sink.extend(chunk)


async def run_process(
    argv: Sequence[str], *, timeout_s: float, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> ProcessResult:
    """Run `argv` (never through a shell) and collect its output.

    The process leads its own process group, so a timeout or a cancellation kills it and every
    child it started (checkov and semgrep fork workers).

    Raises:
        ProcessTimeout: the time limit passed; the process group was killed.
        OSError: the program could not be started.
    """
    with program_span(argv, system="scanner"):
        return await _run(argv, timeout_s=timeout_s, cwd=cwd, env=env)


async def _run(
    argv: Sequence[str], *, timeout_s: float, cwd: Path | None, env: Mapping[str, str] | None
) -> ProcessResult:
    full_env = scanner_env(env)
    proc = await anyio.open_process(list(argv), cwd=cwd, env=full_env, start_new_session=True)
    out, err = bytearray(), bytearray()
    finished = False
    try:
        with anyio.fail_after(timeout_s):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_drain, proc.stdout, out)
                tg.start_soon(_drain, proc.stderr, err)
            returncode = await proc.wait()
        finished = True
        return ProcessResult(returncode, bytes(out), bytes(err))
    except TimeoutError as exc:
        raise ProcessTimeout(f"{Path(argv[0]).name} did not finish within {timeout_s:.0f}s") from exc
    finally:
        if not finished:
            _kill_group(proc.pid)
            with anyio.CancelScope(shield=True):
                await proc.wait()
                await proc.aclose()
        else:
            await proc.aclose()
