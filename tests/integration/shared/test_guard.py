"""The guard, end to end on every transport: identity, permission, tiers, rate limit, audit, errors.

Each test runs four times (memory, stdio, sse, http) through the `connect` fixture, with the
official SDK client against the demo server built on `shared/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp_types import TextContent

from servers.cli import main as cli
from tests.support.connect import Connector

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

DEMO = "tests.support.demo_server:build_server"


def text_of(result: Any) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


async def test_a_tool_answers_with_structured_content(connect: Connector) -> None:
    """A read tool runs and returns its output model as structured content."""
    async with connect(DEMO, {"role": "viewer"}) as client:
        result = await client.call_tool("demo_echo", {"text": "héllo"})
    assert not result.is_error
    assert result.structured_content == {"text": "héllo", "length": 5}


async def test_the_tool_runs_as_the_transport_s_identity(connect: Connector) -> None:
    """stdio and in-memory run as the local user with the configured role; open loopback HTTP as anonymous."""
    async with connect(DEMO, {"role": "operator", "auth": {"anonymous_role": "viewer"}}) as client:
        result = await client.call_tool("demo_whoami", {})
    who = result.structured_content
    assert who is not None
    if connect.transport in ("memory", "stdio"):
        assert (who["method"], who["role"]) == ("local", "operator")
    else:
        assert (who["method"], who["role"], who["subject"]) == ("anonymous", "viewer", "anonymous")


async def test_tools_carry_titles_and_derived_annotations(connect: Connector) -> None:
    """Titles are set; read tools are read-only and idempotent; write tools destructive by default."""
    config = {"policy": {"tiers": {"demo": "write"}}}
    async with connect(DEMO, config) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    echo, write = tools["demo_echo"], tools["demo_write"]
    assert echo.title == "Echo"
    assert echo.annotations is not None and write.annotations is not None
    assert echo.annotations.read_only_hint is True
    assert echo.annotations.idempotent_hint is True
    assert echo.annotations.destructive_hint is False
    assert write.annotations.read_only_hint is False
    assert write.annotations.destructive_hint is True
    assert echo.output_schema is not None


async def test_tools_above_the_tier_are_absent(connect: Connector) -> None:
    """With the default read tier, write and admin tools are not registered at all."""
    async with connect(DEMO, {"role": "admin"}) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("demo_write", {"value": "x"})
    assert "demo_echo" in names
    assert "demo_write" not in names
    assert "demo_admin" not in names
    assert result.is_error  # unknown to the server, whatever the role


async def test_a_role_without_the_permission_gets_a_tool_error_naming_it(connect: Connector) -> None:
    """The write tool exists at tier write, but the viewer role lacks deployment:write."""
    config = {"role": "viewer", "auth": {"anonymous_role": "viewer"}, "policy": {"tiers": {"demo": "write"}}}
    async with connect(DEMO, config) as client:
        result = await client.call_tool("demo_write", {"value": "x"})
    assert result.is_error
    assert "deployment:write" in text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["error"] == "permission_denied"


async def test_the_call_past_the_quota_is_refused_with_retry_after(connect: Connector) -> None:
    """(identity, tool) quota of 2 per minute: the third call is a tool error carrying retry_after_ms."""
    config = {"limits": {"identity_tool": {"rate": 2, "burst": 2, "period_s": 60}}}
    async with connect(DEMO, config) as client:
        first = await client.call_tool("demo_echo", {"text": "1"})
        second = await client.call_tool("demo_echo", {"text": "2"})
        third = await client.call_tool("demo_echo", {"text": "3"})
        other_tool = await client.call_tool("demo_whoami", {})
    assert not first.is_error and not second.is_error
    assert third.is_error
    assert third.structured_content is not None
    retry = third.structured_content["retry_after_ms"]
    assert 0 < retry <= 60_000
    assert f"retry_after_ms={retry}" in text_of(third)
    assert third.meta is not None and third.meta["code-mcp/refusal"]["retry_after_ms"] == retry
    assert not other_tool.is_error  # the quota is per (identity, tool)


async def test_costly_tools_spend_their_cost(connect: Connector) -> None:
    """A cost-2 tool spends a burst of 3 in two calls."""
    config = {"limits": {"tool": {"rate": 1, "burst": 3, "period_s": 60}}}
    async with connect(DEMO, config) as client:
        first = await client.call_tool("demo_costly", {})
        second = await client.call_tool("demo_costly", {})
    assert not first.is_error
    assert second.is_error
    assert second.structured_content is not None and second.structured_content["error"] == "rate_limited"


async def test_tool_errors_and_crashes_reach_the_model_as_tool_errors(connect: Connector) -> None:
    """A ToolFailure's message reaches the model; a bug's internals do not."""
    async with connect(DEMO) as client:
        failed = await client.call_tool("demo_fail", {"reason": "testing"})
        crashed = await client.call_tool("demo_crash", {})
        after = await client.call_tool("demo_echo", {"text": "still alive"})
    assert failed.is_error and "failing because testing" in text_of(failed)
    assert crashed.is_error
    assert "secret internals" not in text_of(crashed)
    assert not after.is_error


async def test_unknown_tools_and_bad_arguments_are_the_sdk_s_business(connect: Connector) -> None:
    async with connect(DEMO) as client:
        unknown = await client.call_tool("no_such_tool", {})
        bad = await client.call_tool("demo_echo", {"text": 5, "extra": True})
    assert unknown.is_error
    assert bad.is_error


async def test_every_call_is_audited_and_the_chain_verifies(connect: Connector, tmp_path: Path) -> None:
    """One hash-chained line per call, refusals included; `code-mcp audit verify` accepts it."""
    log = tmp_path / "audit.jsonl"
    config = {
        "audit": {"path": str(log), "fsync": False},
        "limits": {"identity_tool": {"rate": 2, "burst": 2, "period_s": 60}},
    }
    async with connect(DEMO, config) as client:
        await client.call_tool("demo_echo", {"text": "password=hunter2"})
        await client.call_tool("demo_echo", {"text": "again"})
        await client.call_tool("demo_echo", {"text": "refused"})
        await client.call_tool("demo_fail", {})
        await client.call_tool("demo_crash", {})
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["ok", "ok", "rate_limited", "tool_error", "crashed"]
    assert [line["tool"] for line in lines] == ["demo_echo"] * 3 + ["demo_fail", "demo_crash"]
    assert all(line["server"] == "demo" for line in lines)
    assert "hunter2" not in log.read_text()
    assert cli(["audit", "verify", str(log)]) == 0
