"""Provider clients against the FAKE provider server on loopback: wire formats, retries, failures, keys."""

from __future__ import annotations

import functools
import logging

import anyio
import pytest

from servers.experts.providers import ProviderClient, ProviderError
from servers.experts.settings import ProviderKind, ProviderSettings
from servers.experts.wire_formats import Prompt
from shared.ratelimit import OutboundLimiter
from tests.integration.experts.conftest import FAKE_KEY
from tests.integration.experts.fake_providers import Behaviour, FakeProviders
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PROMPT = Prompt(user="Is 7 prime?", system="Be brief.", max_tokens=64, temperature=0.3, seed=7)


def provider(kind: ProviderKind, url: str, **extra: object) -> ProviderSettings:
    return ProviderSettings.model_validate(
        {"name": f"p-{kind.value}", "kind": kind, "base_url": url, **extra}
    )


def url_for(fake: FakeProviders, kind: ProviderKind) -> str:
    return {
        ProviderKind.ANTHROPIC: fake.anthropic_url,
        ProviderKind.GEMINI: fake.gemini_url,
        ProviderKind.OPENAI: fake.openai_url,
        ProviderKind.OPENAI_COMPATIBLE: fake.openai_url,
    }[kind]


@pytest.mark.parametrize("kind", list(ProviderKind))
async def test_each_wire_format_returns_text_and_reported_tokens(
    fake: FakeProviders, kind: ProviderKind
) -> None:
    fake.script["m1"] = Behaviour(answer="Yes, 7 is prime.\nVERDICT: yes", input_tokens=31, output_tokens=9)
    client = ProviderClient(provider(kind, url_for(fake, kind)), api_key=FAKE_KEY)
    try:
        completion = await client.complete("m1", PROMPT, timeout_s=10)
    finally:
        await client.aclose()
    assert completion.text == "Yes, 7 is prime.\nVERDICT: yes"
    assert (completion.input_tokens, completion.output_tokens) == (31, 9)
    [seen] = fake.seen
    assert FAKE_KEY not in seen.path  # the key travels in a header, never in the URL


async def test_anthropic_structured_output_uses_a_forced_tool(fake: FakeProviders) -> None:
    fake.script["claude"] = Behaviour(answer="Because.\nyes")
    settings = provider(ProviderKind.ANTHROPIC, fake.anthropic_url, structured_output=True)
    client = ProviderClient(settings, api_key=FAKE_KEY)
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}}
    try:
        completion = await client.complete("claude", Prompt(user="q", schema=schema), timeout_s=10)
    finally:
        await client.aclose()
    assert '"verdict": "yes"' in completion.text
    assert fake.seen[0].body["tool_choice"] == {"type": "tool", "name": "submit_answer"}


async def test_429_then_success_honours_retry_after(fake: FakeProviders) -> None:
    fake.script["busy"] = Behaviour(failures=[429, 503], retry_after="1")
    client = ProviderClient(provider(ProviderKind.OPENAI_COMPATIBLE, fake.openai_url), api_key=FAKE_KEY)
    try:
        completion = await client.complete("busy", PROMPT, timeout_s=20)
    finally:
        await client.aclose()
    assert completion.output_tokens == 10
    calls = fake.calls("busy")
    assert len(calls) == 3
    # Retry-After: 1 was honoured between attempts (the server saw the gaps).
    assert calls[1].at - calls[0].at >= 0.95
    assert calls[2].at - calls[1].at >= 0.95
    assert client.breaker.state == "closed"


async def test_retries_stop_after_max_retries(fake: FakeProviders) -> None:
    fake.script["down"] = Behaviour(failures=[500, 500, 500], retry_after="0")
    client = ProviderClient(
        provider(ProviderKind.OPENAI_COMPATIBLE, fake.openai_url, max_retries=1), api_key=FAKE_KEY
    )
    try:
        with pytest.raises(ProviderError, match="HTTP 500") as err:
            await client.complete("down", PROMPT, timeout_s=20)
    finally:
        await client.aclose()
    assert err.value.status == 500
    assert len(fake.calls("down")) == 2


