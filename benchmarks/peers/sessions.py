"""Official-SDK client sessions over stdio to the servers under test, and one measured tool call.

The SDK's stdio transport does not expose the server's process, so a session finds it as the child
process of this one that appeared while the session started (its memory is read from
/proc/<pid>/status).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import psutil
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, TextContent, Tool

from .servers import ServerSpec

REQUEST_TIMEOUT_S = 60.0


@dataclass
class Session:
    """An open client session to one server process."""

    spec: ServerSpec
    client: Client
    pid: int
    tools: dict[str, Tool]


@dataclass(frozen=True)
class Outcome:
    """One tool call: how long it took and what the model would read."""

    ms: float
    is_error: bool
    text: str
    structured: str  # compact JSON of the structured content, "" when there is none

    @property
    def text_chars(self) -> int:
        return len(self.text)

    @property
    def structured_chars(self) -> int:
        return len(self.structured)


def parameters(spec: ServerSpec) -> StdioServerParameters:
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return StdioServerParameters(command=spec.command, args=list(spec.args), env={**env, **spec.env})


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children()}


def _server_pid(spec: ServerSpec, before: set[int]) -> int:
    new = sorted(_children() - before)
    if not new:
        raise RuntimeError(f"{spec.label}: no new child process after the session started")
    name = Path(spec.command).name
    for pid in new:
        try:
            if any(Path(part).name == name for part in psutil.Process(pid).cmdline()[:2]):
                return pid
        except psutil.Error:
            continue
    return new[0]


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def connect(spec: ServerSpec, errlog: TextIO) -> Client:
    """An SDK client that spawns the server; every request (initialize included) is bounded in time."""
    return Client(stdio_client(parameters(spec), errlog=errlog), read_timeout_seconds=REQUEST_TIMEOUT_S)


@asynccontextmanager
async def open_session(spec: ServerSpec, logs: Path) -> AsyncIterator[Session]:
    """Start the server, initialize, list its tools; its stderr goes to `logs/<key>.log`."""
    async with AsyncExitStack() as stack:
        errlog = stack.enter_context((logs / f"{spec.key.replace(':', '-')}.log").open("a"))
        before = _children()
        client = await stack.enter_async_context(connect(spec, errlog))
        pid = _server_pid(spec, before)
        listed = await client.list_tools()
        yield Session(spec, client, pid, {tool.name: tool for tool in listed.tools})


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def structured_of(result: CallToolResult) -> str:
    if result.structured_content is None:
        return ""
    return json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Outcome:
    """Call a tool and time it, from sending the request to the validated result."""
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    ms = (time.perf_counter() - started) * 1000
    return Outcome(ms, bool(result.is_error), text_of(result), structured_of(result))
