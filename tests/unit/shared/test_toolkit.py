"""ServerKit: tier gating, derived annotations, registration rules; the metrics it feeds."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from shared.config import SuiteConfig
from shared.errors import ConfigError
from shared.metrics import Metrics
from shared.policy import Tier
from shared.runtime import Runtime
from shared.toolkit import ServerKit

pytestmark = pytest.mark.anyio


def kit(**config: Any) -> ServerKit:
    return ServerKit("unit", SuiteConfig(**config), instructions="unit tests")


async def noop() -> str:
    """Do nothing."""
    return "ok"


@pytest.mark.parametrize(
    ("tier_config", "expected"),
    [
        ({}, {"r"}),
        ({"unit": "write"}, {"r", "w"}),
        ({"unit": "admin"}, {"r", "w", "a"}),
        ({"other": "admin"}, {"r"}),
    ],
)
async def test_only_tools_within_the_configured_tier_are_registered(
    tier_config: dict[str, str], expected: set[str]
) -> None:
    k = kit(policy={"tiers": tier_config})
    for name, tier in (("r", Tier.READ), ("w", Tier.WRITE), ("a", Tier.ADMIN)):
        k.tool(name=name, title=name.upper(), permission="monitoring:read", tier=tier, open_world=False)(noop)
    assert set(k.tool_names) == expected
    async with Client(k.server) as client:
        assert {t.name for t in (await client.list_tools()).tools} == expected


async def test_annotations_can_be_overridden_and_docstring_is_the_description() -> None:
    k = kit(policy={"tiers": {"unit": "write"}})
    k.tool(name="w", title="W", permission="deployment:write", tier=Tier.WRITE, open_world=True,
           destructive=False, idempotent=True)(noop)  # fmt: skip
    k.tool(name="r", title="R", permission="monitoring:read", open_world=False, description="Custom.")(noop)
    async with Client(k.server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    w = tools["w"].annotations
    assert w is not None
    assert (w.read_only_hint, w.destructive_hint, w.idempotent_hint, w.open_world_hint) == (
        False,
        False,
        True,
        True,
    )
    assert tools["w"].description == "Do nothing."
    assert tools["r"].description == "Custom."


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "BadName"}, "snake_case"),
        ({"name": "x" * 65}, "snake_case"),
        ({"title": " "}, "title"),
        ({"permission": ""}, "permission"),
    ],
)
def test_registration_refuses_bad_declarations(kwargs: dict[str, Any], error: str) -> None:
    values: dict[str, Any] = {
        "name": "ok_name",
        "title": "T",
        "permission": "monitoring:read",
        "open_world": False,
    }
    values.update(kwargs)
    with pytest.raises(ValueError, match=error):
        kit().tool(**values)(noop)


def test_sync_tools_undocumented_tools_and_duplicates_are_refused() -> None:
    k = kit()
    decorate = k.tool(name="t", title="T", permission="monitoring:read", open_world=False)

    def sync() -> str:
        """Sync."""
        return "x"

    async def undocumented() -> str:
        return "x"

    with pytest.raises(TypeError, match="async def"):
        decorate(sync)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="description"):
        decorate(undocumented)
    decorate(noop)
    with pytest.raises(ValueError, match="twice"):
        decorate(noop)


def test_costs_come_from_config_and_must_fit_the_quotas() -> None:
    k = kit(limits={"tool": {"rate": 1, "burst": 2}, "costs": {"heavy": 2}})
    k.tool(name="heavy", title="H", permission="monitoring:read", open_world=False)(noop)
    with pytest.raises(ConfigError, match="exceeds"):
        k.tool(name="huge", title="H", permission="monitoring:read", cost=3, open_world=False)


async def test_servers_sharing_a_runtime_share_its_metrics() -> None:
    runtime = Runtime(SuiteConfig())
    kits = [ServerKit(name, runtime.config, runtime, instructions="x") for name in ("one", "two")]
    for k in kits:
        k.tool(name="t", title="T", permission="monitoring:read", open_world=False)(noop)
        async with Client(k.server) as client:
            await client.call_tool("t", {})
    text = runtime.metrics.exposition().decode()
    assert 'code_mcp_tool_calls_total{outcome="ok",server="one",tool="t"} 1.0' in text
    assert 'code_mcp_tool_calls_total{outcome="ok",server="two",tool="t"} 1.0' in text


def test_metrics_count_errors_and_refusals() -> None:
    metrics = Metrics()
    metrics.observe_call("s", "t", "ok", 0.001)
    metrics.observe_call("s", "t", "tool_error", 0.002)
    metrics.observe_refusal("s", "t", "rate_limit")
    text = metrics.exposition().decode()
    assert 'code_mcp_tool_errors_total{server="s",tool="t"} 1.0' in text
    assert 'code_mcp_tool_refusals_total{reason="rate_limit",server="s",tool="t"} 1.0' in text
    assert 'code_mcp_tool_latency_seconds_count{server="s",tool="t"} 2.0' in text


def test_consensus_is_the_rust_engine_re_exported() -> None:
    import rust_core
    from shared import consensus

    assert consensus.consensus is rust_core.consensus
    report = consensus.consensus(["The service is healthy.", "The service is healthy.", "It is down."])
    assert report.agreement >= 2 / 3 - 1e-9
    assert 0.0 <= consensus.text_similarity("a b", "a c") <= 1.0
