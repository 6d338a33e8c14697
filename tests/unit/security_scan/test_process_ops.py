"""Scanner processes: argument lists, a time limit, and the whole process group killed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from servers.security_scan.process_ops import ProcessTimeout, run_process, scanner_env
from tests.support.services import wait_until

pytestmark = pytest.mark.anyio

# A parent that starts a grandchild, writes its pid, then waits forever: killing only the parent
# would leave the grandchild running.
FAMILY = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _has_pid(path: Path) -> bool:
    return path.exists() and path.read_text() != ""


async def _wait_for_file(path: Path) -> int:
    await anyio.to_thread.run_sync(
        lambda: wait_until(lambda: _has_pid(path), timeout=20, what="child pid file")
    )
    return int(await anyio.Path(path).read_text())


async def _wait_dead(pid: int) -> None:
    await anyio.to_thread.run_sync(
        lambda: wait_until(lambda: not _alive(pid), timeout=10, what=f"death of {pid}")
    )


async def test_output_and_exit_code_are_collected() -> None:
    result = await run_process(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
        timeout_s=30,
    )
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (3, b"out", b"err")


async def test_arguments_are_not_interpreted_by_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"; touch {marker}"
    result = await run_process(
        [sys.executable, "-c", "import sys; print(sys.argv[1])", hostile], timeout_s=30
    )
    assert result.stdout.decode().strip() == hostile
    assert not marker.exists()


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    with pytest.raises(ProcessTimeout, match="did not finish within 5s"):
        await run_process([sys.executable, "-c", FAMILY, str(pidfile)], timeout_s=5)
    await _wait_dead(int(pidfile.read_text()))


async def test_cancellation_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: run_process([sys.executable, "-c", FAMILY, str(pidfile)], timeout_s=600))
        grandchild = await _wait_for_file(pidfile)
        assert _alive(grandchild)
        tg.cancel_scope.cancel()
    await _wait_dead(grandchild)


async def test_a_missing_program_raises_oserror() -> None:
    with pytest.raises(OSError):
        await run_process(["/nonexistent/scanner"], timeout_s=5)


def test_scanner_environment_drops_python_start_up_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", ".")
    monkeypatch.setenv("PYTHONSTARTUP", "/tmp/evil.py")
    env = scanner_env({"BC_SKIP_MAPPING": "TRUE"})
    assert "PYTHONPATH" not in env
    assert "PYTHONSTARTUP" not in env
    assert (env["PYTHONSAFEPATH"], env["BC_SKIP_MAPPING"]) == ("1", "TRUE")
    assert env["PATH"] == os.environ["PATH"]
