"""The `[experts]` section of the suite configuration: providers, experts, prices and limits.

Example (TOML):

    [experts]
    default_timeout_s = 60
    default_budget_usd = 0.50

    [[experts.providers]]
    name = "anthropic"
    kind = "anthropic"
    api_key_env = "ANTHROPIC_API_KEY"

    [[experts.experts]]
    name = "claude"
    provider = "anthropic"
    model = "claude-sonnet-4-5"
    input_usd_per_mtok = 3.0
    output_usd_per_mtok = 15.0
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

#: Default API base URLs per provider kind (an `openai_compatible` provider must name its own).
DEFAULT_BASE_URLS = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}

#: Where a local Ollama (or any OpenAI-compatible server) usually answers.
OLLAMA_URL = "http://127.0.0.1:11434/v1"


JsonMode = Literal["json_schema", "json_object"]


class ProviderKind(StrEnum):
    """The wire format a provider speaks."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    GEMINI = "gemini"
    OPENAI_COMPATIBLE = "openai_compatible"


class ProviderSettings(BaseModel):
    """One provider endpoint; every expert on it shares one pooled HTTP client."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    kind: ProviderKind
    base_url: str | None = Field(
        default=None, description="API base URL; required for openai_compatible, defaulted otherwise"
    )
    api_key: SecretStr | None = Field(default=None, description="the key itself (prefer api_key_env)")
    api_key_env: str | None = Field(default=None, description="environment variable holding the key")
    structured_output: bool | None = Field(
        default=None,
        description="ask for JSON-schema output; default: yes for openai and gemini, no otherwise",
    )
    json_mode: JsonMode = Field(
        default="json_schema",
        description="OpenAI-style structured output dialect: json_schema (OpenAI, vLLM, Ollama, llama.cpp's "
        "server) or json_object with a schema (llama-cpp-python)",
    )
    accepts_images: bool | None = Field(
        default=None,
        description="send attached images as image blocks; default: yes for anthropic, openai and gemini, "
        "no for openai_compatible (set true for a vision model behind it)",
    )
    max_retries: int = Field(default=3, ge=0, le=10)
    max_retry_wait_s: float = Field(default=30.0, gt=0, description="longest Retry-After honoured")
    requests_per_second: float = Field(default=5.0, gt=0)
    burst: int = Field(default=5, ge=1)
    max_connections: int = Field(default=20, ge=1)
    breaker_failures: int = Field(default=5, ge=1, description="consecutive failures that open the breaker")
    breaker_cooldown_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _base_url_known(self) -> Self:
        if self.base_url is None:
            if self.kind is ProviderKind.OPENAI_COMPATIBLE:
                raise ValueError(f"provider {self.name!r}: openai_compatible needs base_url")
            self.base_url = DEFAULT_BASE_URLS[self.kind.value]
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"provider {self.name!r}: base_url must be http(s)")
        self.base_url = self.base_url.rstrip("/")
        return self

    @property
    def url(self) -> str:
        """The base URL (always set after validation)."""
        assert self.base_url is not None
        return self.base_url

    @property
    def wants_structured(self) -> bool:
        if self.structured_output is not None:
            return self.structured_output
        return self.kind in (ProviderKind.OPENAI, ProviderKind.GEMINI)

    @property
    def takes_images(self) -> bool:
        if self.accepts_images is not None:
            return self.accepts_images
        return self.kind is not ProviderKind.OPENAI_COMPATIBLE

    def resolve_key(self, environ: Mapping[str, str]) -> str | None:
        """The API key from config, else from the named environment variable."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return environ.get(self.api_key_env) or None
        return None


class ExpertSettings(BaseModel):
    """One expert: a model on a provider with its own prompt, sampling and prices."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    provider: str
    model: str = Field(min_length=1, max_length=200)
    system_prompt: str | None = Field(default=None, max_length=8000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = None
    max_tokens: int = Field(default=512, ge=16, le=32000)
    input_usd_per_mtok: float | None = Field(default=None, ge=0, description="USD per million input tokens")
    output_usd_per_mtok: float | None = Field(default=None, ge=0, description="USD per million output tokens")
    timeout_s: float | None = Field(default=None, gt=0, description="overrides default_timeout_s")


class Price(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class EmbeddingsSettings(BaseModel):
    """An OpenAI-compatible `/embeddings` endpoint that feeds the consensus semantic vectors."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(description="name of an openai / openai_compatible provider")
    model: str


