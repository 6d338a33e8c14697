"""`[auth]`: how HTTP and SSE callers prove who they are, and which Host headers the edge accepts."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["ApiKeySettings", "AuthFailureSettings", "AuthSettings", "JwtAlgorithm", "JwtSettings"]

_SERVER_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,63}")
_HOST: Final = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:([0-9]{1,5}|\*))?")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _servers(names: list[str] | None) -> list[str] | None:
    for name in names or []:
        if not _SERVER_NAME.fullmatch(name):
            raise ValueError(f"server name {name!r} must be a server such as 'monitoring' or 'security-scan'")
    return names


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
    servers: list[str] | None = Field(
        default=None,
        description="Servers of `serve suite` this key opens (e.g. ['monitoring']); unset = all of them.",
    )

    @field_validator("servers")
    @classmethod
    def _known_servers(cls, names: list[str] | None) -> list[str] | None:
        return _servers(names)

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
    groups_claim: str | None = Field(
        default=None,
        description="Claim listing the caller's groups (e.g. 'groups'); they can be passed on as Kubernetes "
        "impersonation groups ([deployment.impersonation] group_prefix).",
    )
    servers_claim: str | None = Field(
        default=None,
        description="Claim listing the servers of `serve suite` a token opens; unset = every server. "
        "When set, a token without the claim opens none.",
    )
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


class AuthFailureSettings(_Section):
    """How often one client address may fail authentication before it is answered 429."""

    rate: float = Field(default=1.0, gt=0, description="Failed attempts per `period_s` in the long run.")
    burst: int = Field(default=10, ge=1, description="Failed attempts allowed at once.")
    period_s: float = Field(default=1.0, gt=0)


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
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host headers clients reach this server by (e.g. 'code.example.com', "
        "'mcp.internal:8443', 'host:*'), besides the bind address and, on loopback, the loopback names; "
        "DNS-rebinding protection refuses every other Host on every bind.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origin headers browsers may send (e.g. 'https://app.example.com'); requests "
        "without an Origin are not affected.",
    )
    failures: AuthFailureSettings = Field(
        default_factory=AuthFailureSettings,
        description="Throttle on failed authentication, per client address.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a credential (only sensible on a private metrics network).",
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

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not _HOST.fullmatch(host):
                raise ValueError(
                    f"allowed host {host!r} must be a host name or address, optionally ':port' or ':*'"
                )
        return hosts

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(f"allowed origin {origin!r} must look like 'https://app.example.com'")
        return origins

    @field_validator("resource_url")
    @classmethod
    def _resource(cls, url: str | None) -> str | None:
        return None if url is None else _check_http_url(url, what="resource_url")
