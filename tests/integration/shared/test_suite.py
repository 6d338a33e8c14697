"""Several servers in one HTTP app on one runtime (what `code-mcp serve suite` serves)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from servers.cli import available_servers
from shared.auth import hash_api_key
from shared.runner import Mounted, build_http_app, config_snippet
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.support.connect import REPO, serve_app, subprocess_env
from tests.support.demo_server import build_server
from tests.support.services import free_port, stop_process, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

KEY = "cmk_suite_test_key_0123456789"


async def test_mounted_servers_share_one_runtime_and_answer_under_their_prefix() -> None:
    config = SuiteConfig(auth={"api_keys": [{"id": "me", "sha256": hash_api_key(KEY), "role": "viewer"}]})
    runtime = Runtime(config)
    mounts = [
        Mounted(f"/{name}", build_server(config, runtime=runtime, name=name)) for name in ("one", "two")
    ]
    port = free_port()
    app = build_http_app(mounts, runtime, port=port)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with serve_app(app, port) as base:
        for name in ("one", "two"):
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as http,
                Client(streamable_http_client(f"{base}/{name}/mcp", http_client=http)) as client,
            ):
                result = await client.call_tool("demo_whoami", {})
                assert result.structured_content is not None
                assert result.structured_content["subject"] == "me"
        async with httpx.AsyncClient(timeout=10) as http:
            metadata = await http.get(f"{base}/.well-known/oauth-protected-resource/two/mcp")
            unauthenticated = await http.post(f"{base}/one/mcp", json={})
            metrics = (await http.get(f"{base}/metrics", headers=headers)).text
    assert metadata.json()["resource"] == f"{base}/two/mcp"
    assert unauthenticated.status_code == 401
    assert 'code_mcp_tool_calls_total{outcome="ok",server="one",tool="demo_whoami"} 1.0' in metrics
    assert 'code_mcp_tool_calls_total{outcome="ok",server="two",tool="demo_whoami"} 1.0' in metrics
    await runtime.aclose()


async def test_a_credential_limited_to_some_servers_opens_only_those() -> None:
    limited = "cmk_only_one_0123456789"
    keys = [
        {"id": "me", "sha256": hash_api_key(KEY), "role": "viewer"},
        {"id": "one-only", "sha256": hash_api_key(limited), "role": "viewer", "servers": ["one"]},
    ]
    config = SuiteConfig(auth={"api_keys": keys})
    runtime = Runtime(config)
    mounts = [
        Mounted(f"/{name}", build_server(config, runtime=runtime, name=name)) for name in ("one", "two")
    ]
    port = free_port()
    app = build_http_app(mounts, runtime, port=port)
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with serve_app(app, port) as base:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {limited}"}, timeout=30) as http,
            Client(streamable_http_client(f"{base}/one/mcp", http_client=http)) as client,
        ):
            allowed = await client.call_tool("demo_whoami", {})
        async with httpx.AsyncClient(timeout=10) as http:
            refused = await http.post(
                f"{base}/two/mcp", json=ping, headers={"Authorization": f"Bearer {limited}", **accept}
            )
            full = await http.post(
                f"{base}/two/mcp", json=ping, headers={"Authorization": f"Bearer {KEY}", **accept}
            )
    assert not allowed.is_error
    assert refused.status_code == 403 and "does not open the two server" in refused.json()["message"]
    assert full.status_code != 403  # the SDK answers (a bare ping needs a session first)
    await runtime.aclose()


def test_config_snippet_names_every_server_with_its_header() -> None:
    snippet = json.loads(config_snippet("http://127.0.0.1:9", {"a": "/a/mcp"}, "tok", transport="http"))
    assert snippet == {
        "mcpServers": {
            "code-a": {
                "type": "http",
                "url": "http://127.0.0.1:9/a/mcp",
                "headers": {"Authorization": "Bearer tok"},
            }
        }
    }
    assert (
        "headers" not in json.loads(config_snippet("http://x", {"a": "/a/sse"}, None))["mcpServers"]["code-a"]
    )


def test_serve_suite_on_defaults_prints_a_working_snippet(tmp_path: Path) -> None:
    """`code-mcp serve suite` with no config: loopback HTTP, a per-run key printed once in the snippet."""
    assert available_servers(), "every suite server should be importable"
    port = free_port()
    stderr = tmp_path / "stderr.log"
    command = [sys.executable, "-m", "servers", "serve", "suite", "--port", str(port)]
    with stderr.open("w") as err:
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=err, env=subprocess_env())
    try:
        wait_until(
            lambda: "mcpServers" in stderr.read_text() and "}" in stderr.read_text(), timeout=30, what="suite"
        )
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200, timeout=30, what="suite"
        )
        text = stderr.read_text()
        start = text.index('{\n  "mcpServers"')
        snippet, length = json.JSONDecoder().raw_decode(text[start:])
        entry = next(iter(snippet["mcpServers"].values()))
        token = entry["headers"]["Authorization"]
        assert re.fullmatch(r"Bearer cmk_\S{40,}", token)
        assert token.split()[1] not in text[:start] + text[start + length :]  # only in the snippet
        assert httpx.post(entry["url"], json={}).status_code == 401
    finally:
        stop_process(proc)
    assert proc.stdout is not None
    assert proc.stdout.read() == b""  # nothing on stdout
