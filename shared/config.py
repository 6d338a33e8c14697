"""The suite's configuration: one TOML file plus `CODE_MCP_<SECTION>__<FIELD>` environment overrides.

Read only when `load_config` is called (never at import), validated once; every problem becomes
a `ConfigError` that names the file (or environment variable), the field and what is wrong.

    role = "operator"                      # the stdio caller's role
    [auth]      api_keys, jwt, allow_unauthenticated_loopback, resource_url
    [policy]    roles, tiers, namespaces, contexts, kinds, scan/mount roots, URL allowlist
    [limits]    global / identity / tool / identity_tool quotas, costs, max_keys, backend
    [audit]     path (unset = no audit log), key_file, fsync
    [output]    max_items, max_chars
    [logging]   level
    [deployment] [experts] [security_scan] [monitoring]   each server's own settings
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
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

from shared.errors import ConfigError
from shared.output import redact
from shared.policy import DEFAULT_ROLES, PolicySettings
from shared.redis_limiter import RedisLimitSettings

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "SERVER_SECTIONS",
    "ApiKeySettings",
    "AuditSettings",
    "AuthSettings",
    "JwtSettings",
    "LimitSettings",
    "LoggingSettings",
    "OutputSettings",
    "QuotaSettings",
    "SuiteConfig",
    "check_config",
    "load_config",
]

ENV_PREFIX: Final = "CODE_MCP_"
CONFIG_ENV: Final = "CODE_MCP_CONFIG"
SERVER_SECTIONS: Final = ("deployment", "experts", "security_scan", "monitoring")

M = TypeVar("M", bound=BaseModel)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_http_url(url: str, *, what: str) -> str:
    parts = urlsplit(url)
    secure = parts.scheme == "https" or (parts.scheme == "http" and _is_loopback_host(parts.hostname or ""))
    if secure and parts.hostname:
        return url
    raise ValueError(f"{what} must be an https:// URL (http:// only for loopback)")


# --------------------------------------------------------------------------- [auth]


class ApiKeySettings(_Section):
    """One static API key, stored as the SHA-256 of the key (never the key itself)."""

    id: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", description="Name shown in logs.")
    ]
    sha256: Annotated[
        str,
        Field(description="Hex SHA-256 of the key: `printf %s KEY | sha256sum`."),
    ]
    role: str = Field(description="Role the key's holder acts as.")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        value = value.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("must be 64 hexadecimal digits: the output of `printf %s KEY | sha256sum`")
        return value


JwtAlgorithm = Literal["HS256", "RS256", "ES256"]


def _default_algorithms() -> list[JwtAlgorithm]:
    return ["RS256"]


class JwtSettings(_Section):
    """Bearer JWTs: signature, issuer, audience, expiry and not-before are checked."""

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    algorithms: list[JwtAlgorithm] = Field(default_factory=_default_algorithms, min_length=1)
    secret: SecretStr | None = Field(default=None, description="HS256 shared secret (>= 32 bytes).")
    public_key_file: Path | None = Field(default=None, description="PEM public key for RS256/ES256.")
    jwks_file: Path | None = Field(default=None, description="JWKS document on disk.")
    jwks_url: str | None = Field(default=None, description="JWKS URL (https, or http on loopback).")
    role_claim: str = "role"
    default_role: str | None = Field(
        default=None, description="Role for tokens without a role claim; unset = such tokens are refused."
    )
    scope_claim: str = "scope"
    required_scopes: list[str] = Field(default_factory=list)
    leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew allowed for exp/nbf.")

    @field_validator("jwks_url")
    @classmethod
    def _jwks_https(cls, url: str | None) -> str | None:
        return None if url is None else _check_http_url(url, what="jwks_url")

    @model_validator(mode="after")
    def _keys_match_algorithms(self) -> JwtSettings:
        symmetric = "HS256" in self.algorithms
        asymmetric = any(a != "HS256" for a in self.algorithms)
        if symmetric and asymmetric:
            raise ValueError(
                "algorithms: do not mix HS256 with RS256/ES256 (a public key could then sign tokens); "
                "pick one family"
            )
        if symmetric:
            if self.secret is None or len(self.secret.get_secret_value().encode()) < 32:
                raise ValueError(
                    "HS256 needs `secret` of at least 32 bytes (e.g. CODE_MCP_AUTH__JWT__SECRET)"
                )
            return self
        sources = [s for s in (self.public_key_file, self.jwks_file, self.jwks_url) if s is not None]
        if len(sources) != 1:
            raise ValueError("RS256/ES256 need exactly one of public_key_file, jwks_file or jwks_url")
        for name in ("public_key_file", "jwks_file"):
            file = getattr(self, name)
            if file is not None and not Path(file).is_file():
                raise ValueError(f"{name} {str(file)!r} does not exist or is not a file")
        return self


class AuthSettings(_Section):
    """`[auth]`: how HTTP and SSE callers prove who they are."""

    api_keys: list[ApiKeySettings] = Field(default_factory=list)
    jwt: JwtSettings | None = None
    allow_unauthenticated_loopback: bool = Field(
        default=False,
        description="Admit callers without a token, only when the server is bound to loopback.",
    )
    anonymous_role: str = Field(default="viewer", description="Role of unauthenticated loopback callers.")
    resource_url: str | None = Field(
        default=None, description="This server's public URL, published in OAuth protected-resource metadata."
    )

    @field_validator("api_keys")
    @classmethod
    def _unique(cls, keys: list[ApiKeySettings]) -> list[ApiKeySettings]:
        ids = [k.id for k in keys]
        if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"API key ids must be unique; repeated: {', '.join(duplicates)}")
        hashes = [k.sha256 for k in keys]
        if len(set(hashes)) != len(hashes):
            raise ValueError("two API keys have the same sha256; each key must be different")
        return keys

    @field_validator("resource_url")
    @classmethod
    def _resource(cls, url: str | None) -> str | None:
        return None if url is None else _check_http_url(url, what="resource_url")


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
        default="memory", description="'memory': per process; 'redis': one quota for every replica."
    )
    redis: RedisLimitSettings = Field(default_factory=RedisLimitSettings)

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
    """`[output]`: the budget of every list-like result."""

    max_items: int = Field(default=50, ge=1, le=10_000)
    max_chars: int = Field(default=20_000, ge=100, le=10_000_000)


class LoggingSettings(_Section):
    """`[logging]`: JSON lines to stderr."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


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
    audit: AuditSettings = Field(default_factory=AuditSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
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
            raise ConfigError(_describe(exc, self._source, prefix=(name,))) from None


# --------------------------------------------------------------------------- loading

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


def _describe(
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
                shown = f" (got {redact(repr(value))[:80]})"
        if error["type"] == "extra_forbidden":
            message = "unknown setting; check the spelling against docs/readme/shared-core.md"
        lines.append(f"{where}: {_path(loc)}: {message}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file {str(path)!r} does not exist (from --config or {CONFIG_ENV})"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"configuration path {str(path)!r} is a folder; give the TOML file") from None
    except PermissionError:
        raise ConfigError(f"configuration file {str(path)!r} cannot be read: permission denied") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


# Path settings of the common sections; relative values in the file are taken from its folder.
_PATH_FIELDS: Final = (
    ("audit", "path"),
    ("audit", "key_file"),
    ("limits", "redis", "url_file"),
    ("auth", "jwt", "public_key_file"),
    ("auth", "jwt", "jwks_file"),
    ("policy", "scan_roots"),
    ("policy", "docker_mount_roots"),
)


def _anchor_paths(data: dict[str, Any], folder: Path) -> None:
    """Make relative paths of the common sections relative to the configuration file's folder."""

    def anchor(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return str(folder / value)
        return value

    for *parents, name in _PATH_FIELDS:
        node: Any = data
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and name in node:
            value = node[name]
            node[name] = [anchor(v) for v in value] if isinstance(value, list) else anchor(value)


def load_config(path: Path | str | None = None) -> SuiteConfig:
    """Read and validate the configuration.

    Args:
        path: the TOML file; when None, `CODE_MCP_CONFIG` names it; when that is unset too, only
            the defaults and the environment are used.

    Raises:
        ConfigError: the file is missing or not TOML, or a value is invalid (every problem listed).
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = os.environ[CONFIG_ENV]
    source = Path(path) if path is not None else None
    file_data = _read_toml(source) if source is not None else {}
    if source is not None:
        _anchor_paths(file_data, source.resolve().parent)
    try:
        config = SuiteConfig(**file_data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, file_data=file_data)) from None
    config._source = source
    return config


def check_config(path: Path | str | None, sections: Mapping[str, type[BaseModel]]) -> SuiteConfig:
    """`load_config`, then validate each server section with its model (for `config check`).

    Raises:
        ConfigError: listing every problem found, in the common sections or any server's.
    """
    config = load_config(path)
    problems: list[str] = []
    for name, model in sections.items():
        try:
            config.section(name, model)
        except ConfigError as exc:
            problems.extend(str(exc).splitlines()[1:])
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))
    return config
