"""The circle: configured experts on pooled provider clients, or a local server found on this machine."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import anyio
import httpx

from servers.experts.models import ExpertInfo, ExpertRoster, ProviderInfo
from servers.experts.providers import Limiter, ProviderClient
from servers.experts.settings import (
    ExpertSettings,
    ExpertsSettings,
    Price,
    ProviderKind,
    ProviderSettings,
)
from shared.client_lifetime import ClientLifetime
from shared.errors import InvalidArgument, ToolFailure

log = logging.getLogger(__name__)

LimiterFactory = Callable[[ProviderSettings], Limiter | None]

SETUP_HINT = """No experts are configured. Add to the configuration file (TOML), for example:

[[experts.providers]]
name = "anthropic"            # or "openai", "gemini", or any name with kind = "openai_compatible"
kind = "anthropic"            # anthropic | openai | gemini | openai_compatible
api_key_env = "ANTHROPIC_API_KEY"
# base_url = "http://127.0.0.1:11434/v1"   # required for openai_compatible (Ollama, vLLM, llama.cpp)

[[experts.experts]]
name = "claude"
provider = "anthropic"
model = "claude-sonnet-4-5"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 15.0

Add two or more experts for a consensus. Or start a local OpenAI-compatible server (e.g. Ollama) on
127.0.0.1:11434 and it will be used automatically."""


@dataclass(frozen=True, slots=True)
class Expert:
    """An expert ready to be asked."""

    settings: ExpertSettings
    client: ProviderClient
    price: Price | None
    timeout_s: float

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def structured(self) -> bool:
        return self.client.settings.wants_structured

    def worst_case_cost(self, prompt_chars: int, max_tokens: int | None = None) -> float:
        """Upper bound of one call's cost: ~3 chars per token in, every allowed token out."""
        if self.price is None:
            return 0.0
        tokens_in = prompt_chars / 3 + 50
        tokens_out = max_tokens if max_tokens is not None else self.settings.max_tokens
        return (tokens_in * self.price.input + tokens_out * self.price.output) / 1_000_000

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        if self.price is None:
            return 0.0
        return (input_tokens * self.price.input + output_tokens * self.price.output) / 1_000_000


class Roster:
    """All providers and experts of one server. `aclose()` closes the pooled clients."""

    def __init__(
        self,
        settings: ExpertsSettings,
        *,
        environ: Mapping[str, str],
        limiter_factory: LimiterFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self._on_close = on_close
        self._environ = environ
        self._limiter_factory = limiter_factory
        self._transport = transport
        self.clients: dict[str, ProviderClient] = {
            p.name: self._client(p, p.resolve_key(environ)) for p in settings.providers
        }
        self.experts: list[Expert] = [self._expert(e) for e in settings.experts]
        self.source = "config"
        self._lock = anyio.Lock()
        self._lifetime = ClientLifetime(self.aclose)

    def _client(self, provider: ProviderSettings, key: str | None) -> ProviderClient:
        limiter = self._limiter_factory(provider) if self._limiter_factory else None
        return ProviderClient(provider, api_key=key, limiter=limiter, transport=self._transport)

    def _expert(self, expert: ExpertSettings) -> Expert:
        return Expert(
            settings=expert,
            client=self.clients[expert.provider],
            price=self.settings.price_of(expert),
            timeout_s=self.settings.timeout_of(expert),
        )

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        if self._on_close is not None:  # other clients of the server (the thread store's Redis)
            await self._on_close()

    def session(self) -> AbstractAsyncContextManager[None]:
        """Held by each MCP session (the SDK runs the lifespan per stdio/SSE/in-memory connection);
        the pooled clients close when the last session ends and reopen on the next call."""
        return self._lifetime.session()

    async def ensure_experts(self) -> list[Expert]:
        """The configured experts; if there are none, a local OpenAI-compatible server's models."""
        if self.experts:
            return self.experts
        async with self._lock:  # probe again on each call until a local server answers
            if not self.experts:
                await self._discover_local()
        if not self.experts:
            raise ToolFailure(SETUP_HINT)
        return self.experts

    async def _discover_local(self) -> None:
        url = self.settings.local_probe_url
        if not url:
            return
        models = await probe_models(url, transport=self._transport)
        if not models:
            return
        provider = ProviderSettings(name="local", kind=ProviderKind.OPENAI_COMPATIBLE, base_url=url)
        self.clients["local"] = self._client(provider, None)
        chosen: list[ExpertSettings]
        if len(models) == 1:
            # One model still makes a circle: different temperatures and seeds sample different answers.
            chosen = [
                ExpertSettings(
                    name=f"local-{i + 1}", provider="local", model=models[0], temperature=t, seed=i + 1
                )
                for i, t in enumerate((0.2, 0.7, 1.0))
            ]
        else:
            chosen = [
                ExpertSettings(name=f"local-{i + 1}", provider="local", model=m, temperature=0.7)
                for i, m in enumerate(models[:5])
            ]
        self.experts = [self._expert(e) for e in chosen]
        self.source = "local"
        log.info("no experts configured; using the local server at %s (%d models)", url, len(models))

    def select(self, names: list[str] | None, available: list[Expert]) -> list[Expert]:
        """The named experts (in the order given), or all of them."""
        if not names:
            return list(available)
        by_name = {e.name: e for e in available}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InvalidArgument(
                f"unknown experts: {', '.join(unknown)}; configured: {', '.join(sorted(by_name))}. "
                "Call experts_list to see them."
            )
        return [by_name[n] for n in dict.fromkeys(names)]

    def describe(self) -> ExpertRoster:
        experts = [
            ExpertInfo(
                name=e.name,
                provider=e.client.name,
                provider_kind=e.client.kind.value,
                model=e.settings.model,
                input_usd_per_mtok=e.price.input if e.price else None,
                output_usd_per_mtok=e.price.output if e.price else None,
                timeout_s=e.timeout_s,
                structured_output=e.structured,
            )
            for e in self.experts
        ]
        providers = []
        for client in self.clients.values():
            health = client.health()
            providers.append(
                ProviderInfo(
                    name=client.name,
                    kind=client.kind.value,
                    base_url=client.settings.url,
                    key_configured=client.has_key,
                    breaker=health.breaker,
                    calls=health.calls,
                    failures=health.failures,
                    last_error=health.last_error,
                    last_latency_ms=health.last_latency_ms,
                )
            )
        notes = []
        if not experts:
            notes.append(SETUP_HINT)
        elif len(experts) == 1:
            notes.append("Only one expert is configured: a consensus needs two or more.")
        return ExpertRoster(experts=experts, providers=providers, source=self.source, notes=notes)


async def probe_models(base_url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> list[str]:
    """Model ids from an OpenAI-compatible `GET /models`; [] when nothing answers there quickly."""
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=2.0, transport=transport) as http:
            response = await http.get("/models")
            response.raise_for_status()
            data = response.json()
        return [str(m["id"]) for m in data.get("data", []) if isinstance(m, dict) and m.get("id")]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return []
