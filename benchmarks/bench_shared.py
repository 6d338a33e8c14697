"""The shared stack's overhead: a guarded echo tool vs a bare `MCPServer` echo tool (and FastMCP).

    python -m benchmarks.bench_shared [--calls 300] [--per-client 30] [--clients 20] [--fastmcp PYTHON]

Every figure comes from one run on this machine, each against a baseline measured in that run:

- in memory, stdio, SSE and streamable HTTP; sequential calls on one session, then 20 concurrent
  clients (memory/stdio: 20 concurrent calls on one session; SSE/HTTP: 20 sessions): p50, p99, calls/s;
- the shared stack = API-key auth (HTTP) + policy + four nested rate-limit rules + a hash-chained
  audit log (fsync on) + argument validation, served by the real `code-mcp serve`;
- FastMCP (a separate virtualenv given by `--fastmcp`, default /tmp/fastmcp-venv/bin/python) with
  its rate-limiting and logging middleware, on stdio and streamable HTTP;
- spawn-to-first-result over stdio: `code-mcp serve` vs a bare SDK server.

Servers run as subprocesses (`python -m benchmarks.bench_shared _serve ...`); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
DEVNULL = Path(os.devnull).open("w")  # noqa: SIM115 - stdio servers' stderr, for the whole run
API_KEY = "cmk_bench_key_not_a_secret_0123456789"


# --------------------------------------------------------------------------- the servers


class Echoed(BaseModel):
    """The result both servers return (the kit's tools return a model: structured content)."""

    text: str


def build_bare() -> Any:
    from mcp.server.mcpserver import MCPServer

    server: MCPServer[Any] = MCPServer("bare")

    @server.tool(name="echo", title="Echo")
    async def echo(text: str) -> Echoed:
        """Send the text back."""
        return Echoed(text=text)

    return server


def build_shared(config: Any, *, runtime: Any = None, **_: Any) -> Any:
    """The same echo tool behind the whole shared stack (factory for `code-mcp serve`)."""
    from shared.toolkit import ServerKit
    from shared.validation import no_nul

    kit = ServerKit("bench", config, runtime, instructions="benchmark")
    reads = kit.toolset(permission="monitoring:read", open_world=False)

    @reads.tool("echo", "Echo")
    async def echo(text: str) -> Echoed:
        """Send the text back."""
        return Echoed(text=no_nul(text, what="text"))

    return kit.server


def _serve(kind: str, transport: str, port: int) -> None:
    """Serve the bare server (the shared one is served by `code-mcp serve`)."""
    import logging

    import anyio
    import uvicorn

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    server = build_bare()
    if transport == "stdio":
        anyio.run(server.run_stdio_async)
        return
    app = (
        server.streamable_http_app(host="127.0.0.1")
        if transport == "http"
        else server.sse_app(host="127.0.0.1")
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


FASTMCP_SERVER = textwrap.dedent(
    """
    import sys
    from fastmcp import FastMCP
    from fastmcp.server.middleware.logging import LoggingMiddleware
    from fastmcp.server.middleware.rate_limiting import RateLimitingMiddleware

    mcp = FastMCP("fast")
    mcp.add_middleware(LoggingMiddleware())
    mcp.add_middleware(RateLimitingMiddleware(max_requests_per_second=100000, burst_capacity=100000))

    @mcp.tool
    async def echo(text: str) -> str:
        "Send the text back."
        return text

    transport, port = sys.argv[1], int(sys.argv[2])
    if transport == "stdio":
        mcp.run(transport="stdio", show_banner=False)
    else:
        mcp.run(transport="http", host="127.0.0.1", port=port, show_banner=False, log_level="warning")
    """
)


# --------------------------------------------------------------------------- clients


@dataclass
class Target:
    """How to reach one server under test."""

    label: str
    transport: str  # memory | stdio | sse | http
    command: list[str] | None = None  # stdio: the server command; HTTP: the process to start
    url: str | None = None
    token: str | None = None
    server: Any = None  # memory


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def session(target: Target) -> AsyncIterator[Any]:
    import httpx2
    from mcp import Client, StdioServerParameters
    from mcp.client.sse import sse_client
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    if target.transport == "memory":
        async with Client(target.server) as client:
            yield client
    elif target.transport == "stdio":
        assert target.command is not None
        params = StdioServerParameters(command=target.command[0], args=target.command[1:], cwd=REPO)
        async with Client(stdio_client(params, errlog=DEVNULL)) as client:
            yield client
    elif target.transport == "sse":
        assert target.url is not None
        async with Client(sse_client(target.url, headers=headers, timeout=60)) as client:
            yield client
    else:
        assert target.url is not None
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(target.url, http_client=http)) as client,
        ):
            yield client


