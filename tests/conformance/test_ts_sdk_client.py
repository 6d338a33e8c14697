"""The TypeScript SDK as a second, independent client over stdio, SSE and streamable HTTP: list
tools, call one read-only tool per server, validate the structured result against its output schema;
and get a prompt, read a resource (an MCP Apps view) and complete an argument."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conformance.targets import (
    CLIENT_DIR,
    READ_CALLS,
    SERVER_NAMES,
    node_env,
    node_tool,
    stdio_command,
    stdio_env,
    suite_config,
)
from tests.support.connect import Connector

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

TIMEOUT_S = 120.0
SCRIPT = CLIENT_DIR / "check_server.mjs"


async def run_ts_client(spec: dict[str, Any], tmp_path: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Run check_server.mjs with Node 22 on `spec`; returns (status, per-target reports, stderr)."""
    node = node_tool("node")
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    with anyio.fail_after(TIMEOUT_S):
        proc = await anyio.run_process(
            [str(node), str(SCRIPT), str(spec_file)], env=node_env(), cwd=CLIENT_DIR, check=False
        )
    stderr = proc.stderr.decode(errors="replace")
    try:
        reports: list[dict[str, Any]] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the TypeScript client printed no report ({proc.returncode}):\n{stderr[-3000:]}")
    return proc.returncode, reports, stderr


@pytest.mark.parametrize("server", SERVER_NAMES)
async def test_typescript_client_over_stdio_sse_and_streamable_http(server: str, tmp_path: Path) -> None:
    call = READ_CALLS[server]
    config = suite_config(tmp_path)
    async with AsyncExitStack() as stack:
        urls = {}
        for transport in ("sse", "http", "stdio"):
            folder = tmp_path / transport
            folder.mkdir()
            served = await stack.enter_async_context(Connector(transport, folder).serve(server, config))
            urls[transport] = served.url
        config_file = served.config_file  # stdio: only written; the TypeScript client launches it
        command = stdio_command(server, config_file)
        targets = [
            {"transport": "stdio", "command": command[0], "args": command[1:], "env": stdio_env()},
            {"transport": "sse", "url": urls["sse"]},
            {"transport": "http", "url": urls["http"]},
        ]
        status, reports, stderr = await run_ts_client(
            {"tool": call.tool, "arguments": call.arguments, "targets": targets}, tmp_path
        )
    failed = [r for r in reports if not r.get("ok")]
    assert status == 0 and not failed, json.dumps(failed, indent=2)[:4000] + "\n" + stderr[-2000:]
    assert [r["transport"] for r in reports] == ["stdio", "sse", "http"]
    for report in reports:
        assert report["serverName"] == server
        assert call.tool in report["tools"] and report["readOnlyHint"] is True
        assert report["schemaValid"] is True
        call.check(report["structuredContent"])


async def test_typescript_client_gets_prompts_resources_and_completions(tmp_path: Path) -> None:
    config = suite_config(tmp_path)
    config["monitoring"] = {
        "endpoints": {"local": {"url": "http://127.0.0.1:9"}, "lab": {"url": "http://127.0.0.1:9"}}
    }
    for folder in ("http", "stdio"):
        (tmp_path / folder).mkdir()
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            Connector("http", tmp_path / "http").serve("monitoring", config)
        )
        stdio = await stack.enter_async_context(
            Connector("stdio", tmp_path / "stdio").serve("monitoring", config)
        )
        spec = {
            "surfaces": {
                "prompt": {"name": "incident_triage", "arguments": {"service": "checkout"}},
                "resource": "ui://monitoring/range_chart.html",
                "complete": {
                    "ref": {"type": "ref/resource", "uri": "alerts://{endpoint}"},
                    "argument": {"name": "endpoint", "value": "lo"},
                },
            },
            "targets": [
                {"transport": "stdio", "command": stdio_command("monitoring", stdio.config_file)[0],
                 "args": stdio_command("monitoring", stdio.config_file)[1:], "env": stdio_env()},
                {"transport": "http", "url": http.url},
            ],
        }  # fmt: skip
        status, reports, stderr = await run_ts_client(spec, tmp_path)
    failed = [r for r in reports if not r.get("ok")]
    assert status == 0 and not failed, json.dumps(failed, indent=2)[:4000] + "\n" + stderr[-2000:]
    for report in reports:
        assert {"incident_triage", "alert_explain"} <= set(report["prompts"])
        assert "checkout" in report["promptText"] and "prom_query" in report["promptText"]
        assert "ui://monitoring/range_chart.html" in report["resources"]
        assert "alerts://{endpoint}" in report["templates"]
        assert report["resourceMimeType"] == "text/html;profile=mcp-app"
        assert "Content-Security-Policy" in report["resourceText"]
        assert report["completions"] == ["local"]


async def test_the_schema_validator_used_by_the_client_rejects_a_mismatch() -> None:
    """The schema check is real: the validator check_server.mjs uses fails a result that breaks the schema."""
    node = node_tool("node")
    probe = (
        'import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";'
        "const v = new AjvJsonSchemaValidator().getValidator("
        '{type: "object", required: ["experts"], properties: {experts: {type: "array"}}});'
        'process.stdout.write(JSON.stringify([v({experts: []}).valid, v({experts: "x"}).valid]));'
    )
    with anyio.fail_after(TIMEOUT_S):
        proc = await anyio.run_process(
            [str(node), "--input-type=module", "-e", probe], env=node_env(), cwd=CLIENT_DIR, check=False
        )
    assert json.loads(proc.stdout) == [True, False], proc.stderr.decode(errors="replace")
