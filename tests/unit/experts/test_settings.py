"""The [experts] section: validation messages, defaults, prices, key lookup, chairman, thread store."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from servers.experts.settings import ExpertsSettings, ProviderKind, ProviderSettings
from servers.experts.thread_store_redis import thread_store
from servers.experts.threads import MemoryThreadStore
from shared.errors import ConfigError
from shared.settings import SuiteConfig


def settings(**extra: Any) -> ExpertsSettings:
    data: dict[str, Any] = {
        "providers": [{"name": "oa", "kind": "openai", "api_key_env": "OA_KEY"}],
        "experts": [{"name": "gpt", "provider": "oa", "model": "gpt-x"}],
    }
    data.update(extra)
    return ExpertsSettings.model_validate(data)


def test_defaults_fill_in_base_urls() -> None:
    config = settings()
    assert config.providers[0].url == "https://api.openai.com/v1"
    assert config.providers[0].wants_structured


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ValidationError, match="openai_compatible needs base_url"):
        ProviderSettings(name="local", kind=ProviderKind.OPENAI_COMPATIBLE)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValidationError, match="must be http"):
        ProviderSettings(name="x", kind=ProviderKind.OPENAI, base_url="file:///etc/passwd")


def test_an_expert_must_name_a_known_provider() -> None:
    with pytest.raises(ValidationError, match=r"names provider 'nope'.*known: oa"):
        settings(experts=[{"name": "e", "provider": "nope", "model": "m"}])


def test_names_are_unique_and_safe() -> None:
    with pytest.raises(ValidationError, match="unique: e"):
        settings(experts=[{"name": "e", "provider": "oa", "model": "m"}] * 2)
    with pytest.raises(ValidationError, match="provider names must be unique"):
        settings(providers=[{"name": "oa", "kind": "openai"}] * 2)
    with pytest.raises(ValidationError):
        settings(experts=[{"name": "-rf /", "provider": "oa", "model": "m"}])


def test_embeddings_need_an_openai_style_provider() -> None:
    with pytest.raises(ValidationError, match=r"embeddings\.provider"):
        settings(
            providers=[{"name": "oa", "kind": "anthropic"}],
            experts=[],
            embeddings={"provider": "oa", "model": "e"},
        )


def test_price_from_the_expert_then_the_table() -> None:
    config = settings(
        experts=[
            {"name": "a", "provider": "oa", "model": "gpt-x", "input_usd_per_mtok": 2.0},
            {"name": "b", "provider": "oa", "model": "gpt-x"},
            {"name": "c", "provider": "oa", "model": "other", "timeout_s": 5},
        ],
        prices={"gpt-x": {"input": 1.0, "output": 4.0}},
    )
    a, b, c = config.experts
    price_a, price_b = config.price_of(a), config.price_of(b)
    assert price_a is not None and (price_a.input, price_a.output) == (2.0, 0.0)
    assert price_b is not None and (price_b.input, price_b.output) == (1.0, 4.0)
    assert config.price_of(c) is None
    assert (config.timeout_of(b), config.timeout_of(c)) == (60.0, 5)


def test_keys_come_from_config_first_then_the_environment() -> None:
    from_env = ProviderSettings(name="a", kind=ProviderKind.ANTHROPIC, api_key_env="A_KEY")
    assert from_env.resolve_key({"A_KEY": "k1"}) == "k1"
    assert from_env.resolve_key({"A_KEY": ""}) is None
    inline = ProviderSettings.model_validate(
        {"name": "b", "kind": "gemini", "api_key": "k2", "api_key_env": "A_KEY"}
    )
    assert inline.resolve_key({"A_KEY": "k1"}) == "k2"
    assert "k2" not in repr(inline)
    assert ProviderSettings(name="c", kind=ProviderKind.GEMINI).resolve_key({}) is None


def test_the_local_probe_can_be_disabled_and_must_be_http() -> None:
    assert settings(local_probe_url="").local_probe_url is None
    assert settings(local_probe_url="http://127.0.0.1:8080/v1/").local_probe_url == "http://127.0.0.1:8080/v1"
    with pytest.raises(ValidationError, match="local_probe_url"):
        settings(local_probe_url="ftp://x")


def test_images_are_taken_by_the_hosted_kinds_unless_told_otherwise() -> None:
    hosted = ProviderSettings(name="a", kind=ProviderKind.ANTHROPIC)
    local = ProviderSettings(name="l", kind=ProviderKind.OPENAI_COMPATIBLE, base_url="http://127.0.0.1:1/v1")
    vision = local.model_copy(update={"accepts_images": True})
    assert (hosted.takes_images, local.takes_images, vision.takes_images) == (True, False, True)


def test_the_chairman_must_be_a_configured_expert() -> None:
    base = {
        "providers": [{"name": "p", "kind": "anthropic"}],
        "experts": [{"name": "claude", "provider": "p", "model": "m"}],
    }
    assert ExpertsSettings.model_validate({**base, "chairman": "claude"}).chairman == "claude"
    with pytest.raises(ValidationError, match="chairman 'nobody' is not one of"):
        ExpertsSettings.model_validate({**base, "chairman": "nobody"})


def test_a_redis_thread_store_needs_the_fleets_redis() -> None:
    settings = ExpertsSettings.model_validate({"thread_store": "redis"})
    with pytest.raises(ConfigError, match="needs the fleet's Redis in \\[redis\\]"):
        thread_store(SuiteConfig(), settings)
    with pytest.raises(ConfigError, match="must be a redis://"):
        thread_store(SuiteConfig.model_validate({"redis": {"url": "http://x"}}), settings)
    assert isinstance(thread_store(SuiteConfig(), ExpertsSettings()), MemoryThreadStore)
