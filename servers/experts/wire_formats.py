"""Request and response shapes of the provider APIs: Anthropic Messages, OpenAI Chat Completions
(and every OpenAI-compatible server), Gemini generateContent, OpenAI-compatible embeddings.

Pure functions: no I/O, so every format is tested directly. Keys go in headers only — never in a
URL, where HTTP client logs would show them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from servers.experts.settings import JsonMode, ProviderKind

ANTHROPIC_VERSION = "2023-06-01"
_STRUCTURED_TOOL = "submit_answer"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image attached to a prompt: its media type and its bytes in base64."""

    media_type: str
    data: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """One turn sent to a model: an optional system prompt, the user text (and images), an
    optional JSON schema."""

    user: str
    system: str | None = None
    schema: dict[str, Any] | None = None
    max_tokens: int = 512
    temperature: float | None = None
    seed: int | None = None
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True, slots=True)
class Completion:
    """What a provider answered, with the token counts it reported."""

    text: str
    input_tokens: int
    output_tokens: int
    model: str | None = None


@dataclass(frozen=True, slots=True)
class WireRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class MalformedResponse(ValueError):
    """The provider's answer does not have the documented shape."""


def build_chat_request(
    kind: ProviderKind, model: str, prompt: Prompt, key: str | None, *, json_mode: JsonMode = "json_schema"
) -> WireRequest:
    """The HTTP request (path relative to the provider's base URL) for one completion.

    `json_mode` picks how an OpenAI-style server is asked for schema-shaped output: OpenAI's
    `json_schema`, or `json_object` with a `schema` (llama-cpp-python's dialect).
    """
    if kind is ProviderKind.ANTHROPIC:
        return _anthropic_request(model, prompt, key)
    if kind is ProviderKind.GEMINI:
        return _gemini_request(model, prompt, key)
    return _openai_request(kind, model, prompt, key, json_mode)


def parse_chat_response(kind: ProviderKind, data: Any) -> Completion:
    """Text and token usage from a provider's JSON answer; `MalformedResponse` if it has neither."""
    try:
        if kind is ProviderKind.ANTHROPIC:
            return _anthropic_parse(data)
        if kind is ProviderKind.GEMINI:
            return _gemini_parse(data)
        return _openai_parse(data)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise MalformedResponse(f"unexpected {kind.value} response shape: {type(exc).__name__}") from exc


def build_embeddings_request(model: str, texts: list[str], key: str | None) -> WireRequest:
    return WireRequest("/embeddings", _bearer(key), {"model": model, "input": texts})


