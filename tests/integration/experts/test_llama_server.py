"""The local llama.node server's OpenAI wire contract, with the real model: what the experts providers
rely on (exact token usage, schema-constrained JSON in both dialects, seeded answers that repeat) and
the refusals of malformed or hostile requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from tests.integration.experts.llama_server import LlamaServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

QUESTION = "Is the number 10 greater than the number 3?"
VOTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"choice": {"type": "string", "enum": ["yes", "no"]}, "confidence": {"type": "number"}},
    "required": ["choice", "confidence"],
    "additionalProperties": False,
}


@pytest.fixture
async def http(llama: LlamaServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=llama.base_url, timeout=120) as client:
        yield client


def chat(llama: LlamaServer, **extra: Any) -> dict[str, Any]:
    return {"model": llama.model, "messages": [{"role": "user", "content": QUESTION}], **extra}


async def test_models_lists_the_one_model(http: httpx.AsyncClient, llama: LlamaServer) -> None:
    with anyio.fail_after(30):
        response = await http.get("/models")
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == [llama.model]


async def test_usage_counts_every_generated_token(http: httpx.AsyncClient, llama: LlamaServer) -> None:
    # llama.node's one-shot completion() leaves the first generated token out of its count; the
    # server must report what the model really wrote: here exactly max_tokens, cut off.
    with anyio.fail_after(120):
        response = await http.post("/chat/completions", json=chat(llama, max_tokens=3, temperature=0, seed=1))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["choices"][0]["message"]["content"]
    usage = data["usage"]
    assert usage["completion_tokens"] == 3
    assert usage["prompt_tokens"] > 20  # the chat template around the question, as tokenised by the model
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_a_seed_gives_the_same_answer_whatever_ran_before(
    http: httpx.AsyncClient, llama: LlamaServer
) -> None:
    # The end-to-end tests depend on this: their experts sample at temperatures up to 1.0 with seeds,
    # and the order in which their parallel requests reach the server varies from run to run.
    seeded = chat(llama, max_tokens=16, temperature=1.0, seed=7)
    other = {
        **chat(llama, max_tokens=4, temperature=0.5, seed=3),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    with anyio.fail_after(240):
        first = (await http.post("/chat/completions", json=seeded)).json()
        await http.post("/chat/completions", json=other)
        again = (await http.post("/chat/completions", json=seeded)).json()
    assert first["choices"][0]["message"] == again["choices"][0]["message"]
    assert first["usage"] == again["usage"]


async def test_a_client_that_goes_away_frees_the_slot(http: httpx.AsyncClient, llama: LlamaServer) -> None:
    story = chat(llama, max_tokens=1500, temperature=1.0, seed=4242)
    story["messages"] = [{"role": "user", "content": "Write a very long story about a dragon."}]
    cancelled_before = llama.log.read_text().count("cancelled: the client went away (seed=4242)")
    with anyio.move_on_after(3):  # long enough to reach the server, far too short for 1,500 tokens
        await http.post("/chat/completions", json=story)
    with anyio.fail_after(120):
        quick = await http.post("/chat/completions", json=chat(llama, max_tokens=2, temperature=0, seed=1))
    assert quick.status_code == 200, quick.text
    log = llama.log.read_text()
    assert log.count("cancelled: the client went away (seed=4242)") == cancelled_before + 1
    # One slot, arrival order: had the story gone on, it would have been logged before the quick one.
    assert "seed=4242 temperature" not in log


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object", "schema": VOTE_SCHEMA},  # llama-cpp-python's dialect
        {"type": "json_schema", "json_schema": {"name": "vote", "schema": VOTE_SCHEMA, "strict": True}},
    ],
    ids=["json_object", "json_schema"],
)
async def test_a_schema_constrains_the_answer(
    http: httpx.AsyncClient, llama: LlamaServer, response_format: dict[str, Any]
) -> None:
    body = chat(llama, max_tokens=64, temperature=0.7, seed=5, response_format=response_format)
    with anyio.fail_after(120):
        response = await http.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    answer = json.loads(response.json()["choices"][0]["message"]["content"])
    assert set(answer) == {"choice", "confidence"}
    assert answer["choice"] in {"yes", "no"}
    assert isinstance(answer["confidence"], int | float)


def _format(response_format: Any) -> dict[str, Any]:
    return {"response_format": response_format}


BAD_REQUESTS: list[tuple[str, Any, int, str | None]] = [
    ("not-json", b"{not json", 400, None),
    ("no-messages", {"messages": []}, 400, "messages"),
    ("tool-role", {"messages": [{"role": "tool", "content": "x"}]}, 400, "messages"),
    ("content-parts", {"messages": [{"role": "user", "content": [{"type": "text"}]}]}, 400, "messages"),
    ("zero-max-tokens", {"max_tokens": 0}, 400, "max_tokens"),
    ("string-max-tokens", {"max_tokens": "48"}, 400, "max_tokens"),
    ("huge-max-tokens", {"max_completion_tokens": 10**9}, 400, "max_completion_tokens"),
    ("hot-temperature", {"temperature": 3}, 400, "temperature"),
    ("negative-seed", {"seed": -5}, 400, "seed"),
    ("stream", {"stream": True}, 400, "stream"),
    ("n-choices", {"n": 3}, 400, "n"),
    ("unknown-field", {"logit_bias": {"1": 100}}, 400, "logit_bias"),
    ("too-many-stops", {"stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
    ("xml-format", _format({"type": "xml"}), 400, "response_format"),
    ("schema-missing", _format({"type": "json_schema"}), 400, "response_format"),
    (
        "schema-unusable",
        _format({"type": "json_object", "schema": {"type": "bogus"}}),
        400,
        "response_format",
    ),
    ("over-context", {"messages": [{"role": "user", "content": "Is 10 > 3? " * 400}]}, 400, "messages"),
    ("unknown-model", {"model": "gpt-4"}, 404, "model"),
    ("too-large", b'{"messages": "' + b"a" * (1 << 20) + b'"}', 413, None),
]


@pytest.mark.parametrize(
    ("payload", "status", "param"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
async def test_bad_requests_are_refused(
    http: httpx.AsyncClient, llama: LlamaServer, payload: Any, status: int, param: str | None
) -> None:
    if isinstance(payload, bytes):
        request = http.post(
            "/chat/completions", content=payload, headers={"content-type": "application/json"}
        )
    else:
        request = http.post("/chat/completions", json={**chat(llama, max_tokens=8), **payload})
    with anyio.fail_after(60):
        response = await request
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_wrong_paths_and_methods_are_refused(http: httpx.AsyncClient) -> None:
    with anyio.fail_after(30):
        assert (await http.get("/chat/completions")).status_code == 405
        assert (await http.post("/models", json={})).status_code == 405
        assert (await http.get("/embeddings")).status_code == 404
        assert (await http.get("/../../etc/passwd")).status_code == 404
