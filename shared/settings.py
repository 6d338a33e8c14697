"""The suite's configuration as validated data: `SuiteConfig` and its common sections (pydantic only).

Loading it from a TOML file and the environment is `shared.config.load_config`; importing this
module never imports a client library (no redis, no prometheus_client).

    role = "operator"                      # the stdio caller's role
    [auth]      api_keys, jwt, allowed_hosts, ...   (shared.auth_settings)
    [policy]    roles, tiers, namespaces, ...        (shared.policy_settings)
    [limits]    global / identity / tool / identity_tool quotas, costs, max_keys, backend, fail
    [redis]     the fleet's Redis: quotas (`[limits] backend = "redis"`) and deployment plans
    [audit]     path (unset = no audit log), key_file, fsync
    [output]    max_items, max_chars, max_result_chars, cursor_key_file
    [logging]   level
    [telemetry] otlp_endpoint (unset = no tracing), service_name, headers
    [deployment] [experts] [security_scan] [monitoring]   each server's own settings
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from shared.auth_settings import AuthSettings
from shared.errors import ConfigError
from shared.policy_settings import DEFAULT_ROLES, PolicySettings
from shared.redaction import redact_text

__all__ = [
    "ENV_PREFIX",
    "SERVER_SECTIONS",
    "AuditSettings",
    "LimitSettings",
    "LoggingSettings",
    "OutputSettings",
    "QuotaSettings",
    "RedisSettings",
    "SuiteConfig",
    "TelemetrySettings",
    "describe_errors",
]

ENV_PREFIX: Final = "CODE_MCP_"
SERVER_SECTIONS: Final = ("deployment", "experts", "security_scan", "monitoring")

M = TypeVar("M", bound=BaseModel)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- [limits]


class QuotaSettings(_Section):
    """`rate` calls per `period_s` seconds, at most `burst` at once."""

    rate: float = Field(gt=0)
    burst: int = Field(ge=1)
    period_s: float = Field(default=1.0, gt=0)


class LimitSettings(_Section):
    """`[limits]`: quotas, nested global ⊇ identity ⊇ tool ⊇ (identity, tool); unset = no such rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    global_: QuotaSettings | None = Field(
        default_factory=lambda: QuotaSettings(rate=200, burst=400), alias="global"
    )
    identity: QuotaSettings | None = Field(default_factory=lambda: QuotaSettings(rate=20, burst=40))
    tool: QuotaSettings | None = None
    identity_tool: QuotaSettings | None = None
    costs: dict[str, int] = Field(default_factory=dict, description="Tool name -> cost (default 1).")
    max_keys: int = Field(default=100_000, ge=100)
    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="'memory': per process; 'redis': one quota for every replica, in the [redis] section.",
    )
    fail: Literal["open", "closed"] = Field(
        default="open",
        description="Redis unreachable: 'open' enforces the quotas per replica, 'closed' refuses every call.",
    )
    retry_interval_s: float = Field(
        default=1.0, gt=0, le=300, description="While Redis is down, try it again at most this often."
    )

    @property
    def quotas(self) -> dict[str, QuotaSettings]:
        """The configured rules by name (`global`, `identity`, `tool`, `identity_tool`)."""
        rules = {"global": self.global_, "identity": self.identity, "tool": self.tool}
        rules["identity_tool"] = self.identity_tool
        return {name: quota for name, quota in rules.items() if quota is not None}

    @model_validator(mode="after")
    def _costs_fit(self) -> LimitSettings:
        smallest = min((q.burst for q in self.quotas.values()), default=None)
        for tool, cost in self.costs.items():
            if cost < 1:
                raise ValueError(f"costs.{tool}: a cost must be at least 1")
            if smallest is not None and cost > smallest:
                raise ValueError(
                    f"costs.{tool} = {cost} exceeds the smallest burst ({smallest}); it could never run"
                )
        return self


# --------------------------------------------------------------------------- [redis]


