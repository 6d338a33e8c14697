"""Fixtures: FAKE providers on loopback (Anthropic, OpenAI, Gemini formats), a real llama.cpp server,
and a real redis-server for the conversations kept in the fleet's Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.experts.fake_providers import FakeProviders, fake_providers
from tests.integration.experts.llama_server import LlamaServer, llama_server
from tests.integration.scale.redis_service import RedisServer, redis_server

FAKE_KEY = "sk-fake-SECRET-0123456789abcdef"


@pytest.fixture(scope="session")
def _fake_session() -> Iterator[FakeProviders]:
    with fake_providers(key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture
def fake(_fake_session: FakeProviders) -> Iterator[FakeProviders]:
    """The fake providers, with a clean script and request log for each test."""
    _fake_session.reset()
    yield _fake_session
    _fake_session.reset()


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with llama_server(tmp_path_factory.mktemp("llama")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port (skips, or fails under CODE_REQUIRE_SERVICES=1)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server
