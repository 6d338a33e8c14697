"""Circles wired to the FAKE providers, for the integration tests and the benchmark."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from servers.experts.attachments import PathCheck
from servers.experts.circle_ops import Circle
from servers.experts.roster import Roster
from servers.experts.settings import ExpertsSettings
from servers.experts.threads import ThreadStore
from tests.integration.experts.fake_providers import FakeProviders

KEY_ENV = "FAKE_PROVIDER_KEY"


def fake_settings(
    fake: FakeProviders,
    experts: list[dict[str, Any]],
    *,
    extra_providers: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> ExpertsSettings:
    """Three providers (one per wire format) on the fake; each expert dict needs name/provider/model."""
    data: dict[str, Any] = {
        "providers": [
            {
                "name": "anthropic",
                "kind": "anthropic",
                "base_url": fake.anthropic_url,
                "api_key_env": KEY_ENV,
            },
            {"name": "gemini", "kind": "gemini", "base_url": fake.gemini_url, "api_key_env": KEY_ENV},
            {"name": "openai", "kind": "openai", "base_url": fake.openai_url, "api_key_env": KEY_ENV},
            {
                "name": "compat",
                "kind": "openai_compatible",
                "base_url": fake.openai_url,
                "api_key_env": KEY_ENV,
                "max_retries": 0,
            },
        ],
        "experts": experts,
        "local_probe_url": "",
    }
    data["providers"] += extra_providers or []
    data.update(extra)
    return ExpertsSettings.model_validate(data)


@asynccontextmanager
async def circle_on(
    settings: ExpertsSettings,
    key: str,
    *,
    threads: ThreadStore | None = None,
    check_path: PathCheck | None = None,
) -> AsyncIterator[Circle]:
    roster = Roster(settings, environ={KEY_ENV: key})
    try:
        yield Circle(roster, threads=threads, check_path=check_path)
    finally:
        await roster.aclose()
