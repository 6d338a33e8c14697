"""Resources, prompts and completions of the kit: through the guard (identity, permission, audit),
redacted, bounded, errors mapped by class — read with the official SDK client."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, TextContent, TextResourceContents

from shared.calls import CallRecord
from shared.errors import NotFound, UpstreamUnavailable
from shared.guard import UNKNOWN_TOOL
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.surfaces import MAX_COMPLETIONS
from shared.toolkit import ServerKit

pytestmark = pytest.mark.anyio
TOKEN = "ghp_" + "Zx9Y" * 9


class Recorder(Runtime):
    def __init__(self, config: SuiteConfig) -> None:
        super().__init__(config)
        self.records: list[CallRecord] = []

    def record(self, call: CallRecord) -> None:
        super().record(call)
        self.records.append(call)


def build(role: str = "watcher") -> tuple[Any, Recorder]:
    """A server read by `role`: `watcher` holds monitoring:read only."""
    runtime = Recorder(SuiteConfig(role=role, policy={"roles": {"watcher": ["monitoring:read"]}}))
    kit = ServerKit("unit", runtime.config, runtime, instructions="unit tests")

    @kit.resource("thing://{thing_id}/report", "thing_report", "Report", permission="monitoring:read")
    def report(thing_id: str) -> dict[str, Any]:
        """The report of one thing."""
        if thing_id == "missing":
            raise NotFound(f"no thing {thing_id!r}: list them first")
        if thing_id == "bug":
            raise RuntimeError("internal detail that must not leak")
        return {"id": thing_id, "token": TOKEN}

    @kit.resource("secret://{name}", "secret_thing", "Admin-only reading", permission="deployment:read")
    def secret(name: str) -> str:
        """Readable with deployment:read only."""
        return name

    @kit.prompt("triage", "Triage a service", permission="monitoring:read")
    def triage(service: str) -> str:
        """Look into a service."""
        return f"Investigate {service}: call prom_query first. key={TOKEN}"

    @kit.completion(permission="monitoring:read")
    async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        if argument.name == "down":
            raise UpstreamUnavailable("the backend is down")
        return [f"{argument.value}{n}" for n in range(MAX_COMPLETIONS + 20)]

    return kit.server, runtime


def test_a_resource_with_a_write_permission_is_refused_at_registration() -> None:
    kit = ServerKit("unit", SuiteConfig(), instructions="unit tests")
    with pytest.raises(ValueError, match="only read"):
        kit.resource("x://{a}", "x", "X", permission="deployment:write")(lambda a: a)


async def test_a_resource_read_is_redacted_and_audited() -> None:
    server, runtime = build()
    async with Client(server) as client:
        templates = (await client.list_resource_templates()).resource_templates
        result = await client.read_resource("thing://t1/report")
    assert [t.uri_template for t in templates] == ["thing://{thing_id}/report", "secret://{name}"]
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    assert '"id":"t1"' in content.text and "Zx9YZx9Y" not in content.text
    assert [(r.tool, r.outcome, dict(r.arguments)) for r in runtime.records] == [
        ("resource:thing_report", "ok", {"uri": "thing://t1/report"})
    ]


async def test_a_reader_without_the_permission_is_refused_like_a_tool_call() -> None:
    server, runtime = build()
    async with Client(server) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource("secret://x")
    assert "needs permission 'deployment:read'" in str(refused.value)
    assert refused.value.error.data["error"] == "permission_denied"
    assert [(r.tool, r.outcome) for r in runtime.records] == [("resource:secret_thing", "denied")]


async def test_failures_are_mapped_by_class_and_a_bug_reveals_nothing() -> None:
    server, runtime = build()
    async with Client(server) as client:
        with pytest.raises(MCPError) as missing:
            await client.read_resource("thing://missing/report")
        with pytest.raises(MCPError) as bug:
            await client.read_resource("thing://bug/report")
        with pytest.raises(MCPError):
            await client.read_resource("nothing://here")
    assert "list them first" in str(missing.value)
    assert "internal detail" not in str(bug.value)
    assert f"request {runtime.records[1].request_id}" in str(bug.value)
    assert [(r.tool, r.outcome) for r in runtime.records] == [
        ("resource:thing_report", "tool_error"),
        ("resource:thing_report", "crashed"),
        (UNKNOWN_TOOL, "tool_error"),
    ]


async def test_a_prompt_is_redacted_and_audited() -> None:
    server, runtime = build()
    async with Client(server) as client:
        listed = (await client.list_prompts()).prompts
        got = await client.get_prompt("triage", {"service": "checkout"})
    assert [(p.name, [a.name for a in p.arguments or []]) for p in listed] == [("triage", ["service"])]
    text = got.messages[0].content
    assert isinstance(text, TextContent)
    assert "Investigate checkout: call prom_query" in text.text and "Zx9YZx9Y" not in text.text
    assert [(r.tool, r.outcome) for r in runtime.records] == [("prompt:triage", "ok")]


async def test_completions_are_bounded_and_audited() -> None:
    server, runtime = build()
    async with Client(server) as client:
        ref = PromptReference(type="ref/prompt", name="triage")
        done = await client.complete(ref, {"name": "service", "value": "ch"})
    values = done.completion.values
    assert len(values) == MAX_COMPLETIONS and values[0] == "ch0"
    assert done.completion.total == MAX_COMPLETIONS + 20 and done.completion.has_more is True
    assert [(r.tool, r.outcome) for r in runtime.records] == [("completion", "ok")]


async def test_a_completion_whose_backend_fails_offers_nothing_and_is_audited() -> None:
    server, runtime = build()
    async with Client(server) as client:
        ref = PromptReference(type="ref/prompt", name="triage")
        done = await client.complete(ref, {"name": "down", "value": ""})
    assert done.completion.values == []
    assert [(r.tool, r.outcome, r.detail) for r in runtime.records] == [
        ("completion", "tool_error", "the backend is down")
    ]
