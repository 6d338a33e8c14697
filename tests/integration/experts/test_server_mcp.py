"""The experts server through real MCP client sessions (memory, stdio, SSE, streamable HTTP),
with the FAKE providers on loopback behind it."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from servers.experts.server import build_server
from shared.auth import hash_api_key
from shared.settings import SuiteConfig
from tests.integration.experts.conftest import FAKE_KEY
from tests.integration.experts.fake_providers import Behaviour, FakeProviders
from tests.support.connect import Connector
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AGREE = "Rust's ownership prevents data races.\nVERDICT: yes | CONFIDENCE: 0.9"
AGREE_TOO = "Yes: the borrow checker rules out data races at compile time.\nVERDICT: yes | CONFIDENCE: 0.8"
DISAGREE = "Unsafe blocks can still race.\nVERDICT: no | CONFIDENCE: 0.4"


def config(fake: FakeProviders, **experts_extra: Any) -> dict[str, Any]:
    experts: dict[str, Any] = {
        "providers": [
            {"name": "anthropic", "kind": "anthropic", "base_url": fake.anthropic_url, "api_key": FAKE_KEY},
            {"name": "gemini", "kind": "gemini", "base_url": fake.gemini_url, "api_key": FAKE_KEY},
            {"name": "compat", "kind": "openai_compatible", "base_url": fake.openai_url, "api_key": FAKE_KEY},
        ],
        "experts": [
            {
                "name": "claude",
                "provider": "anthropic",
                "model": "claude-x",
                "input_usd_per_mtok": 3,
                "output_usd_per_mtok": 15,
            },
            {
                "name": "gemini",
                "provider": "gemini",
                "model": "gemini-x",
                "input_usd_per_mtok": 1,
                "output_usd_per_mtok": 4,
            },
            {"name": "local", "provider": "compat", "model": "local-x"},
        ],
        "local_probe_url": "",
    }
    experts.update(experts_extra)
    return {"role": "viewer", "experts": experts}


def script(fake: FakeProviders) -> None:
    fake.script.update(
        {
            "claude-x": Behaviour(answer=AGREE, input_tokens=50, output_tokens=20),
            "gemini-x": Behaviour(answer=AGREE_TOO, input_tokens=60, output_tokens=25),
            "local-x": Behaviour(answer=DISAGREE, input_tokens=40, output_tokens=15),
        }
    )


async def test_tools_have_titles_annotations_and_output_schemas(
    connect: Connector, fake: FakeProviders
) -> None:
    async with connect("experts", config(fake)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"experts_ask", "experts_vote", "experts_review", "experts_list"}
    for tool in tools.values():
        assert tool.title
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema is not None
    assert tools["experts_ask"].annotations.open_world_hint is True  # type: ignore[union-attr]
    assert tools["experts_ask"].annotations.idempotent_hint is False  # type: ignore[union-attr]
    ask = tools["experts_ask"].input_schema["properties"]
    assert "question" in ask
    assert ask["min_agreement"]["anyOf"][0]["maximum"] == 1
    assert {"synthesize", "chairman", "thread_id", "files"} <= set(ask)
    report = tools["experts_ask"].output_schema["properties"]  # type: ignore[index]
    assert {"synthesis", "thread_id", "round", "grouping", "attachments"} <= set(report)


async def test_experts_ask_returns_a_report_and_progress(connect: Connector, fake: FakeProviders) -> None:
    script(fake)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect("experts", config(fake)) as client:
        with anyio.fail_after(30):
            result = await client.call_tool(
                "experts_ask", {"question": "Does Rust prevent data races?"}, progress_callback=on_progress
            )
    assert not result.is_error, result.content
    report = result.structured_content
    assert report is not None
    assert report["answered"] == 3
    assert report["consensus_verdict"] == "yes"
    assert report["agreement"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["clusters"][1]["members"] == ["local"]
    costs = {e["expert"]: e["cost_usd"] for e in report["experts"]}
    assert costs["claude"] == pytest.approx((50 * 3 + 20 * 15) / 1e6)
    assert costs["local"] == 0.0
    assert sorted(p[0] for p in seen) == [1, 2, 3]
    assert {p[1] for p in seen} == {3}
    assert all(p[2] and ": answered" in p[2] for p in seen)


async def test_vote_review_and_list_over_mcp(fake: FakeProviders) -> None:
    fake.script.update(
        {
            "claude-x": Behaviour(answer="CHOICE: tabs"),
            "gemini-x": Behaviour(answer="CHOICE: tabs"),
            "local-x": Behaviour(answer="CHOICE: spaces"),
        }
    )
    server = build_server(SuiteConfig.model_validate(config(fake)))
    async with Client(server) as client:
        voted = await client.call_tool("experts_vote", {"question": "Indent?", "options": ["tabs", "spaces"]})
        script(fake)
        reviewed = await client.call_tool(
            "experts_review", {"content": "fn main() {}", "stances": ["for", "against", "neutral"]}
        )
        listed = await client.call_tool("experts_list", {})
    assert voted.structured_content is not None
    assert voted.structured_content["winner"] == "tabs"
    assert voted.structured_content["margin"] == pytest.approx(1 / 3, abs=1e-3)
    assert reviewed.structured_content is not None
    assert [e["stance"] for e in reviewed.structured_content["experts"]] == ["for", "against", "neutral"]
    assert listed.structured_content is not None
    roster = listed.structured_content
    assert [e["name"] for e in roster["experts"]] == ["claude", "gemini", "local"]
    assert roster["experts"][0]["input_usd_per_mtok"] == 3
    assert {p["name"]: p["calls"] for p in roster["providers"]} == {"anthropic": 2, "gemini": 2, "compat": 2}
    assert all(p["breaker"] == "closed" and p["key_configured"] for p in roster["providers"])


async def test_bad_arguments_are_tool_errors_the_model_can_fix(fake: FakeProviders) -> None:
    server = build_server(SuiteConfig.model_validate(config(fake)))
    async with Client(server) as client:
        unknown = await client.call_tool("experts_ask", {"question": "q", "experts": ["ghost"]})
        too_rich = await client.call_tool("experts_ask", {"question": "q", "budget_usd": 99})
        bad_agreement = await client.call_tool("experts_ask", {"question": "q", "min_agreement": 3})
    assert unknown.is_error and "unknown experts: ghost" in str(unknown.content)
    assert too_rich.is_error and "budget_usd must be between 0 and 10" in str(too_rich.content)
    assert bad_agreement.is_error
    assert not fake.seen


async def test_a_client_cancel_cancels_the_provider_calls(fake: FakeProviders) -> None:
    fake.script.update({m: Behaviour(delay_s=20) for m in ("claude-x", "gemini-x", "local-x")})
    server = build_server(SuiteConfig.model_validate(config(fake)))
    async with Client(server) as client:
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, "experts_ask", {"question": "slow?"})
                await fake.until(lambda: sum(fake.in_flight.values()) >= 3)
                tg.cancel_scope.cancel()
            await fake.until(lambda: sum(fake.disconnected.values()) >= 3)
    assert fake.disconnected == {"claude-x": 1, "gemini-x": 1, "local-x": 1}


async def test_nothing_configured_lists_what_to_configure(fake: FakeProviders) -> None:
    cfg = {"experts": {"local_probe_url": f"http://127.0.0.1:{free_port()}/v1"}}
    server = build_server(SuiteConfig.model_validate(cfg))
    async with Client(server) as client:
        listed = await client.call_tool("experts_list", {})
        asked = await client.call_tool("experts_ask", {"question": "anyone?"})
    assert listed.structured_content is not None
    assert listed.structured_content["experts"] == []
    assert "[[experts.providers]]" in listed.structured_content["notes"][0]
    assert asked.is_error
    assert "[[experts.experts]]" in str(asked.content)


async def test_keys_never_reach_output_or_server_logs_over_stdio(tmp_path: Any, fake: FakeProviders) -> None:
    wrong = "plainWRONGKEY55555555555"  # matches no redaction pattern: only our scrubbing hides it
    cfg = config(fake)
    for provider in cfg["experts"]["providers"]:
        provider["api_key"] = wrong
    connector = Connector("stdio", tmp_path)
    async with connector.serve("experts", cfg) as served:
        async with connector.client(served, "experts") as client:
            with anyio.fail_after(30):
                asked = await client.call_tool("experts_ask", {"question": "q?"})
                listed = await client.call_tool("experts_list", {})
        assert served.stderr_file is not None
        stderr = served.stderr_file.read_text()
    assert not asked.is_error
    assert asked.structured_content is not None
    assert all("HTTP 401" in e["error"] for e in asked.structured_content["experts"])
    everything = str(asked.content) + str(asked.structured_content) + str(listed.structured_content) + stderr
    assert wrong not in everything


async def test_experts_list_pages_within_the_output_budget(fake: FakeProviders) -> None:
    cfg = config(fake)
    cfg["output"] = {"max_items": 2}
    server = build_server(SuiteConfig.model_validate(cfg))
    async with Client(server) as client:
        first = await client.call_tool("experts_list", {})
        assert first.structured_content is not None
        cursor = first.structured_content["next_cursor"]
        second = await client.call_tool("experts_list", {"cursor": cursor})
        forged = await client.call_tool("experts_list", {"cursor": "bm90LWEtY3Vyc29y"})
    assert [e["name"] for e in first.structured_content["experts"]] == ["claude", "gemini"]
    assert first.structured_content["total_experts"] == 3
    assert any("Showing items 1-2 of 3" in n for n in first.structured_content["notes"])
    assert second.structured_content is not None
    assert [e["name"] for e in second.structured_content["experts"]] == ["local"]
    assert second.structured_content["next_cursor"] is None
    assert forged.is_error and "cursor is invalid" in str(forged.content)


async def test_a_synthesised_answer_over_mcp(tmp_path: Any, fake: FakeProviders) -> None:
    script(fake)
    (tmp_path / "notes.md").write_text("We run Rust 1.80 with two unsafe blocks.\n")
    cfg = config(fake, chairman="claude")
    cfg["policy"] = {"scan_roots": [str(tmp_path)]}
    server = build_server(SuiteConfig.model_validate(cfg))
    async with Client(server) as client:
        with anyio.fail_after(30):
            result = await client.call_tool(
                "experts_ask",
                {"question": "Does Rust prevent data races?", "synthesize": True, "files": ["notes.md"]},
            )
    assert not result.is_error, result.content
    report = result.structured_content
    assert report is not None
    synthesis = report["synthesis"]
    assert synthesis["chairman"] == "claude" and synthesis["status"] == "ok"
    assert [d["experts"] for d in synthesis["dissent"] if d["kind"] == "minority"] == [["local"]]
    assert report["total_cost_usd"] == pytest.approx(
        sum(e["cost_usd"] for e in report["experts"]) + synthesis["cost_usd"]
    )
    assert report["attachments"][0]["kind"] == "text"
    assert report["grouping"]["basis"] == "verdicts"
    assert report["thread_id"].startswith("thr-") and report["round"] == 1


API_KEYS = {"alice": "cmk_alice_experts_0123456789", "bob": "cmk_bob_experts_0123456789ab"}


async def test_threads_belong_to_their_caller_over_http(tmp_path: Any, fake: FakeProviders) -> None:
    script(fake)
    cfg = config(fake)
    cfg["auth"] = {
        "api_keys": [
            {"id": who, "sha256": hash_api_key(key), "role": "viewer"} for who, key in API_KEYS.items()
        ]
    }
    connector = Connector("http", tmp_path)
    async with (
        connector.serve("experts", cfg) as served,
        connector.client(served, "experts", token=API_KEYS["alice"]) as alice,
        connector.client(served, "experts", token=API_KEYS["bob"]) as bob,
    ):
        with anyio.fail_after(60):
            first = await alice.call_tool("experts_ask", {"question": "Does Rust prevent data races?"})
            assert first.structured_content is not None
            thread = first.structured_content["thread_id"]
            again = await alice.call_tool(
                "experts_ask", {"question": "And with unsafe?", "thread_id": thread}
            )
            foreign = await bob.call_tool(
                "experts_ask", {"question": "And with unsafe?", "thread_id": thread}
            )
    assert again.structured_content is not None
    assert (again.structured_content["thread_id"], again.structured_content["round"]) == (thread, 2)
    assert foreign.is_error and "unknown thread_id" in str(foreign.content)
    continued = [s for s in fake.calls("claude-x") if "Earlier in this conversation" in str(s.body)]
    assert len(continued) == 1  # alice's second round only: bob's call never reached a provider
