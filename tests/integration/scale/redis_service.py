"""A real redis-server on a free loopback port, started and stopped by PID (restartable on the same port)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.services import free_port, require_program, stop_process, wait_until


class RedisServer:
    """One redis-server without persistence; `stop()` kills it (state lost), `start()` brings it back."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.program = require_program("redis-server")
        self.root = root
        self.port = port if port is not None else free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # Foreground (no --daemonize) so the fixture owns the PID; no disk state, loopback only.
        args = [
            self.program,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        args += ["--dir", str(self.root), "--protected-mode", "yes"]
        log = (self.root / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            wait_until(lambda: bool(client.ping()), timeout=15, what="redis-server")
        finally:
            client.close()

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crashed pod would go."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@contextmanager
def redis_server(root: Path) -> Iterator[RedisServer]:
    server = RedisServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
