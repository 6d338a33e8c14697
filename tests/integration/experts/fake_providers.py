"""FAKE LLM providers on loopback: one HTTP server speaking the documented wire formats.

The real Anthropic, OpenAI and Gemini services cannot be reached here, so this fake speaks their
formats (Anthropic Messages, OpenAI Chat Completions + embeddings + models, Gemini generateContent)
closely enough to catch a wrong path, header or field, and lets a test script each model's
behaviour: the answer, token usage, a delay, failures (e.g. 429 with Retry-After) before success.

    base URLs: anthropic  http://127.0.0.1:P
               openai     http://127.0.0.1:P/v1
               gemini     http://127.0.0.1:P/v1beta
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.services import free_port, wait_until


@dataclass
class Behaviour:
    """What the fake does when a model is called."""

    answer: str = "The answer is yes.\nVERDICT: yes | CONFIDENCE: 0.9"
    input_tokens: int = 20
    output_tokens: int = 10
    delay_s: float = 0.0
    failures: list[int] = field(default_factory=list)  # statuses to answer first, consumed in order
    retry_after: str | None = None
    embedding: list[float] | None = None
    respond: Callable[[dict[str, Any]], str] | None = None  # answer computed from the request body


@dataclass
class Seen:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float


class FakeProviders:
    """The scripted fake. `script[model] = Behaviour(...)`; unknown models get the default behaviour."""

    def __init__(self, *, key: str | None = None, watch_disconnects: bool = True) -> None:
        self.key = key
        self.watch_disconnects = watch_disconnects
        self.script: dict[str, Behaviour] = {}
        self.seen: list[Seen] = []
        self.disconnected: Counter[str] = Counter()  # per model: clients that gave up mid-answer
        self.in_flight: Counter[str] = Counter()  # per model: answers being delayed right now
        self.base = ""
        self._lock = threading.Lock()

    @property
    def openai_url(self) -> str:
        return f"{self.base}/v1"

    @property
    def anthropic_url(self) -> str:
        return self.base

    @property
    def gemini_url(self) -> str:
        return f"{self.base}/v1beta"

    async def until(self, check: Callable[[], bool], *, limit_s: float = 10.0) -> None:
        """Wait (bounded) until `check()` holds; the fake serves from another thread, so poll."""
        with anyio.fail_after(limit_s):
            while not check():  # noqa: ASYNC110 - state changes on the server thread, no shared Event
                await anyio.sleep(0.01)

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.seen.clear()
            self.disconnected.clear()

    def calls(self, model: str | None = None, path_part: str = "") -> list[Seen]:
        with self._lock:
            seen = list(self.seen)
        return [
            s
            for s in seen
            if path_part in s.path
            and (
                model is None
                or (isinstance(s.body, dict) and s.body.get("model") == model)
                or f"/models/{model}:" in s.path
            )
        ]

    # --- the app --------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1beta/models/{target:path}", self._gemini, methods=["POST"]),
            ]
        )

    async def _record(self, request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            body = None
        with self._lock:
            self.seen.append(Seen(request.url.path, dict(request.headers), body, time.monotonic()))
        return body

    async def _behave(self, request: Request, model: str) -> tuple[Behaviour, JSONResponse | None]:
        behaviour = self.script.get(model, Behaviour())
        with self._lock:
            status = behaviour.failures.pop(0) if behaviour.failures else None
        if status is not None:
            headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
            return behaviour, JSONResponse(
                {"error": {"type": "fake_error", "message": f"scripted failure {status}"}},
                status_code=status,
                headers=headers,
            )
        if behaviour.delay_s and not self.watch_disconnects:
            await anyio.sleep(behaviour.delay_s)  # the benchmark's fixed delay: no polling cost
        elif behaviour.delay_s:
            self.in_flight[model] += 1
            try:
                # Wait in small steps so a client that gives up is seen as a disconnect.
                deadline = time.monotonic() + behaviour.delay_s
                while time.monotonic() < deadline:
                    if await request.is_disconnected():
                        self.disconnected[model] += 1
                        return behaviour, JSONResponse({}, status_code=499)
                    await anyio.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
            finally:
                self.in_flight[model] -= 1
        return behaviour, None

    def _unauthorised(self, presented: str | None) -> JSONResponse | None:
        if self.key is None or presented == self.key:
            return None
        # Like some real gateways, echo what was presented: the client must not pass this on verbatim.
        return JSONResponse({"error": {"message": f"invalid key {presented!r}"}}, status_code=401)

    async def _openai(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        auth = request.headers.get("authorization", "")
        denied = self._unauthorised(auth.removeprefix("Bearer ") if auth else None)
        if denied:
            return denied
        if not isinstance(body, dict) or "model" not in body or not isinstance(body.get("messages"), list):
            return JSONResponse({"error": {"message": "model and messages are required"}}, status_code=400)
        if not all(_openai_content_ok(m.get("content")) for m in body["messages"]):
            return JSONResponse({"error": {"message": "invalid content part"}}, status_code=400)
        behaviour, failure = await self._behave(request, body["model"])
        if failure:
            return failure
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": _text(behaviour, body)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": behaviour.input_tokens,
                    "completion_tokens": behaviour.output_tokens,
                    "total_tokens": behaviour.input_tokens + behaviour.output_tokens,
                },
            }
        )

    async def _embeddings(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        _, failure = await self._behave(request, body["model"])
        if failure:
            return failure
        rows = [
            {
                "object": "embedding",
                "index": i,
                "embedding": self.script.get(text, Behaviour()).embedding or [1.0, 0.0],
            }
            for i, text in enumerate(body["input"])
        ]
        return JSONResponse({"object": "list", "data": rows, "model": body["model"]})

    async def _models(self, request: Request) -> JSONResponse:
        await self._record(request)
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in self.script]})

    async def _anthropic(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        denied = self._unauthorised(request.headers.get("x-api-key"))
        if denied:
            return denied
        if not request.headers.get("anthropic-version"):
            return JSONResponse({"error": {"message": "anthropic-version header required"}}, status_code=400)
        if (
            not isinstance(body, dict)
            or "max_tokens" not in body
            or not isinstance(body.get("messages"), list)
        ):
            return JSONResponse(
                {"error": {"message": "model, max_tokens and messages required"}}, status_code=400
            )
        if any(m.get("role") == "system" for m in body["messages"]):
            return JSONResponse({"error": {"message": "system goes in the top-level field"}}, status_code=400)
        if not all(_anthropic_content_ok(m.get("content")) for m in body["messages"]):
            return JSONResponse({"error": {"message": "invalid content block"}}, status_code=400)
        behaviour, failure = await self._behave(request, body["model"])
        if failure:
            return failure
        if body.get("tool_choice"):
            content: list[dict[str, Any]] = [
                {
                    "type": "tool_use",
                    "id": "toolu_fake",
                    "name": body["tool_choice"]["name"],
                    "input": {
                        "answer": behaviour.answer,
                        "verdict": behaviour.answer.splitlines()[-1],
                        "confidence": 0.7,
                    },
                }
            ]
        else:
            content = [{"type": "text", "text": _text(behaviour, body)}]
        return JSONResponse(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": "end_turn",
                "usage": {"input_tokens": behaviour.input_tokens, "output_tokens": behaviour.output_tokens},
            }
        )

    async def _gemini(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        target = request.path_params["target"]
        if not target.endswith(":generateContent"):
            return JSONResponse({"error": {"message": "unknown method"}}, status_code=404)
        if "key" in request.query_params:
            return JSONResponse({"error": {"message": "keys in URLs end up in logs"}}, status_code=400)
        denied = self._unauthorised(request.headers.get("x-goog-api-key"))
        if denied:
            return denied
        if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
            return JSONResponse({"error": {"message": "contents required"}}, status_code=400)
        if not all(_gemini_part_ok(p) for c in body["contents"] for p in c.get("parts", [None])):
            return JSONResponse({"error": {"message": "invalid part"}}, status_code=400)
        model = target.removesuffix(":generateContent")
        behaviour, failure = await self._behave(request, model)
        if failure:
            return failure
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": _text(behaviour, body)}]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": behaviour.input_tokens,
                    "candidatesTokenCount": behaviour.output_tokens,
                    "totalTokenCount": behaviour.input_tokens + behaviour.output_tokens,
                },
                "modelVersion": model,
            }
        )


_MEDIA = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _base64_ok(data: Any) -> bool:
    try:
        return isinstance(data, str) and bool(base64.b64decode(data, validate=True))
    except ValueError:
        return False


def _openai_content_ok(content: Any) -> bool:
    """A string, or text and image_url parts (images as base64 data URLs), as Chat Completions takes."""
    if isinstance(content, str):
        return True
    if not isinstance(content, list) or not content:
        return False
    for part in content:
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            continue
        url = (part.get("image_url") or {}).get("url", "") if part.get("type") == "image_url" else ""
        media, _, data = url.removeprefix("data:").partition(";base64,")
        if not (url.startswith("data:") and media in _MEDIA and _base64_ok(data)):
            return False
    return True


def _anthropic_content_ok(content: Any) -> bool:
    """A string, or text and base64 image blocks, as the Messages API takes."""
    if isinstance(content, str):
        return True
    if not isinstance(content, list) or not content:
        return False
    for block in content:
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            continue
        source = block.get("source") or {}
        if not (
            block.get("type") == "image"
            and source.get("type") == "base64"
            and source.get("media_type") in _MEDIA
            and _base64_ok(source.get("data"))
        ):
            return False
    return True


def _gemini_part_ok(part: Any) -> bool:
    """A text part or an inlineData part (camelCase in the REST API's JSON)."""
    if not isinstance(part, dict):
        return False
    if isinstance(part.get("text"), str):
        return True
    inline = part.get("inlineData") or {}
    return inline.get("mimeType") in _MEDIA and _base64_ok(inline.get("data"))


def prompt_text(body: Any) -> str:
    """The user text of a recorded request in any of the three formats."""
    if not isinstance(body, dict):
        return ""
    if "contents" in body:
        return "".join(str(p.get("text", "")) for c in body["contents"] for p in c.get("parts", []))
    content = body.get("messages", [{}])[-1].get("content", "")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def images_in(body: Any) -> list[tuple[str, str]]:
    """(media type, base64 data) of every image in a recorded request, whatever its format."""
    found: list[tuple[str, str]] = []
    if not isinstance(body, dict):
        return found
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            if "inlineData" in part:
                found.append((part["inlineData"]["mimeType"], part["inlineData"]["data"]))
    for message in body.get("messages", []):
        for part in message.get("content") if isinstance(message.get("content"), list) else []:
            if part.get("type") == "image":
                found.append((part["source"]["media_type"], part["source"]["data"]))
            elif part.get("type") == "image_url":
                media, _, data = part["image_url"]["url"].removeprefix("data:").partition(";base64,")
                found.append((media, data))
    return found


def _text(behaviour: Behaviour, body: dict[str, Any]) -> str:
    return behaviour.respond(body) if behaviour.respond is not None else behaviour.answer


@contextmanager
def fake_providers(*, key: str | None = None) -> Iterator[FakeProviders]:
    """Serve a `FakeProviders` on a free loopback port for the duration of the block."""
    fake = FakeProviders(key=key)
    port = free_port()
    config = uvicorn.Config(
        fake.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-providers", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=10, what="fake providers")
        fake.base = f"http://127.0.0.1:{port}"
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """`python -m tests.integration.experts.fake_providers PORT [MODEL=DELAY_S ...]`: serve the fake
    in its own process (the benchmark does, so the fake does not share the client's GIL)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    fake = FakeProviders(watch_disconnects=False)
    for spec in args[1:]:
        model, delay = spec.split("=", 1)
        fake.script[model] = Behaviour(delay_s=float(delay))
    uvicorn.run(fake.app(), host="127.0.0.1", port=int(args[0]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