async def _timed_calls(client: Any, n: int, samples: list[float]) -> None:
    for i in range(n):
        start = time.perf_counter()
        result = await client.call_tool("echo", {"text": f"hello {i}"})
        samples.append(time.perf_counter() - start)
        if result.is_error:
            raise RuntimeError(f"echo failed: {result.content}")


@dataclass
class Figures:
    p50_ms: float
    p99_ms: float
    calls_s: float


def _figures(samples: list[float], wall: float) -> Figures:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Figures(statistics.median(ordered) * 1000, p99 * 1000, len(ordered) / wall)


async def sequential(target: Target, calls: int) -> Figures:
    samples: list[float] = []
    async with session(target) as client:
        await _timed_calls(client, 20, [])  # warm-up
        start = time.perf_counter()
        await _timed_calls(client, calls, samples)
        wall = time.perf_counter() - start
    return _figures(samples, wall)


async def concurrent(target: Target, clients: int, per_client: int) -> Figures:
    import anyio

    samples: list[float] = []
    if target.transport in ("memory", "stdio"):
        async with session(target) as client:
            await _timed_calls(client, 20, [])
            start = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(clients):
                    tg.start_soon(_timed_calls, client, per_client, samples)
            wall = time.perf_counter() - start
        return _figures(samples, wall)

    ready = anyio.Event()
    opened = 0

    async def one_client() -> None:
        nonlocal opened
        async with session(target) as client:
            await _timed_calls(client, 5, [])
            opened += 1
            if opened == clients:
                ready.set()
            await ready.wait()
            await _timed_calls(client, per_client, samples)

    start = 0.0

    async def mark_start() -> None:
        nonlocal start
        await ready.wait()
        start = time.perf_counter()

    async with anyio.create_task_group() as tg:
        tg.start_soon(mark_start)
        for _ in range(clients):
            tg.start_soon(one_client)
    return _figures(samples, time.perf_counter() - start)


# --------------------------------------------------------------------------- processes


@asynccontextmanager
async def http_process(command: list[str], url: str) -> AsyncIterator[None]:
    import anyio
    import httpx

    proc = await anyio.open_process(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = url.rsplit("/", 1)[0]
        with anyio.fail_after(60):
            while True:
                try:
                    async with httpx.AsyncClient() as http:
                        await http.get(base + "/", timeout=1)
                    break
                except httpx.TransportError:
                    await anyio.sleep(0.1)
        yield
    finally:
        proc.terminate()
        with anyio.fail_after(10):
            await proc.wait()


def shared_config(tmp: Path, transport: str) -> Path:
    import tomli_w

    from shared.auth import hash_api_key

    config: dict[str, Any] = {
        "role": "viewer",
        "limits": {
            "global": {"rate": 1_000_000, "burst": 1_000_000},
            "identity": {"rate": 1_000_000, "burst": 1_000_000},
            "tool": {"rate": 1_000_000, "burst": 1_000_000},
            "identity_tool": {"rate": 1_000_000, "burst": 1_000_000},
        },
        "audit": {"path": str(tmp / f"audit-{transport}-{time.monotonic_ns()}.jsonl"), "fsync": True},
        "logging": {"level": "WARNING"},
    }
    if transport in ("sse", "http"):
        config["auth"] = {"api_keys": [{"id": "bench", "sha256": hash_api_key(API_KEY), "role": "viewer"}]}
    path = tmp / f"config-{transport}-{time.monotonic_ns()}.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def _bench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bench_shared", *args]