class RedisSettings(_Section):
    """`[redis]`: the fleet's Redis, used by `[limits] backend = "redis"` and `[deployment] plan_store`."""

    url: SecretStr | None = Field(
        default=None,
        description="redis://, rediss:// or unix:// URL; with a password, prefer `url_file` (a Secret).",
    )
    url_file: Path | None = Field(
        default=None, description="File holding the URL (a mounted Secret); takes precedence over `url`."
    )
    timeout_s: float = Field(default=0.25, gt=0, le=10, description="Connect and reply timeout per call.")
    prefix: str = Field(
        default="code-mcp", pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Prefix of every key written."
    )

    @property
    def configured(self) -> bool:
        """Whether a URL (or a URL file) is set."""
        return self.url is not None or self.url_file is not None

    def redis_url(self) -> str:
        """The URL to connect to: `url_file`'s content when set, else `url`.

        Raises:
            ConfigError: neither is set, the file cannot be read, or the URL is not a Redis URL.
        """
        if self.url_file is not None:
            try:
                url = self.url_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"redis.url_file {str(self.url_file)!r}: {exc.strerror}") from None
        elif self.url is not None:
            url = self.url.get_secret_value()
        else:
            raise ConfigError("[redis] needs url or url_file (the fleet's Redis)")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("[redis] url must be a redis://, rediss:// or unix:// URL")
        return url


# --------------------------------------------------------------------------- small sections


class AuditSettings(_Section):
    """`[audit]`: the hash-chained audit log. No `path` = no audit log (say so in deployments)."""

    path: Path | None = None
    key_file: Path | None = Field(
        default=None, description="File holding an HMAC key; makes the chain unforgeable without it."
    )
    key: SecretStr | None = Field(default=None, description="The HMAC key itself (prefer key_file).")
    fsync: bool = Field(default=True, description="fsync every line (durable across power loss).")
    preview_chars: int = Field(default=512, ge=0, le=20_000)

    @model_validator(mode="after")
    def _one_key(self) -> AuditSettings:
        if self.key is not None and self.key_file is not None:
            raise ValueError("set either key or key_file, not both")
        if self.key_file is not None and not self.key_file.is_file():
            raise ValueError(f"key_file {str(self.key_file)!r} does not exist or is not a file")
        return self

    def hmac_key(self) -> bytes | None:
        """The HMAC key bytes, or None when the chain is plain SHA-256."""
        if self.key is not None:
            return self.key.get_secret_value().encode()
        if self.key_file is not None:
            return self.key_file.read_bytes().strip()
        return None


class OutputSettings(_Section):
    """`[output]`: the budget of every result, and the key that authenticates cursors."""

    max_items: int = Field(default=50, ge=1, le=10_000, description="Most items on one page.")
    max_chars: int = Field(
        default=20_000, ge=100, le=10_000_000, description="About this many characters on one page."
    )
    max_result_chars: int | None = Field(
        default=None,
        ge=1_000,
        description="Hard cap on one whole result (the kit clips longer strings, then lists, and says "
        "so); default 4 times max_chars.",
    )
    cursor_key_file: Path | None = Field(
        default=None,
        description="File holding the key that signs cursors, shared by every replica; unset = a random "
        "key per process (a cursor then only works on the replica that made it).",
    )

    @property
    def result_chars(self) -> int:
        """The hard cap on one result's size."""
        return self.max_result_chars or 4 * self.max_chars

    def cursor_key(self) -> bytes | None:
        """The configured cursor key, or None for a random one.

        Raises:
            ConfigError: the file cannot be read or holds fewer than 16 bytes.
        """
        if self.cursor_key_file is None:
            return None
        try:
            key = self.cursor_key_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"output.cursor_key_file {str(self.cursor_key_file)!r}: {exc.strerror}"
            ) from None
        if len(key) < 16:
            raise ConfigError(
                "output.cursor_key_file must hold at least 16 bytes (e.g. `openssl rand -hex 32`)"
            )
        return key


