"""End to end with a real model: llama.cpp serving SmolLM2-135M-Instruct on loopback, asked as
several experts (different system prompts, temperatures and seeds) through a real MCP client."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from servers.experts.server import build_server
from shared.settings import SuiteConfig
from tests.integration.experts.llama_server import LlamaServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

QUESTION = "Is the number 10 greater than the number 3? Answer yes or no."
# The server answers one request at a time (~10 tokens/s on a loaded 2-core machine), so an expert's
# timeout includes waiting for the others' calls: the bounds are generous, they only stop a hang.


def llama_config(llama: LlamaServer, **extra: Any) -> dict[str, Any]:
    expert = {"provider": "llama", "model": llama.model, "max_tokens": 48, "timeout_s": 300,
              "input_usd_per_mtok": 0.5, "output_usd_per_mtok": 1.5}  # fmt: skip
    experts: dict[str, Any] = {
        "providers": [{"name": "llama", "kind": "openai_compatible", "base_url": llama.base_url}],
        "experts": [
            {
                **expert,
                "name": "careful",
                "system_prompt": "You are a careful mathematician.",
                "temperature": 0.1,
                "seed": 1,
            },
            {
                **expert,
                "name": "brief",
                "system_prompt": "You answer in one short sentence.",
                "temperature": 0.7,
                "seed": 2,
            },
            {
                **expert,
                "name": "teacher",
                "system_prompt": "You are a patient teacher.",
                "temperature": 1.0,
                "seed": 3,
            },
        ],
        "local_probe_url": "",
        # Each follow-up is one more call on a slow model: only the test that is about it turns it on.
        "verdict_follow_up": False,
    }
    experts.update(extra)
    return {"experts": experts}


async def test_a_real_model_circle_reports_real_token_counts(llama: LlamaServer) -> None:
    server = build_server(SuiteConfig.model_validate(llama_config(llama)))
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(server) as client:
        with anyio.fail_after(600):
            result = await client.call_tool(
                "experts_ask", {"question": QUESTION}, progress_callback=on_progress
            )
    assert not result.is_error, result.content
    report = result.structured_content
    assert report is not None
    assert report["answered"] == 3, report["experts"]
    for expert in report["experts"]:
        assert expert["status"] == "ok"
        assert expert["input_tokens"] > 20  # the prompt, as tokenised by the real model
        assert 0 < expert["output_tokens"] <= 48
        assert expert["cost_usd"] == pytest.approx(
            (expert["input_tokens"] * 0.5 + expert["output_tokens"] * 1.5) / 1e6
        )
        assert expert["answer"]
        assert expert["verdict"]
        assert expert["latency_ms"] > 0
    assert report["consensus_answer"]
    assert 0 < report["agreement"] <= 1
    assert sum(c["share"] for c in report["clusters"]) == pytest.approx(1.0, abs=1e-3)
    assert report["signal"] in {"verdicts", "text"}
    assert sorted(seen) == [1, 2, 3]


async def test_a_real_model_judge_round_and_vote(llama: LlamaServer) -> None:
    server = build_server(SuiteConfig.model_validate(llama_config(llama)))
    async with Client(server) as client:
        with anyio.fail_after(900):
            judged = await client.call_tool(
                "experts_ask", {"question": QUESTION, "judge": True, "experts": ["careful", "brief"]}
            )
            voted = await client.call_tool("experts_vote", {"question": QUESTION, "options": ["yes", "no"]})
    assert judged.structured_content is not None
    report = judged.structured_content
    assert [e["status"] for e in report["experts"] if e["status"] != "not_asked"] == ["ok", "ok"], report
    assert report["judge"] is not None
    assert report["signal"] == "agreement"
    assert len(report["judge"]["matrix"]) == 2
    assert voted.structured_content is not None
    vote = voted.structured_content
    assert [e["status"] for e in vote["experts"]] == ["ok"] * 3, vote["experts"]  # every call answered
    assert sum(t["votes"] for t in vote["tallies"]) + len(vote["abstained"]) == 3


async def test_a_local_server_is_used_when_nothing_is_configured(llama: LlamaServer) -> None:
    cfg = {"experts": {"local_probe_url": llama.base_url, "default_timeout_s": 300}}
    server = build_server(SuiteConfig.model_validate(cfg))
    async with Client(server) as client:
        with anyio.fail_after(600):
            listed = await client.call_tool("experts_list", {})
            asked = await client.call_tool(
                "experts_ask", {"question": QUESTION, "experts": ["local-1", "local-2"]}
            )
    assert listed.structured_content is not None
    assert listed.structured_content["source"] == "local"
    assert [e["model"] for e in listed.structured_content["experts"]] == [llama.model] * 3
    assert asked.structured_content is not None
    assert asked.structured_content["answered"] == 2


@pytest.mark.parametrize("json_mode", ["json_object", "json_schema"])
async def test_structured_output_gives_json_verdicts(llama: LlamaServer, json_mode: str) -> None:
    provider = {"name": "llama", "kind": "openai_compatible", "base_url": llama.base_url,
                "structured_output": True, "json_mode": json_mode}  # fmt: skip
    config = llama_config(llama, providers=[provider])
    for expert in config["experts"]["experts"]:
        expert["max_tokens"] = 256  # room for the JSON object
    server = build_server(SuiteConfig.model_validate(config))
    async with Client(server) as client:
        with anyio.fail_after(600):
            result = await client.call_tool(
                "experts_ask", {"question": QUESTION, "experts": ["careful", "brief"]}
            )
    report = result.structured_content
    assert report is not None
    # A 135M model fills the schema with whatever it likes (sometimes empty strings), but the
    # schema holds: every answer is parsed as JSON, and at least one carries a verdict.
    outcomes = [(e["status"], e["parse_format"], e["error"]) for e in report["experts"]]
    assert all(o in (("ok", "json", None), ("error", "json", "empty answer")) for o in outcomes), outcomes
    assert any(e["parse_format"] == "json" and e["verdict"] for e in report["experts"]), report["experts"]


async def test_a_model_the_server_does_not_have_is_an_error_not_a_retry(llama: LlamaServer) -> None:
    config = llama_config(llama)
    for expert in config["experts"]["experts"]:
        expert["model"] = "no-such-model"
    server = build_server(SuiteConfig.model_validate(config))
    refusals_before = llama.log.read_text().count("refused 404")
    async with Client(server) as client:
        with anyio.fail_after(60):
            result = await client.call_tool("experts_ask", {"question": QUESTION, "experts": ["careful"]})
            listed = await client.call_tool("experts_list", {})
    report = result.structured_content
    assert report is not None
    (expert,) = [e for e in report["experts"] if e["expert"] == "careful"]
    assert expert["status"] == "error"
    assert "HTTP 404" in expert["error"] and "no-such-model" in expert["error"], expert["error"]
    assert listed.structured_content is not None
    (health,) = listed.structured_content["providers"]
    # A 404 is the request's fault: sent once (not retried), and the breaker stays closed.
    assert llama.log.read_text().count("refused 404") - refusals_before == 1
    assert (health["calls"], health["failures"], health["breaker"]) == (1, 1, "closed")


async def test_a_real_model_synthesis_with_verdict_follow_ups_and_a_continued_thread(
    llama: LlamaServer,
) -> None:
    """Two experts and a chairman on the real model: the answers (a 135M model states no VERDICT line,
    so each gets a one-line follow-up), the chairman's synthesis, then one more round in the thread."""
    config = llama_config(llama, verdict_follow_up=True, chairman="careful")
    server = build_server(SuiteConfig.model_validate(config))
    async with Client(server) as client:
        with anyio.fail_after(900):
            first = await client.call_tool(
                "experts_ask", {"question": QUESTION, "experts": ["careful", "brief"], "synthesize": True}
            )
            assert first.structured_content is not None, first.content
            thread = first.structured_content["thread_id"]
            second = await client.call_tool(
                "experts_ask",
                {"question": "And is 3 greater than 10?", "experts": ["brief"], "thread_id": thread},
            )
    report = first.structured_content
    assert [e["status"] for e in report["experts"]] == ["ok", "ok"], report["experts"]
    for expert in report["experts"]:
        # Whatever the model wrote, a verdict was either stated or asked for; a follow-up is counted.
        assert expert["parse_format"] in ("line", "json", "follow_up", "fallback")
        if expert["parse_format"] == "follow_up":
            assert expert["output_tokens"] > 0 and expert["verdict"]
    synthesis = report["synthesis"]
    assert synthesis["chairman"] == "careful" and synthesis["status"] == "ok", synthesis
    assert synthesis["text"] and synthesis["input_tokens"] > 50 and 0 < synthesis["output_tokens"] <= 48
    assert synthesis["cost_usd"] == pytest.approx(
        (synthesis["input_tokens"] * 0.5 + synthesis["output_tokens"] * 1.5) / 1e6
    )
    assert report["total_cost_usd"] == pytest.approx(
        sum(e["cost_usd"] for e in report["experts"]) + synthesis["cost_usd"]
    )
    assert report["grouping"]["basis"] in ("verdicts", "wording")
    assert second.structured_content is not None, second.content
    assert (second.structured_content["thread_id"], second.structured_content["round"]) == (thread, 2)
    assert second.structured_content["experts"][0]["status"] == "ok"
    assert any("1 earlier round" in n for n in second.structured_content["notes"])
