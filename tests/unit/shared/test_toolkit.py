"""ServerKit and its toolsets: registration, tiers and enable/disable lists, derived annotations, and
the one result pipeline (redaction, budget, errors by class, paging bound to the call)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, ClassVar

import anyio
import pytest
from mcp import Client
from mcp.server.apps import Apps
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent, TextResourceContents
from pydantic import BaseModel, Field

from shared.calls import CallRecord, current_identity
from shared.errors import ConfigError, InvalidArgument, NotFound, PermissionDenied, RateLimited
from shared.metrics import Metrics
from shared.paging import Columns, Cursor, Limit, Page, page
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.toolkit import ServerKit
from shared.views import APP_MIME_TYPE, CSP
from tests.support.pages import rows, values

pytestmark = pytest.mark.anyio


class Out(BaseModel):
    text: str = Field(description="Some text.")


def kit(**config: Any) -> ServerKit:
    return ServerKit("unit", SuiteConfig(**config), instructions="unit tests")


class Recorder(Runtime):
    """A runtime that keeps the call records instead of writing an audit log."""

    def __init__(self, config: SuiteConfig) -> None:
        super().__init__(config)
        self.records: list[CallRecord] = []

    def record(self, call: CallRecord) -> None:
        super().record(call)
        self.records.append(call)


def recording(**config: Any) -> tuple[ServerKit, Recorder]:
    runtime = Recorder(SuiteConfig(**config))
    return ServerKit("unit", runtime.config, runtime, instructions="unit tests"), runtime


async def noop() -> Out:
    """Do nothing."""
    return Out(text="ok")


def text_of(result: Any) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


# --------------------------------------------------------------------------- registration


@pytest.mark.parametrize(
    ("tier_config", "expected"),
    [
        ({}, {"r"}),
        ({"unit": "write"}, {"r", "w"}),
        ({"unit": "admin"}, {"r", "w", "a"}),
        ({"x": "admin"}, {"r"}),
    ],
)
async def test_the_permission_sets_the_tier_and_only_tools_within_it_exist(
    tier_config: dict[str, str], expected: set[str]
) -> None:
    k = kit(policy={"tiers": tier_config})
    for name, permission in (("r", "monitoring:read"), ("w", "deployment:write"), ("a", "deployment:admin")):
        k.toolset(permission=permission, open_world=False).tool(name, name.upper())(noop)
    assert set(k.tool_names) == expected
    async with Client(k.server) as client:
        assert {t.name for t in (await client.list_tools()).tools} == expected


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ({"tools_disabled": ["k8s_delete"]}, {"k8s_get", "k8s_list", "docker_list"}),
        ({"tools_disabled": ["k8s_*"]}, {"docker_list"}),
        ({"tools_enabled": ["k8s_get", "docker_*"]}, {"k8s_get", "docker_list"}),
        ({"tools_enabled": ["k8s_*"], "tools_disabled": ["k8s_delete"]}, {"k8s_get", "k8s_list"}),
        ({"tools_enabled": ["nothing_matches"]}, set()),
    ],
)
async def test_tools_enabled_and_disabled_decide_which_tools_exist_within_the_tier(
    lists: dict[str, list[str]], expected: set[str]
) -> None:
    k = kit(policy={"tiers": {"unit": "admin"}, **lists})
    reads = k.toolset(permission="deployment:read", open_world=True)
    for name in ("k8s_get", "k8s_list", "docker_list"):
        reads.tool(name, name)(noop)
    k.toolset(permission="deployment:admin", open_world=True).tool("k8s_delete", "Delete")(noop)
    assert set(k.tool_names) == expected
    async with Client(k.server) as client:
        assert {t.name for t in (await client.list_tools()).tools} == expected


async def test_annotations_are_derived_and_can_be_overridden() -> None:
    k = kit(policy={"tiers": {"unit": "write"}})
    writes = k.toolset(permission="deployment:write", open_world=True)
    writes.tool("w", "W", destructive=False, idempotent=True)(noop)
    writes.tool("w2", "W2")(noop)
    k.toolset(permission="monitoring:read", open_world=True).tool(
        "r", "R", open_world=False, description="Custom."
    )(noop)
    async with Client(k.server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    hints = {
        name: (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        for name, tool in tools.items()
        if (a := tool.annotations) is not None
    }
    assert hints == {
        "w": (False, False, True, True),
        "w2": (False, True, False, True),
        "r": (True, False, True, False),
    }
    assert tools["w"].description == "Do nothing."
    assert tools["r"].description == "Custom."
    assert tools["r"].title == "R" and tools["r"].output_schema is not None


@pytest.mark.parametrize(("name", "title"), [("BadName", "T"), ("x" * 65, "T"), ("ok", " ")])
def test_registration_refuses_bad_names_and_titles(name: str, title: str) -> None:
    with pytest.raises(ValueError, match=r"snake_case|title"):
        kit().toolset(permission="monitoring:read", open_world=False).tool(name, title)


def test_registration_refuses_undocumented_tools_duplicates_and_tools_without_a_model() -> None:
    tools = kit().toolset(permission="monitoring:read", open_world=False)

    async def undocumented() -> Out:
        return Out(text="x")

    async def plain() -> str:
        """Returns a bare string: no output schema."""
        return "x"

    with pytest.raises(ValueError, match="description"):
        tools.tool("u", "U")(undocumented)
    with pytest.raises(ValueError, match="pydantic model"):
        tools.tool("p", "P")(plain)
    tools.tool("t", "T")(noop)
    with pytest.raises(ValueError, match="twice"):
        tools.tool("t", "T")(noop)
    with pytest.raises(ValueError, match="permission"):
        kit().toolset(permission=" ", open_world=False)


def test_costs_come_from_config_and_must_fit_the_quotas() -> None:
    k = kit(limits={"tool": {"rate": 1, "burst": 2}, "costs": {"heavy": 2}})
    tools = k.toolset(permission="monitoring:read", open_world=False)
    tools.tool("heavy", "H")(noop)
    with pytest.raises(ConfigError, match="exceeds"):
        tools.tool("huge", "H", cost=3)


# --------------------------------------------------------------------------- the result pipeline


async def test_every_result_is_redacted_in_structured_content_and_text() -> None:
    k = kit()

    @k.toolset(permission="monitoring:read", open_world=False).tool("leak", "Leak")
    async def leak() -> Out:
        """A tool that forgot about secrets."""
        return Out(text="connect to redis://:hunter2@cache:6379 with password=swordfish")

    async with Client(k.server) as client:
        result = await client.call_tool("leak", {})
    assert not result.is_error
    assert "hunter2" not in text_of(result) and "swordfish" not in text_of(result)
    assert result.structured_content is not None
    assert "hunter2" not in result.structured_content["text"]
    assert "swordfish" not in result.structured_content["text"]


async def test_the_text_block_is_compact_json() -> None:
    k = kit()
    k.toolset(permission="monitoring:read", open_world=False).tool("t", "T")(noop)
    async with Client(k.server) as client:
        result = await client.call_tool("t", {})
    assert text_of(result) == '{"text":"ok"}'


async def test_a_result_over_the_cap_is_cut_and_says_so() -> None:
    k = kit(output={"max_chars": 1000, "max_result_chars": 2000})

    @k.toolset(permission="monitoring:read", open_world=False).tool("big", "Big")
    async def big() -> Out:
        """Too much text."""
        return Out(text="A" * 50_000)

    async with Client(k.server) as client:
        result = await client.call_tool("big", {})
    assert result.structured_content is not None
    assert len(result.structured_content["text"]) < 2100
    assert "clipped" in result.structured_content["text"]
    assert "result cut to the output budget" in text_of(result)
    assert result.meta is not None and "code-mcp/clipped" in result.meta


@pytest.mark.parametrize(
    ("error", "reason", "outcome"),
    [
        (InvalidArgument("use a smaller number"), "invalid_argument", "tool_error"),
        (NotFound("no such thing; list them first"), "not_found", "tool_error"),
        (PermissionDenied("the policy says no"), "permission_denied", "denied"),
        (RateLimited("slow down", retry_after_ms=1500), "rate_limited", "rate_limited"),
    ],
)
async def test_expected_failures_are_mapped_by_class(error: Exception, reason: str, outcome: str) -> None:
    k, runtime = recording()

    @k.toolset(permission="monitoring:read", open_world=False).tool("fails", "Fails")
    async def fails() -> Out:
        """Fails."""
        raise error

    async with Client(k.server) as client:
        result = await client.call_tool("fails", {})
    assert result.is_error and text_of(result) == str(error)
    assert result.structured_content is not None and result.structured_content["error"] == reason
    assert result.meta is not None and result.meta["code-mcp/refusal"]["error"] == reason
    assert [r.outcome for r in runtime.records] == [outcome]
    if isinstance(error, RateLimited):
        assert result.structured_content["retry_after_ms"] == 1500


async def test_a_permission_denied_inside_a_tool_looks_like_the_guard_s_own_refusal() -> None:
    k, runtime = recording(policy={"tiers": {"unit": "write"}})
    k.toolset(permission="deployment:write", open_world=False).tool("w", "W")(noop)

    @k.toolset(permission="monitoring:read", open_world=False).tool("inner", "Inner")
    async def inner() -> Out:
        """Refused by a policy check in the domain code."""
        raise PermissionDenied("namespace 'kube-system' is protected")

    async with Client(k.server) as client:
        by_tool = await client.call_tool("inner", {})
    viewer, runtime_v = recording(role="viewer", policy={"tiers": {"unit": "write"}})
    viewer.toolset(permission="deployment:write", open_world=False).tool("w", "W")(noop)
    async with Client(viewer.server) as client:
        by_guard = await client.call_tool("w", {})
    assert by_tool.structured_content is not None and by_guard.structured_content is not None
    assert set(by_tool.structured_content) == set(by_guard.structured_content) == {"error", "message"}
    assert by_tool.structured_content["error"] == by_guard.structured_content["error"] == "permission_denied"
    assert [r.outcome for r in runtime.records] == [r.outcome for r in runtime_v.records] == ["denied"]


async def test_a_crash_reveals_nothing_and_is_audited_as_crashed() -> None:
    k, runtime = recording()

    @k.toolset(permission="monitoring:read", open_world=False).tool("boom", "Boom")
    async def boom() -> Out:
        """A bug."""
        raise RuntimeError("internal detail: db password is hunter2")

    async with Client(k.server) as client:
        result = await client.call_tool("boom", {})
    assert result.is_error
    assert "hunter2" not in text_of(result) and "internal detail" not in text_of(result)
    assert result.structured_content is not None and result.structured_content["error"] == "internal_error"
    assert runtime.records[0].request_id is not None and runtime.records[0].request_id in text_of(result)
    assert [r.outcome for r in runtime.records] == ["crashed"]


async def test_a_protocol_error_stays_a_protocol_error() -> None:
    k, runtime = recording()

    @k.toolset(permission="monitoring:read", open_world=False).tool("proto", "Proto")
    async def proto() -> Out:
        """Invalid whatever the model does."""
        raise MCPError(-32602, "not on this server")

    async with Client(k.server) as client:
        with pytest.raises(MCPError, match="not on this server"):
            await client.call_tool("proto", {})
    assert [r.outcome for r in runtime.records] == ["tool_error"]


async def test_arguments_off_the_schema_are_audited_as_a_tool_error_without_running_the_tool() -> None:
    k, runtime = recording()
    ran: list[str] = []

    @k.toolset(permission="monitoring:read", open_world=False).tool("echo", "Echo")
    async def echo(text: Annotated[str, Field(description="Text.")]) -> Out:
        """Echo."""
        ran.append(text)
        return Out(text=text)

    async with Client(k.server) as client:
        result = await client.call_tool("echo", {"text": 5, "extra": True})
    assert result.is_error and ran == []
    assert [r.outcome for r in runtime.records] == ["tool_error"]


async def test_unknown_tools_are_charged_to_the_caller_and_audited() -> None:
    k, runtime = recording(limits={"identity": {"rate": 1, "burst": 2, "period_s": 3600}})
    k.toolset(permission="monitoring:read", open_world=False).tool("t", "T")(noop)
    async with Client(k.server) as client:
        first = await client.call_tool("no_such_tool", {"a": 1})
        second = await client.call_tool("no_such_tool", {})
        real = await client.call_tool("t", {})
    assert first.is_error and second.is_error
    assert real.is_error and real.structured_content is not None
    assert real.structured_content["error"] == "rate_limited"  # the unknown calls spent the quota
    assert [(r.tool, r.outcome) for r in runtime.records] == [
        ("(unknown tool)", "tool_error"),
        ("(unknown tool)", "tool_error"),
        ("t", "rate_limited"),
    ]
    assert runtime.records[0].arguments["name"] == "no_such_tool"


async def test_a_blocking_tool_runs_in_a_worker_thread_and_the_loop_keeps_going() -> None:
    k = kit()
    release = threading.Event()
    threads: list[str] = []

    @k.toolset(permission="monitoring:read", open_world=False).tool("slow", "Slow")
    def slow() -> Out:
        """Blocks until released."""
        threads.append(threading.current_thread().name)
        release.wait(10)
        return Out(text=current_identity().subject)

    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while not release.is_set():
            ticks += 1
            await anyio.sleep(0.005)

    async with Client(k.server) as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(tick)

                async def call() -> None:
                    result = await client.call_tool("slow", {})
                    assert not result.is_error

                tg.start_soon(call)
                while ticks < 20:  # noqa: ASYNC110 - the loop runs while the tool blocks: that is the point
                    await anyio.sleep(0.005)
                release.set()
    assert threads and threads[0] != threading.main_thread().name


# --------------------------------------------------------------------------- paging bound to the call


def numbers_kit(**config: Any) -> ServerKit:
    k = kit(**config)

    @k.toolset(permission="monitoring:read", open_world=False).tool("numbers", "Numbers")
    async def numbers(
        parity: Annotated[str, Field(description="all, even or odd")] = "all",
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[int]:
        """Numbers 0..99."""
        return page([n for n in range(100) if parity == "all" or (n % 2 == 0) == (parity == "even")])

    return k


async def test_a_cursor_continues_exactly_its_query() -> None:
    k = numbers_kit()
    async with Client(k.server) as client:
        first = await client.call_tool("numbers", {"limit": 10})
        cursor = (first.structured_content or {})["next_cursor"]
        second = await client.call_tool("numbers", {"limit": 10, "cursor": cursor})
        bigger_pages = await client.call_tool("numbers", {"limit": 20, "cursor": cursor})
        other_filter = await client.call_tool("numbers", {"limit": 10, "cursor": cursor, "parity": "odd"})
    assert values(second.structured_content) == list(range(10, 20))
    assert values(bigger_pages.structured_content) == list(range(10, 30))  # limit is not the query
    assert other_filter.is_error and "belongs to another query" in text_of(other_filter)


async def test_a_cursor_made_for_one_caller_or_one_process_is_refused_elsewhere() -> None:
    k = numbers_kit()
    async with Client(k.server) as client:
        cursor = ((await client.call_tool("numbers", {"limit": 10})).structured_content or {})["next_cursor"]
    other_caller = numbers_kit(role="admin")  # another process, and another role for the same user
    async with Client(other_caller.server) as client:
        refused = await client.call_tool("numbers", {"limit": 10, "cursor": cursor})
    assert refused.is_error and "cursor" in text_of(refused)


async def test_a_shared_cursor_key_lets_any_replica_continue(tmp_path: Any) -> None:
    key = tmp_path / "cursor.key"
    key.write_text("0123456789abcdef0123456789abcdef")
    a, b = (
        numbers_kit(output={"cursor_key_file": str(key)}),
        numbers_kit(output={"cursor_key_file": str(key)}),
    )
    async with Client(a.server) as client:
        cursor = ((await client.call_tool("numbers", {"limit": 10})).structured_content or {})["next_cursor"]
    async with Client(b.server) as client:
        result = await client.call_tool("numbers", {"limit": 10, "cursor": cursor})
    assert values(result.structured_content) == list(range(10, 20))


class Host(BaseModel):
    default_columns: ClassVar[tuple[str, ...]] = ("name", "up")

    name: str = Field(description="Host name")
    up: bool = Field(description="Whether it answers")
    labels: dict[str, str] = Field(description="Labels")


async def test_a_listing_tool_with_columns_says_which_and_pages_by_them() -> None:
    k = kit()

    @k.toolset(permission="monitoring:read", open_world=False).tool("hosts", "Hosts")
    async def hosts(cursor: Cursor = None, limit: Limit = None, columns: Columns = None) -> Page[Host]:
        """Every host."""
        return page([Host(name=f"h{i}", up=i % 2 == 0, labels={"rack": str(i)}) for i in range(30)])

    async with Client(k.server) as client:
        [listed] = (await client.list_tools()).tools
        first = await client.call_tool("hosts", {"limit": 10})
        cursor = (first.structured_content or {})["next_cursor"]
        wider = await client.call_tool(
            "hosts", {"limit": 10, "cursor": cursor, "columns": ["name", "labels"]}
        )
        wrong = await client.call_tool("hosts", {"columns": ["password"]})
    assert listed.description is not None
    assert listed.description.endswith("Rows hold: name, up; ask for more with columns=[...]: labels.")
    assert (first.structured_content or {})["columns"] == ["name", "up"]
    assert rows(wider.structured_content)[0] == {"name": "h10", "labels": {"rack": "10"}}  # same query
    assert wrong.is_error and "unknown column 'password'" in text_of(wrong)


# --------------------------------------------------------------------------- metrics


async def test_servers_sharing_a_runtime_share_its_metrics() -> None:
    runtime = Runtime(SuiteConfig())
    kits = [ServerKit(name, runtime.config, runtime, instructions="x") for name in ("one", "two")]
    for k in kits:
        k.toolset(permission="monitoring:read", open_world=False).tool("t", "T")(noop)
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


async def test_a_view_needs_the_apps_extension_and_is_read_through_the_guard(tmp_path: Path) -> None:
    source = tmp_path / "v.html"
    source.write_text("<script>window.render = function (data, el, root) {};</script>")
    with pytest.raises(ValueError, match="MCP Apps"):
        kit().view("v", "A view", source, permission="deployment:read")
    offered = ServerKit("unit", SuiteConfig(), instructions="unit tests", extensions=[Apps()])
    meta = offered.view("v", "A view", source, permission="deployment:read")
    assert meta == {"ui": {"resourceUri": "ui://unit/v.html"}}
    async with Client(offered.server) as client:
        capabilities = client.server_capabilities
        assert capabilities is not None and "io.modelcontextprotocol/ui" in (capabilities.extensions or {})
        (content,) = (await client.read_resource("ui://unit/v.html")).contents
    assert isinstance(content, TextResourceContents) and content.mime_type == APP_MIME_TYPE
    assert f'content="{CSP}"' in content.text and "window.render" in content.text
    assert "ui/initialize" in content.text  # the bridge is in