def parse_embeddings_response(data: Any, expected: int) -> list[list[float]]:
    try:
        rows = sorted(data["data"], key=lambda row: int(row.get("index", 0)))
        vectors = [[float(x) for x in row["embedding"]] for row in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedResponse("unexpected embeddings response shape") from exc
    if len(vectors) != expected:
        raise MalformedResponse(f"expected {expected} embeddings, got {len(vectors)}")
    return vectors


# --- OpenAI Chat Completions (and compatible servers) -------------------------------------------


def _bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _openai_user_content(prompt: Prompt) -> str | list[dict[str, Any]]:
    """Plain text, or text then `image_url` parts with data URLs (Chat Completions' vision format)."""
    if not prompt.images:
        return prompt.user
    parts: list[dict[str, Any]] = [{"type": "text", "text": prompt.user}]
    parts += [
        {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{image.data}"}}
        for image in prompt.images
    ]
    return parts


def _openai_request(
    kind: ProviderKind, model: str, prompt: Prompt, key: str | None, json_mode: JsonMode
) -> WireRequest:
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    messages.append({"role": "user", "content": _openai_user_content(prompt)})
    body: dict[str, Any] = {"model": model, "messages": messages}
    # OpenAI itself renamed max_tokens; compatible servers (llama.cpp, vLLM, Ollama) know the old name.
    body["max_completion_tokens" if kind is ProviderKind.OPENAI else "max_tokens"] = prompt.max_tokens
    if prompt.temperature is not None:
        body["temperature"] = prompt.temperature
    if prompt.seed is not None:
        body["seed"] = prompt.seed
    if prompt.schema is not None and json_mode == "json_object":
        body["response_format"] = {"type": "json_object", "schema": prompt.schema}
    elif prompt.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": prompt.schema, "strict": True},
        }
    return WireRequest("/chat/completions", _bearer(key), body)


def _openai_parse(data: Any) -> Completion:
    message = data["choices"][0]["message"]
    text = message.get("content") or ""
    usage = data.get("usage") or {}
    return Completion(
        text=str(text),
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        model=data.get("model"),
    )


# --- Anthropic Messages ----------------------------------------------------------------------------


def _anthropic_request(model: str, prompt: Prompt, key: str | None) -> WireRequest:
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if key:
        headers["x-api-key"] = key
    content: str | list[dict[str, Any]] = prompt.user
    if prompt.images:
        # Images first, then the text: the order Anthropic's vision guide recommends.
        content = [
            {"type": "image", "source": {"type": "base64", "media_type": i.media_type, "data": i.data}}
            for i in prompt.images
        ] + [{"type": "text", "text": prompt.user}]
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": prompt.max_tokens,
        "messages": [{"role": "user", "content": content}],
    }
    if prompt.system:
        body["system"] = prompt.system
    if prompt.temperature is not None:
        body["temperature"] = min(prompt.temperature, 1.0)  # Anthropic's range is [0, 1]
    if prompt.schema is not None:
        # Structured output on the Messages API: a single forced tool whose input is the answer.
        body["tools"] = [
            {"name": _STRUCTURED_TOOL, "description": "Submit the answer.", "input_schema": prompt.schema}
        ]
        body["tool_choice"] = {"type": "tool", "name": _STRUCTURED_TOOL}
    return WireRequest("/v1/messages", headers, body)


def _anthropic_parse(data: Any) -> Completion:
    parts: list[str] = []
    for block in data["content"]:
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            parts.append(json.dumps(block.get("input", {})))
    usage = data["usage"]
    return Completion(
        text="".join(parts),
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        model=data.get("model"),
    )


# --- Gemini generateContent ----------------------------------------------------------------------


def _gemini_request(model: str, prompt: Prompt, key: str | None) -> WireRequest:
    headers = {"x-goog-api-key": key} if key else {}
    config: dict[str, Any] = {"maxOutputTokens": prompt.max_tokens}
    if prompt.temperature is not None:
        config["temperature"] = prompt.temperature
    if prompt.seed is not None:
        config["seed"] = prompt.seed
    if prompt.schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseSchema"] = _gemini_schema(prompt.schema)
    parts: list[dict[str, Any]] = [{"text": prompt.user}]
    parts += [{"inlineData": {"mimeType": i.media_type, "data": i.data}} for i in prompt.images]
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": parts}],
        "generationConfig": config,
    }
    if prompt.system:
        body["systemInstruction"] = {"parts": [{"text": prompt.system}]}
    return WireRequest(f"/models/{quote(model, safe='-._')}:generateContent", headers, body)


def _gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Gemini's OpenAPI-subset schema: no `additionalProperties`."""
    out: dict[str, Any] = {}
    for name, value in schema.items():
        if name == "additionalProperties":
            continue
        if name == "properties" and isinstance(value, dict):
            out[name] = {k: _gemini_schema(v) for k, v in value.items()}
        elif isinstance(value, dict):
            out[name] = _gemini_schema(value)
        else:
            out[name] = value
    return out


def _gemini_parse(data: Any) -> Completion:
    candidate = data["candidates"][0]
    parts = candidate.get("content", {}).get("parts", [])
    usage = data.get("usageMetadata") or {}
    return Completion(
        text="".join(str(p.get("text", "")) for p in parts),
        input_tokens=int(usage.get("promptTokenCount") or 0),
        output_tokens=int(usage.get("candidatesTokenCount") or 0),
        model=data.get("modelVersion"),
    )