def _serve_cmd(config: Path, transport: str, port: int = 0) -> list[str]:
    factory = "benchmarks.bench_shared:build_shared"
    cmd = [
        sys.executable,
        "-m",
        "servers",
        "serve",
        factory,
        "--transport",
        transport,
        "--config",
        str(config),
    ]
    return cmd + (["--port", str(port)] if transport != "stdio" else [])


async def measure(
    label: str, target: Target, process: list[str] | None, args: argparse.Namespace
) -> dict[str, Any]:
    async def run() -> tuple[Figures, Figures]:
        seq = await sequential(target, args.calls)
        conc = await concurrent(target, args.clients, args.per_client)
        return seq, conc

    try:
        if process is not None:
            assert target.url is not None
            async with http_process(process, target.url):
                seq, conc = await run()
        else:
            seq, conc = await run()
    except Exception as exc:  # one failed scenario is reported, the others still run
        sys.stderr.write(f"  {label} {target.transport}: FAILED {exc!r}\n")
        nan = Figures(float("nan"), float("nan"), float("nan"))
        return {"label": label, "transport": target.transport, "seq": nan.__dict__, "conc": nan.__dict__}
    row = {"label": label, "transport": target.transport, "seq": seq.__dict__, "conc": conc.__dict__}
    sys.stderr.write(
        f"  {label:<8} {target.transport:<6} seq p50 {seq.p50_ms:.2f} ms, conc {conc.calls_s:.0f}/s\n"
    )
    return row


async def spawn_to_first_result(command: list[str], repeat: int, *, tool: str | None = "echo") -> float:
    """Median seconds from spawning a stdio server to the first tool result (or tools/list)."""
    times = []
    for _ in range(repeat):
        target = Target("spawn", "stdio", command=command)
        start = time.perf_counter()
        async with session(target) as client:
            if tool is None:
                await client.list_tools()
            else:
                await client.call_tool(tool, {"text": "x"})
            times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main_async(args: argparse.Namespace) -> None:
    import anyio

    from shared.config import load_config
    from shared.runtime import Runtime

    rows: list[dict[str, Any]] = []
    fast_python = Path(args.fastmcp)
    have_fast = await anyio.Path(fast_python).is_file()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        fast_script = tmp / "fast_server.py"
        await anyio.Path(fast_script).write_text(FASTMCP_SERVER)

        sys.stderr.write("in memory\n")
        rows.append(await measure("bare", Target("bare", "memory", server=build_bare()), None, args))
        runtime = Runtime.from_config(load_config(shared_config(tmp, "memory")))
        shared_server = build_shared(runtime.config, runtime=runtime)
        rows.append(await measure("shared", Target("shared", "memory", server=shared_server), None, args))
        await runtime.aclose()

        sys.stderr.write("stdio\n")
        bare_stdio = _bench_cmd("_serve", "bare", "stdio", "0")
        rows.append(await measure("bare", Target("bare", "stdio", command=bare_stdio), None, args))
        shared_stdio = _serve_cmd(shared_config(tmp, "stdio"), "stdio")
        rows.append(await measure("shared", Target("shared", "stdio", command=shared_stdio), None, args))
        if have_fast:
            fast_cmd = [str(fast_python), str(fast_script), "stdio", "0"]
            rows.append(await measure("fastmcp", Target("fastmcp", "stdio", command=fast_cmd), None, args))

        for transport, path in (("sse", "/sse"), ("http", "/mcp")):
            sys.stderr.write(f"{transport}\n")
            port = _free_port()
            url = f"http://127.0.0.1:{port}{path}"
            bare_cmd = _bench_cmd("_serve", "bare", transport, str(port))
            rows.append(await measure("bare", Target("bare", transport, url=url), bare_cmd, args))
            port = _free_port()
            url = f"http://127.0.0.1:{port}{path}"
            cmd = _serve_cmd(shared_config(tmp, transport), transport, port)
            rows.append(
                await measure("shared", Target("shared", transport, url=url, token=API_KEY), cmd, args)
            )
            if have_fast and transport == "http":
                port = _free_port()
                url = f"http://127.0.0.1:{port}/mcp"
                fast_cmd = [str(fast_python), str(fast_script), "http", str(port)]
                rows.append(await measure("fastmcp", Target("fastmcp", "http", url=url), fast_cmd, args))

        sys.stderr.write("spawn to first result (stdio)\n")
        bare_spawn = await spawn_to_first_result(_bench_cmd("_serve", "bare", "stdio", "0"), args.spawns)
        shared_spawn = await spawn_to_first_result(
            _serve_cmd(shared_config(tmp, "stdio"), "stdio"), args.spawns
        )
        spawns = {"bare": bare_spawn, "shared (code-mcp serve)": shared_spawn}
        from servers.cli import available_servers

        bare_list = await spawn_to_first_result(
            _bench_cmd("_serve", "bare", "stdio", "0"), args.spawns, tool=None
        )
        spawn_lists = {"bare (tools/list)": bare_list}
        for name in available_servers():
            cmd = [sys.executable, "-m", "servers", "serve", name]
            try:
                spawn_lists[f"code-mcp serve {name} (tools/list)"] = await spawn_to_first_result(
                    cmd, args.spawns, tool=None
                )
            except Exception as exc:  # a server that cannot start on defaults is reported, not fatal
                sys.stderr.write(f"  {name}: {exc!r}\n")

    report(rows, spawns, spawn_lists, args)