async def test_client_errors_are_not_retried(fake: FakeProviders) -> None:
    fake.script["bad"] = Behaviour(failures=[400])
    client = ProviderClient(provider(ProviderKind.OPENAI_COMPATIBLE, fake.openai_url), api_key=FAKE_KEY)
    try:
        with pytest.raises(ProviderError, match="HTTP 400"):
            await client.complete("bad", PROMPT, timeout_s=20)
    finally:
        await client.aclose()
    assert len(fake.calls("bad")) == 1
    assert client.breaker.consecutive_failures == 0


async def test_a_slow_provider_times_out(fake: FakeProviders) -> None:
    fake.script["slow"] = Behaviour(delay_s=5)
    client = ProviderClient(provider(ProviderKind.OPENAI_COMPATIBLE, fake.openai_url), api_key=FAKE_KEY)
    try:
        with anyio.fail_after(4):
            with pytest.raises(ProviderError, match=r"no answer within 0\.3s") as err:
                await client.complete("slow", PROMPT, timeout_s=0.3)
    finally:
        await client.aclose()
    assert err.value.timed_out
    assert client.health().last_error == "no answer within 0.3s"


async def test_a_provider_that_is_down_fails_fast_and_opens_the_breaker() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = provider(ProviderKind.OPENAI_COMPATIBLE, url, max_retries=0, breaker_failures=2)
    client = ProviderClient(settings, api_key=None)
    try:
        with anyio.fail_after(10):
            for _ in range(2):
                with pytest.raises(ProviderError, match="cannot reach"):
                    await client.complete("any", PROMPT, timeout_s=5)
            assert client.breaker.state == "open"
            with pytest.raises(ProviderError, match="circuit open"):
                await client.complete("any", PROMPT, timeout_s=5)
    finally:
        await client.aclose()
    assert client.health().calls == 2  # the refused call never went out


async def test_outbound_limiter_paces_calls(fake: FakeProviders) -> None:
    limiter = OutboundLimiter(rate=5, burst=1)
    client = ProviderClient(
        provider(ProviderKind.OPENAI_COMPATIBLE, fake.openai_url), api_key=FAKE_KEY, limiter=limiter
    )
    try:
        for _ in range(3):
            await client.complete("paced", PROMPT, timeout_s=10)
    finally:
        await client.aclose()
    calls = fake.calls("paced")
    assert calls[2].at - calls[0].at >= 0.35  # 5/s with no burst: the third call waits ~0.4 s


async def test_cancelling_the_caller_cancels_the_request(fake: FakeProviders) -> None:
    fake.script["cancel-me"] = Behaviour(delay_s=10)
    client = ProviderClient(provider(ProviderKind.OPENAI_COMPATIBLE, fake.openai_url), api_key=FAKE_KEY)
    try:
        with anyio.fail_after(8):
            async with anyio.create_task_group() as tg:
                tg.start_soon(functools.partial(client.complete, "cancel-me", PROMPT, timeout_s=30.0))
                await fake.until(lambda: fake.in_flight["cancel-me"] > 0)
                tg.cancel_scope.cancel()
            await fake.until(lambda: fake.disconnected["cancel-me"] > 0)
    finally:
        await client.aclose()
    assert fake.disconnected["cancel-me"] == 1
    assert client.breaker.consecutive_failures == 0  # a cancel says nothing about the provider's health


async def test_the_key_never_reaches_errors_or_logs(
    fake: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "plainWRONGKEYfedcba9876543210"
    client = ProviderClient(provider(ProviderKind.OPENAI_COMPATIBLE, fake.openai_url), api_key=wrong)
    try:
        with pytest.raises(ProviderError) as err:
            await client.complete("m", PROMPT, timeout_s=10)
    finally:
        await client.aclose()
    assert "HTTP 401" in str(err.value)
    assert "[redacted]" in str(err.value)  # the fake echoed the key; the client scrubbed it
    assert wrong not in str(err.value)
    assert wrong not in caplog.text
    assert wrong not in repr(client.health())
