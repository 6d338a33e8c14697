"""Fixtures: FAKE providers on loopback (Anthropic, OpenAI, Gemini formats) and a real llama.cpp server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.experts.fake_providers import FakeProviders, fake_providers
from tests.integration.experts.llama_server import LlamaServer, llama_server

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