def report(
    rows: list[dict[str, Any]], spawns: dict[str, float], lists: dict[str, float], args: argparse.Namespace
) -> None:
    base = {(r["transport"], "seq"): r["seq"] for r in rows if r["label"] == "bare"}
    base |= {(r["transport"], "conc"): r["conc"] for r in rows if r["label"] == "bare"}
    print(
        f"sequential: {args.calls} calls on one session; concurrent: {args.clients} x {args.per_client} calls"
    )
    print("| server | transport | mode | p50 ms | p99 ms | calls/s | p50 vs bare |")
    print("|---|---|---|---:|---:|---:|---:|")
    for row in rows:
        for mode in ("seq", "conc"):
            fig = row[mode]
            ratio = fig["p50_ms"] / base[(row["transport"], mode)]["p50_ms"]
            mode_name = "sequential" if mode == "seq" else f"{args.clients} concurrent"
            print(
                f"| {row['label']} | {row['transport']} | {mode_name} | {fig['p50_ms']:.2f} | "
                f"{fig['p99_ms']:.2f} | {fig['calls_s']:.0f} | {ratio:.2f}x |"
            )
    print()
    print("| stdio spawn to first result | median s | vs bare |")
    print("|---|---:|---:|")
    for name, seconds in spawns.items():
        print(f"| {name} | {seconds:.3f} | {seconds / spawns['bare']:.2f}x |")
    for name, seconds in lists.items():
        print(f"| {name} | {seconds:.3f} | {seconds / lists['bare (tools/list)']:.2f}x |")
    print()
    print(json.dumps({"rows": rows, "spawn": spawns, "spawn_list": lists}))


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "_serve":
        _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=30)
    parser.add_argument("--spawns", type=int, default=5)
    parser.add_argument("--fastmcp", default="/tmp/fastmcp-venv/bin/python")  # noqa: S108 - a throwaway venv
    args = parser.parse_args()
    import logging

    import anyio

    # Before any MCPServer is built (it calls logging.basicConfig at INFO): the client side stays quiet.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    anyio.run(main_async, args)


if __name__ == "__main__":
    main()
