"""Who is calling: bearer tokens on HTTP/SSE (API keys and JWTs), the local user on stdio.

The HTTP transports use the SDK's auth machinery: `BearerVerifier` is the SDK's `TokenVerifier`,
`auth_settings()` builds the `AuthSettings` that make the server publish protected-resource
metadata and answer a missing or bad token with 401 and a `WWW-Authenticate` challenge. The guard
turns the verified `AccessToken` into an `Identity`; tools read it with `shared.calls.current_identity()`.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import jwt
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings as SdkAuthSettings
from pydantic import AnyHttpUrl

from shared.auth_settings import ApiKeySettings, AuthSettings, JwtSettings
from shared.errors import ConfigError
from shared.identity import Identity

__all__ = [
    "BearerVerifier",
    "auth_settings",
    "bearer_identity",
    "hash_api_key",
    "identity_from_token",
    "is_loopback",
    "local_identity",
    "new_api_key",
    "require_safe_exposure",
]


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest stored in config instead of the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random API key (URL-safe, 256 bits)."""
    return "cmk_" + secrets.token_urlsafe(32)


class _JwtVerifier:
    """Checks a JWT's signature and claims with PyJWT; keys are loaded once (JWKS URLs are cached)."""

    def __init__(self, rules: JwtSettings) -> None:
        self.rules = rules
        self._static_key: Any = None
        self._jwk_set: jwt.PyJWKSet | None = None
        self._jwk_client: jwt.PyJWKClient | None = None
        if rules.secret is not None:
            self._static_key = rules.secret.get_secret_value()
        elif rules.public_key_file is not None:
            self._static_key = _read(rules.public_key_file, "auth.jwt.public_key_file")
        elif rules.jwks_file is not None:
            try:
                self._jwk_set = jwt.PyJWKSet.from_json(_read(rules.jwks_file, "auth.jwt.jwks_file"))
            except (jwt.PyJWKError, jwt.PyJWKSetError) as exc:
                raise ConfigError(f"auth.jwt.jwks_file: not a usable JWKS ({exc})") from exc
        else:
            self._jwk_client = jwt.PyJWKClient(str(rules.jwks_url), cache_keys=True, lifespan=300, timeout=5)

    async def claims(self, token: str) -> dict[str, Any] | None:
        try:
            key = await self._key_for(token)
            return jwt.decode(
                token,
                key,
                algorithms=list(self.rules.algorithms),
                audience=self.rules.audience,
                issuer=self.rules.issuer,
                leeway=self.rules.leeway_s,
                options={"require": ["exp", "nbf", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError):
            return None

    async def _key_for(self, token: str) -> Any:
        if self._static_key is not None:
            return self._static_key
        kid = jwt.get_unverified_header(token).get("kid")
        if self._jwk_set is not None:
            candidates = [k for k in self._jwk_set.keys if kid is None or k.key_id == kid]
            if len(candidates) != 1:
                raise jwt.InvalidKeyError(f"no unique key for kid {kid!r}")
            return candidates[0].key
        assert self._jwk_client is not None
        # PyJWKClient fetches with urllib (blocking): keep it off the event loop.
        signing_key = await anyio.to_thread.run_sync(self._jwk_client.get_signing_key_from_jwt, token)
        return signing_key.key


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path} ({exc.strerror})") from exc


class BearerVerifier:
    """The SDK `TokenVerifier` for CODE: API keys (hashed, constant-time) and JWTs."""

    def __init__(self, api_keys: Sequence[ApiKeySettings] = (), jwt_rules: JwtSettings | None = None) -> None:
        self._keys = list(api_keys)
        self._jwt = _JwtVerifier(jwt_rules) if jwt_rules is not None else None

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> BearerVerifier:
        """The verifier `[auth]` describes."""
        return cls(settings.api_keys, settings.jwt)

    @property
    def configured(self) -> bool:
        """Whether any credential can be accepted at all."""
        return bool(self._keys) or self._jwt is not None

    def add_api_key(self, grant: ApiKeySettings) -> None:
        """Accept one more key (used for the per-run key of `serve suite`)."""
        self._keys.append(grant)

    async def verify_token(self, token: str) -> AccessToken | None:
        """Return the access token for a valid API key or JWT, else None (the SDK answers 401)."""
        grant = self._match_api_key(token)
        if grant is not None:
            return AccessToken(
                token="api-key",  # noqa: S106 - a label: the secret itself is never kept in request state
                client_id=grant.id,
                subject=grant.id,
                scopes=[],
                claims={"role": grant.role, "method": "api_key", "servers": grant.servers},
            )
        if self._jwt is None or token.count(".") != 2:
            return None
        claims = await self._jwt.claims(token)
        if claims is None:
            return None
        rules = self._jwt.rules
        role = claims.get(rules.role_claim, rules.default_role)
        if not isinstance(role, str) or not role:
            return None  # no role claim and no default role: refuse rather than guess
        return AccessToken(
            token="jwt",  # noqa: S106 - a label, as above
            client_id=str(claims.get("azp") or claims.get("client_id") or claims["sub"]),
            subject=str(claims["sub"]),
            scopes=_scopes(claims.get(rules.scope_claim, claims.get("scp"))),
            expires_at=int(claims["exp"]),
            claims={
                "role": str(role),
                "method": "jwt",
                "iss": claims["iss"],
                "servers": _servers_of(claims, rules.servers_claim),
                "groups": _listed(claims.get(rules.groups_claim)) if rules.groups_claim else [],
            },
        )

    def _match_api_key(self, token: str) -> ApiKeySettings | None:
        digest = hash_api_key(token)
        found: ApiKeySettings | None = None
        for grant in self._keys:  # no early exit: every stored hash is compared
            if hmac.compare_digest(digest, grant.sha256):
                found = grant
        return found


def _servers_of(claims: dict[str, Any], claim: str | None) -> list[str] | None:
    """The servers a token opens: every one without `servers_claim`; else those the claim lists."""
    return None if claim is None else _listed(claims.get(claim))


def _listed(raw: Any) -> list[str]:
    """A claim holding names: a space-separated string or a list (anything else names none)."""
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return []


def _scopes(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return sorted(set(raw.split()))
    if isinstance(raw, list):
        return sorted({str(s) for s in raw})
    return []


def auth_settings(
    resource_url: str, *, issuer: str | None, required_scopes: Sequence[str] = ()
) -> SdkAuthSettings:
    """The SDK `AuthSettings` that publish protected-resource metadata for `resource_url`.

    `issuer` is the JWT issuer (the authorization server); with API keys only, the resource
    itself is named, since no authorization server exists.
    """
    return SdkAuthSettings(
        issuer_url=AnyHttpUrl(issuer or resource_url),
        resource_server_url=AnyHttpUrl(resource_url),
        required_scopes=list(required_scopes) or None,
        validate_token_resource=False,  # the verifier checks the JWT audience itself
    )


def identity_from_token(token: AccessToken) -> Identity:
    """The identity a verified bearer token stands for."""
    claims = token.claims or {}
    method = claims.get("method")
    servers = claims.get("servers")
    groups = claims.get("groups")
    return Identity(
        subject=token.subject or token.client_id,
        role=str(claims.get("role", "")),
        method="jwt" if method == "jwt" else "api_key",
        scopes=frozenset(token.scopes),
        servers=frozenset(servers) if isinstance(servers, list) else None,
        groups=frozenset(groups) if isinstance(groups, list) else frozenset(),
    )


def local_identity(role: str) -> Identity:
    """The stdio caller: the local OS user, with the role configured for stdio."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers with arbitrary uids)
        user = "local"
    return Identity(subject=user, role=role, method="local")


def bearer_identity() -> Identity | None:
    """The identity of the bearer token the SDK's auth middleware stored for this request."""
    token = get_access_token()
    return identity_from_token(token) if token is not None else None


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_safe_exposure(host: str, *, authenticated: bool, allow_unauthenticated_loopback: bool) -> None:
    """Refuse to serve HTTP without authentication unless bound to loopback and explicitly allowed.

    Raises:
        ConfigError: the combination would expose tools without authentication.
    """
    if authenticated:
        return
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without authentication: configure [auth] api_keys or "
            "[auth.jwt], or bind to 127.0.0.1"
        )
    if not allow_unauthenticated_loopback:
        raise ConfigError(
            "refusing to serve HTTP without authentication: configure [auth] api_keys or [auth.jwt], "
            "or set auth.allow_unauthenticated_loopback = true (loopback only)"
        )
