"""Request and response shapes of each provider API, checked against their documented fields."""

from __future__ import annotations

from typing import Any

import pytest

from servers.experts.settings import ProviderKind
from servers.experts.wire_formats import (
    ImagePart,
    MalformedResponse,
    Prompt,
    build_chat_request,
    build_embeddings_request,
    parse_chat_response,
    parse_embeddings_response,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string"},
        "nested": {"type": "object", "additionalProperties": False},
    },
    "additionalProperties": False,
}
PROMPT = Prompt(user="Q?", system="S.", schema=SCHEMA, max_tokens=99, temperature=1.5, seed=3)


def test_openai_request() -> None:
    request = build_chat_request(ProviderKind.OPENAI, "gpt-x", PROMPT, "k")
    assert request.path == "/chat/completions"
    assert request.headers == {"Authorization": "Bearer k"}
    body = request.body
    assert body["messages"] == [{"role": "system", "content": "S."}, {"role": "user", "content": "Q?"}]
    assert body["max_completion_tokens"] == 99
    assert "max_tokens" not in body
    assert (body["temperature"], body["seed"]) == (1.5, 3)
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA


def test_openai_compatible_request_uses_max_tokens_and_no_key_header() -> None:
    request = build_chat_request(ProviderKind.OPENAI_COMPATIBLE, "llama", Prompt(user="Q"), None)
    assert request.headers == {}
    assert request.body["max_tokens"] == 512
    assert "response_format" not in request.body
    assert request.body["messages"] == [{"role": "user", "content": "Q"}]


def test_json_object_dialect_carries_the_schema() -> None:
    request = build_chat_request(
        ProviderKind.OPENAI_COMPATIBLE, "llama", PROMPT, None, json_mode="json_object"
    )
    assert request.body["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_anthropic_request() -> None:
    request = build_chat_request(ProviderKind.ANTHROPIC, "claude", PROMPT, "k")
    assert request.path == "/v1/messages"
    assert request.headers == {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    body = request.body
    assert body["system"] == "S."
    assert body["messages"] == [{"role": "user", "content": "Q?"}]
    assert body["temperature"] == 1.0  # clamped to Anthropic's range
    assert body["tool_choice"] == {"type": "tool", "name": "submit_answer"}
    assert body["tools"][0]["input_schema"] == SCHEMA


def test_gemini_request_keeps_the_key_out_of_the_url() -> None:
    request = build_chat_request(ProviderKind.GEMINI, "gemini-2.5/../x", PROMPT, "k")
    assert request.path == "/models/gemini-2.5%2F..%2Fx:generateContent"
    assert request.headers == {"x-goog-api-key": "k"}
    config = request.body["generationConfig"]
    assert config["maxOutputTokens"] == 99
    assert config["responseMimeType"] == "application/json"
    assert "additionalProperties" not in config["responseSchema"]
    assert "additionalProperties" not in config["responseSchema"]["properties"]["nested"]
    assert request.body["systemInstruction"] == {"parts": [{"text": "S."}]}


def test_parse_openai() -> None:
    data = {
        "model": "m",
        "choices": [{"message": {"content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }
    completion = parse_chat_response(ProviderKind.OPENAI_COMPATIBLE, data)
    assert (completion.text, completion.input_tokens, completion.output_tokens) == ("hi", 3, 2)


def test_parse_openai_without_usage_counts_zero() -> None:
    completion = parse_chat_response(ProviderKind.OPENAI, {"choices": [{"message": {"content": None}}]})
    assert (completion.text, completion.input_tokens) == ("", 0)


def test_parse_anthropic_text_and_tool_use() -> None:
    data = {
        "content": [{"type": "text", "text": "a"}, {"type": "tool_use", "input": {"verdict": "v"}}],
        "usage": {"input_tokens": 5, "output_tokens": 6},
    }
    completion = parse_chat_response(ProviderKind.ANTHROPIC, data)
    assert completion.text == 'a{"verdict": "v"}'
    assert (completion.input_tokens, completion.output_tokens) == (5, 6)


def test_parse_gemini() -> None:
    data = {
        "candidates": [{"content": {"parts": [{"text": "a"}, {"text": "b"}]}}],
        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 8},
    }
    completion = parse_chat_response(ProviderKind.GEMINI, data)
    assert (completion.text, completion.input_tokens, completion.output_tokens) == ("ab", 7, 8)


@pytest.mark.parametrize("kind", list(ProviderKind))
def test_malformed_responses_are_reported(kind: ProviderKind) -> None:
    with pytest.raises(MalformedResponse):
        parse_chat_response(kind, {"unexpected": True})


def test_embeddings_round_trip() -> None:
    request = build_embeddings_request("e", ["a", "b"], "k")
    assert (request.path, request.body) == ("/embeddings", {"model": "e", "input": ["a", "b"]})
    data = {"data": [{"index": 1, "embedding": [0, 1]}, {"index": 0, "embedding": [1, 0]}]}
    assert parse_embeddings_response(data, 2) == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(MalformedResponse):
        parse_embeddings_response(data, 3)
    with pytest.raises(MalformedResponse):
        parse_embeddings_response({"data": [{"index": 0}]}, 1)


IMAGE = ImagePart("image/png", "iVBORw0KGgo=")


def test_images_in_the_openai_vision_format() -> None:
    for kind in (ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE):
        body = build_chat_request(kind, "m", Prompt(user="What is it?", images=(IMAGE,)), None).body
        assert body["messages"][-1]["content"] == [
            {"type": "text", "text": "What is it?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]


def test_images_in_the_anthropic_format_come_before_the_text() -> None:
    body = build_chat_request(
        ProviderKind.ANTHROPIC, "m", Prompt(user="What is it?", images=(IMAGE,)), None
    ).body
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {"type": "text", "text": "What is it?"},
            ],
        }
    ]


def test_images_in_the_gemini_format_are_inline_data_parts() -> None:
    body = build_chat_request(
        ProviderKind.GEMINI, "m", Prompt(user="What is it?", images=(IMAGE,)), None
    ).body
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "What is it?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            ],
        }
    ]


def test_a_prompt_without_images_keeps_plain_string_content() -> None:
    body = build_chat_request(ProviderKind.ANTHROPIC, "m", Prompt(user="Q"), None).body
    assert body["messages"] == [{"role": "user", "content": "Q"}]