class LoggingSettings(_Section):
    """`[logging]`: JSON lines to stderr."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class TelemetrySettings(_Section):
    """`[telemetry]`: OpenTelemetry traces over OTLP/HTTP (`shared.telemetry`); off while no endpoint."""

    otlp_endpoint: AnyHttpUrl | None = Field(
        default=None, description="The collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318."
    )
    service_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Default: code-mcp-<server>."
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Sent with every export (a collector's API key)."
    )
    timeout_s: float = Field(default=10, gt=0, le=120)
    export_delay_ms: int = Field(default=2000, ge=10, le=60_000, description="Batch spans this long.")


# --------------------------------------------------------------------------- the whole


class SuiteConfig(BaseSettings):
    """Everything the suite is told, validated. Build it with `load_config`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
        case_sensitive=False,
    )

    role: str = Field(default="viewer", description="Role of the local (stdio) caller.")
    auth: AuthSettings = Field(default_factory=AuthSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    deployment: dict[str, Any] = Field(default_factory=dict)
    experts: dict[str, Any] = Field(default_factory=dict)
    security_scan: dict[str, Any] = Field(default_factory=dict)
    monitoring: dict[str, Any] = Field(default_factory=dict)

    _source: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (passed as init values); no .env or secrets dir.
        return env_settings, init_settings

    @model_validator(mode="after")
    def _roles_exist(self) -> SuiteConfig:
        known = set(DEFAULT_ROLES) | set(self.policy.roles)
        uses = [("role", self.role), ("auth.anonymous_role", self.auth.anonymous_role)]
        uses += [(f"auth.api_keys[{i}].role", key.role) for i, key in enumerate(self.auth.api_keys)]
        if self.auth.jwt is not None and self.auth.jwt.default_role is not None:
            uses.append(("auth.jwt.default_role", self.auth.jwt.default_role))
        for where, role in uses:
            if role not in known:
                raise ValueError(f"{where}: unknown role {role!r} (known: {', '.join(sorted(known))})")
        if self.limits.backend == "redis" and not self.redis.configured:
            raise ValueError("limits.backend: 'redis' needs the fleet's Redis: set [redis] url or url_file")
        return self

    @property
    def source(self) -> Path | None:
        """The file this configuration was read from (None: defaults and environment only)."""
        return self._source

    def section(self, name: str, model: type[M]) -> M:
        """Validate a server's own section with its settings model; `ConfigError` if invalid."""
        if name not in SERVER_SECTIONS:
            raise ConfigError(f"unknown server section {name!r}; known: {', '.join(SERVER_SECTIONS)}")
        data: dict[str, Any] = getattr(self, name)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc, self._source, prefix=(name,))) from None


_SECRETISH: Final = re.compile(r"(?i)secret|key|token|password")


def _where(loc: tuple[str | int, ...], source: Path | None, file_data: Mapping[str, Any]) -> str:
    """Name where a bad value came from: an environment variable, the file, or the defaults."""
    names = {name.upper() for name in os.environ}
    keys = [str(p) for p in loc if isinstance(p, str)]
    for cut in range(len(keys), 0, -1):
        candidate = ENV_PREFIX + "__".join(keys[:cut]).upper()
        if candidate in names:
            return f"environment {candidate}"
        if cut < len(keys) and (below := sorted(n for n in names if n.startswith(candidate + "__"))):
            # An override of one nested field replaces the section's defaults as a whole.
            return f"environment {', '.join(below)} (set every required field of {'.'.join(keys[:cut])})"
    if source is not None and loc and loc[0] in file_data:
        return str(source)
    return "defaults"


def _path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "(top level)"


def describe_errors(
    exc: ValidationError,
    source: Path | None,
    *,
    prefix: tuple[str, ...] = (),
    file_data: Mapping[str, Any] | None = None,
) -> str:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc: tuple[str | int, ...] = (*prefix, *error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if not loc and (named := re.match(r"([a-z_]+(?:\[\d+\]|\.[a-z_]+)*): (.*)", message)):
            # a cross-field check names its field at the start of its message
            loc = tuple(int(p) if p.isdigit() else p for p in re.findall(r"[a-z_]+|\d+", named[1]))
            message = named[2]
        where = _where(loc, source, file_data or {}) if file_data is not None else str(source or "config")
        shown = ""
        if error["type"] not in ("missing", "extra_forbidden") and not _SECRETISH.search(_path(loc)):
            value = error.get("input")
            if isinstance(value, (str, int, float, bool)):
                shown = f" (got {redact_text(repr(value))[:80]})"
        if error["type"] == "extra_forbidden":
            message = "unknown setting; check the spelling against docs/readme/shared-core.md"
        lines.append(f"{where}: {_path(loc)}: {message}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
