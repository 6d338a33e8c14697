"""stdio: stdout carries JSON-RPC only, even when the server logs and a tool crashes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import tomli_w
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from tests.support.connect import REPO, subprocess_env

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

DEMO = "tests.support.demo_server:build_server"


async def send(process: Process, message: dict[str, Any]) -> None:
    assert process.stdin is not None
    await process.stdin.send((json.dumps(message) + "\n").encode())


async def test_stdout_is_json_rpc_only_when_the_server_logs_and_crashes(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        tomli_w.dumps({"logging": {"level": "DEBUG"}, "audit": {"path": str(tmp_path / "a.jsonl")}})
    )
    command = [
        sys.executable,
        "-m",
        "servers",
        "serve",
        DEMO,
        "--transport",
        "stdio",
        "--config",
        str(config),
    ]
    stdout_lines: list[str] = []
    stderr_text = ""
    with anyio.fail_after(30):
        async with await anyio.open_process(command, cwd=REPO, env=subprocess_env()) as process:
            assert process.stdout is not None and process.stderr is not None
            await send(
                process,
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "raw-test", "version": "0"},
                    },
                },
            )
            await send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
            await send(
                process, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "demo_crash"}}
            )
            call_echo = {"name": "demo_echo", "arguments": {"text": "after"}}
            await send(process, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call_echo})
            seen: set[int] = set()
            buffer = ""
            async for chunk in TextReceiveStream(process.stdout):
                buffer += chunk
                *complete, buffer = buffer.split("\n")
                stdout_lines += complete
                seen |= {json.loads(line).get("id") for line in complete if line.strip()}
                if {1, 2, 3} <= seen:
                    break
            assert process.stdin is not None
            await process.stdin.aclose()
            await process.wait()
            rest = [line async for line in TextReceiveStream(process.stdout)]
            stdout_lines += "".join([buffer, *rest]).splitlines()
            stderr_text = "".join([chunk async for chunk in TextReceiveStream(process.stderr)])

    messages = [json.loads(line) for line in stdout_lines if line.strip()]  # every line parses
    assert all(m.get("jsonrpc") == "2.0" for m in messages)
    by_id = {m["id"]: m for m in messages if "id" in m}
    assert by_id[2]["result"]["isError"] is True
    assert "secret internals" not in json.dumps(by_id[2])
    assert by_id[3]["result"]["structuredContent"] == {"text": "after", "length": 5}
    assert "about to crash" in stderr_text  # logs went to stderr
    assert "raw stderr line" in stderr_text
    assert "demo bug: secret internals" in stderr_text  # the traceback is logged, not sent
