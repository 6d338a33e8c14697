"""The monitoring server's resource, prompts and completions against the real Prometheus, read
with the official SDK client: alerts now, alert / job / metric names completed from the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, TextContent, TextResourceContents

from tests.integration.monitoring.calls import session, suite_config
from tests.integration.monitoring.prom_stack import PromStack

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_the_alerts_resource_holds_what_fires_now(tmp_path: Path, prom_stack: PromStack) -> None:
    async with session(tmp_path, suite_config(prom_stack)) as client:
        read = await client.read_resource("alerts://local")
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("alerts://prod")
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    alerts = json.loads(content.text)
    firing = sorted(a["name"] for a in alerts if a["state"] == "firing")
    assert firing == ["AlwaysFiring", *["CodeShardHot"] * 5, "InhibitedByAlwaysFiring"]
    assert "hunter2" not in content.text
    assert "local" in str(unknown.value)  # the refusal names the configured endpoints


async def test_prompts_and_completions_come_from_prometheus(tmp_path: Path, prom_stack: PromStack) -> None:
    async with session(tmp_path, suite_config(prom_stack)) as client:
        triage = await client.get_prompt("incident_triage", {"service": "node"})
        ref = PromptReference(type="ref/prompt", name="alert_explain")
        alerts = await client.complete(ref, {"name": "alert", "value": "Always"})
        services = await client.complete(
            PromptReference(type="ref/prompt", name="incident_triage"), {"name": "service", "value": ""}
        )
        metrics = await client.complete(ref, {"name": "metric", "value": "code_test_card"})
        nothing = await client.complete(ref, {"name": "unrelated", "value": ""})
    body = triage.messages[0].content
    assert isinstance(body, TextContent) and 'up{job="node"}' in body.text
    assert alerts.completion.values == ["AlwaysFiring"]
    assert "node" in services.completion.values and "gone" in services.completion.values
    assert metrics.completion.values == ["code_test_cardinality"]
    assert nothing.completion.values == []