class ExpertsSettings(BaseModel):
    """The `[experts]` section."""

    model_config = ConfigDict(extra="forbid")

    providers: list[ProviderSettings] = Field(default_factory=list)
    experts: list[ExpertSettings] = Field(default_factory=list)
    prices: dict[str, Price] = Field(
        default_factory=dict, description="model name → price, used when an expert names none"
    )
    default_timeout_s: float = Field(default=60.0, gt=0, le=600)
    default_budget_usd: float = Field(default=1.0, ge=0)
    max_budget_usd: float = Field(default=10.0, ge=0, description="the most one call may be allowed")
    max_question_chars: int = Field(default=20000, ge=100)
    max_answer_chars: int = Field(default=4000, ge=200, description="answer text kept per expert")
    escalation_start: int = Field(default=2, ge=1, description="experts asked first in escalation mode")
    embeddings: EmbeddingsSettings | None = None
    local_probe_url: str | None = Field(
        default=OLLAMA_URL,
        description='OpenAI-compatible URL probed when no expert is configured ("" disables)',
    )
    synthesize: bool = Field(default=False, description="experts_ask's default for synthesize")
    chairman: str | None = Field(
        default=None,
        description="the expert who writes syntheses; default: the first expert of the call that answered",
    )
    verdict_follow_up: bool = Field(
        default=True,
        description="ask an expert whose answer states no verdict for its one-line verdict (one short call)",
    )
    thread_store: Literal["memory", "redis"] = Field(
        default="memory", description="where conversations live: this process, or the fleet's [redis]"
    )
    thread_ttl_s: float = Field(
        default=3600.0, gt=0, le=7 * 86400, description="a thread expires this long after its last round"
    )
    max_threads: int = Field(
        default=50, ge=1, le=10_000, description="live threads per caller (oldest go first)"
    )
    thread_rounds: int = Field(
        default=10, ge=1, le=100, description="rounds kept per thread (oldest go first)"
    )
    thread_history_chars: int = Field(
        default=4000, ge=200, le=100_000, description="characters of history each expert is shown, at most"
    )
    max_files: int = Field(default=8, ge=0, le=64, description="files attached to one question, at most")
    max_file_bytes: int = Field(default=200_000, ge=1, description="bytes of one attached text file, at most")
    max_files_bytes: int = Field(default=1_000_000, ge=1, description="bytes of all attached files, at most")
    max_image_bytes: int = Field(
        default=3_750_000, ge=1, description="bytes of one attached image (Anthropic takes 5 MB of base64)"
    )

    @field_validator("local_probe_url")
    @classmethod
    def _probe_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise ValueError("local_probe_url must be an http(s) URL, or empty to disable the probe")
        return url.rstrip("/")

    @field_validator("experts")
    @classmethod
    def _unique_experts(cls, experts: list[ExpertSettings]) -> list[ExpertSettings]:
        names = [e.name for e in experts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"expert names must be unique: {', '.join(dupes)}")
        return experts

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        providers = {p.name: p for p in self.providers}
        if len(providers) != len(self.providers):
            raise ValueError("provider names must be unique")
        for expert in self.experts:
            if expert.provider not in providers:
                raise ValueError(
                    f"expert {expert.name!r} names provider {expert.provider!r}, which is not in "
                    f"[[experts.providers]] (known: {', '.join(sorted(providers)) or 'none'})"
                )
        if self.chairman is not None and self.chairman not in {e.name for e in self.experts}:
            raise ValueError(f"chairman {self.chairman!r} is not one of [[experts.experts]]")
        if self.embeddings is not None:
            emb = providers.get(self.embeddings.provider)
            if emb is None or emb.kind not in (ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE):
                raise ValueError("embeddings.provider must name an openai or openai_compatible provider")
        return self

    def price_of(self, expert: ExpertSettings) -> Price | None:
        """The expert's own price, else the price table's entry for its model, else None (free/unknown)."""
        if expert.input_usd_per_mtok is not None or expert.output_usd_per_mtok is not None:
            return Price(input=expert.input_usd_per_mtok or 0.0, output=expert.output_usd_per_mtok or 0.0)
        return self.prices.get(expert.model)

    def timeout_of(self, expert: ExpertSettings) -> float:
        return expert.timeout_s if expert.timeout_s is not None else self.default_timeout_s
