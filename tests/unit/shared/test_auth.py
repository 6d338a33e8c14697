"""Bearer tokens: API keys (hashed) and JWTs (HS256/RS256/ES256), identities, exposure rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mcp.server.auth.provider import AccessToken

from shared.auth import (
    BearerVerifier,
    auth_settings,
    hash_api_key,
    identity_from_token,
    is_loopback,
    local_identity,
    new_api_key,
    require_safe_exposure,
)
from shared.auth_settings import ApiKeySettings, AuthSettings, JwtSettings
from shared.calls import ActiveCall, current_identity, use_call
from shared.errors import ConfigError
from shared.identity import Identity

pytestmark = pytest.mark.anyio

SECRET = "s" * 40
ISS = "https://issuer.example"
AUD = "https://code.example/mcp"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "alice", "exp": now + 600, "nbf": now - 10}
    base["role"] = "operator"
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs_settings(**overrides: Any) -> JwtSettings:
    values: dict[str, Any] = {"issuer": ISS, "audience": AUD, "algorithms": ["HS256"], "secret": SECRET}
    values["leeway_s"] = 0
    values.update(overrides)
    return JwtSettings(**values)


def hs_token(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


# --------------------------------------------------------------------------- API keys


async def test_api_key_is_admitted_with_its_id_and_role() -> None:
    key = new_api_key()
    verifier = BearerVerifier([ApiKeySettings(id="ci-bot", sha256=hash_api_key(key), role="operator")])
    token = await verifier.verify_token(key)
    assert token is not None
    assert identity_from_token(token) == Identity(subject="ci-bot", role="operator", method="api_key")
    assert key not in token.model_dump_json()  # the secret is not kept in request state


async def test_wrong_or_near_api_key_is_refused() -> None:
    key = new_api_key()
    verifier = BearerVerifier([ApiKeySettings(id="a", sha256=hash_api_key(key), role="viewer")])
    for attempt in ("", key[:-1], key + "x", key.upper(), hash_api_key(key)):
        assert await verifier.verify_token(attempt) is None


async def test_api_key_added_at_runtime_is_admitted() -> None:
    verifier = BearerVerifier()
    assert not verifier.configured
    key = new_api_key()
    verifier.add_api_key(ApiKeySettings(id="this-run", sha256=hash_api_key(key), role="viewer"))
    assert verifier.configured
    assert await verifier.verify_token(key) is not None


def test_new_api_keys_are_random_and_long() -> None:
    keys = {new_api_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(k) >= 40 for k in keys)


# --------------------------------------------------------------------------- JWT (HS256)


async def test_valid_jwt_is_admitted_with_subject_role_and_scopes() -> None:
    verifier = BearerVerifier(jwt_rules=hs_settings())
    token = await verifier.verify_token(hs_token(scope="mcp:tools extra"))
    assert token is not None
    identity = identity_from_token(token)
    assert identity == Identity("alice", "operator", "jwt", frozenset({"mcp:tools", "extra"}))
    assert token.expires_at is not None


@pytest.mark.parametrize(
    ("claim", "expected"),
    [(["sre", "team-a"], {"sre", "team-a"}), ("sre team-a", {"sre", "team-a"}), (None, set()), (7, set())],
)
async def test_groups_and_servers_come_from_the_configured_claims(claim: Any, expected: set[str]) -> None:
    rules = hs_settings(groups_claim="groups", servers_claim="code_servers")
    token = await BearerVerifier(jwt_rules=rules).verify_token(
        hs_token(groups=claim, code_servers=["monitoring"])
    )
    assert token is not None
    identity = identity_from_token(token)
    assert identity.groups == frozenset(expected)
    assert identity.servers == frozenset({"monitoring"})
    assert identity.may_use("monitoring") and not identity.may_use("deployment")


async def test_a_token_without_the_servers_claim_opens_no_server_when_the_claim_is_configured() -> None:
    token = await BearerVerifier(jwt_rules=hs_settings(servers_claim="code_servers")).verify_token(hs_token())
    assert token is not None
    assert identity_from_token(token).servers == frozenset()


@pytest.mark.parametrize(
    ("case", "token"),
    [
        ("expired", lambda: hs_token(exp=int(time.time()) - 5)),
        ("not yet valid", lambda: hs_token(nbf=int(time.time()) + 300)),
        ("wrong audience", lambda: hs_token(aud="https://other.example/mcp")),
        ("wrong issuer", lambda: hs_token(iss="https://evil.example")),
        ("no exp", lambda: hs_token(exp=None)),
        ("no nbf", lambda: hs_token(nbf=None)),
        ("no sub", lambda: hs_token(sub=None)),
        ("bad signature", lambda: jwt.encode(claims(), "x" * 40, algorithm="HS256")),
        ("alg none", lambda: jwt.encode(claims(), None, algorithm="none")),
        ("garbage", lambda: "a.b.c"),
        ("not a jwt", lambda: "hello"),
    ],
)
async def test_bad_jwt_is_refused(case: str, token: Any) -> None:
    verifier = BearerVerifier(jwt_rules=hs_settings())
    assert await verifier.verify_token(token()) is None, case


async def test_jwt_without_role_uses_default_role_or_is_refused() -> None:
    token = hs_token(role=None)
    assert await BearerVerifier(jwt_rules=hs_settings()).verify_token(token) is None
    admitted = await BearerVerifier(jwt_rules=hs_settings(default_role="viewer")).verify_token(token)
    assert admitted is not None
    assert identity_from_token(admitted).role == "viewer"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a b a", ["a", "b"]), (["x", "y"], ["x", "y"]), (7, []), (None, [])],
)
async def test_jwt_scopes_from_string_list_or_nothing(raw: Any, expected: list[str]) -> None:
    verifier = BearerVerifier(jwt_rules=hs_settings())
    token = await verifier.verify_token(hs_token(scope=raw))
    assert token is not None
    assert token.scopes == expected


async def test_jwt_scp_claim_is_read_when_scope_is_absent() -> None:
    token = await BearerVerifier(jwt_rules=hs_settings()).verify_token(hs_token(scp=["s1"]))
    assert token is not None
    assert token.scopes == ["s1"]


# --------------------------------------------------------------------------- JWT (RS256, ES256)


def _rsa() -> tuple[Any, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem


async def test_rs256_with_pem_file(tmp_path: Path) -> None:
    key, pem = _rsa()
    (tmp_path / "pub.pem").write_bytes(pem)
    rules = JwtSettings(issuer=ISS, audience=AUD, algorithms=["RS256"], public_key_file=tmp_path / "pub.pem")
    verifier = BearerVerifier(jwt_rules=rules)
    assert await verifier.verify_token(jwt.encode(claims(), key, algorithm="RS256")) is not None
    other, _ = _rsa()
    assert await verifier.verify_token(jwt.encode(claims(), other, algorithm="RS256")) is None
    # An HS256 token signed with the public key as secret (algorithm confusion) is refused.
    forged = _hs256_by_hand(claims(), pem)
    assert await verifier.verify_token(forged) is None


def _hs256_by_hand(payload: dict[str, Any], secret: bytes) -> str:
    """HS256 signed by hand: PyJWT itself refuses to use a public key as an HMAC secret."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(payload).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def _jwks(key: Any, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "ES256"})
    return {"keys": [jwk]}


async def test_es256_with_jwks_file_picks_the_key_by_kid(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "jwks.json").write_text(json.dumps(_jwks(key, "k1")))
    rules = JwtSettings(issuer=ISS, audience=AUD, algorithms=["ES256"], jwks_file=tmp_path / "jwks.json")
    verifier = BearerVerifier(jwt_rules=rules)
    good = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    assert await verifier.verify_token(good) is not None
    unknown_kid = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k2"})
    assert await verifier.verify_token(unknown_kid) is None


async def test_unusable_jwks_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text('{"keys": [{"kty": "nope"}]}')
    rules = JwtSettings(issuer=ISS, audience=AUD, algorithms=["ES256"], jwks_file=tmp_path / "jwks.json")
    with pytest.raises(ConfigError, match="jwks_file"):
        BearerVerifier(jwt_rules=rules)


def test_unreadable_key_file_is_a_config_error(tmp_path: Path) -> None:
    pem = tmp_path / "pub.pem"
    pem.write_text("x")
    rules = JwtSettings(issuer=ISS, audience=AUD, algorithms=["RS256"], public_key_file=pem)
    pem.unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        BearerVerifier(jwt_rules=rules)


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Any]]:
    """A real JWKS endpoint on loopback."""
    key = ec.generate_private_key(ec.SECP256R1())
    body = json.dumps(_jwks(key, "url-key")).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key
    finally:
        server.shutdown()
        server.server_close()


async def test_es256_with_jwks_url(jwks_server: tuple[str, Any]) -> None:
    url, key = jwks_server
    rules = JwtSettings(issuer=ISS, audience=AUD, algorithms=["ES256"], jwks_url=url)
    verifier = BearerVerifier.from_settings(AuthSettings(jwt=rules))
    good = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "url-key"})
    token = await verifier.verify_token(good)
    assert token is not None
    assert identity_from_token(token).subject == "alice"
    other = ec.generate_private_key(ec.SECP256R1())
    assert (
        await verifier.verify_token(jwt.encode(claims(), other, algorithm="ES256", headers={"kid": "x"}))
        is None
    )


# --------------------------------------------------------------------------- identities and exposure


def test_current_identity_only_inside_a_call() -> None:
    with pytest.raises(RuntimeError, match="inside a tool call"):
        current_identity()
    who = Identity("bob", "viewer", "local")
    with use_call(ActiveCall(server="s", tool="t", identity=who, arguments={}, request_id="r")):
        assert current_identity() is who
    with pytest.raises(RuntimeError):
        current_identity()


def test_local_identity_is_the_os_user_with_the_configured_role(monkeypatch: pytest.MonkeyPatch) -> None:
    assert local_identity("operator").role == "operator"
    assert local_identity("operator").method == "local"

    def no_user() -> str:
        raise KeyError("uid not in passwd")

    monkeypatch.setattr("getpass.getuser", no_user)
    assert local_identity("viewer").subject == "local"


def test_identity_from_token_defaults() -> None:
    bare = AccessToken(token="t", client_id="client", scopes=["a"])
    assert identity_from_token(bare) == Identity("client", "", "api_key", frozenset({"a"}))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_unauthenticated_http_is_refused_unless_loopback_and_allowed() -> None:
    require_safe_exposure("0.0.0.0", authenticated=True, allow_unauthenticated_loopback=False)
    require_safe_exposure("127.0.0.1", authenticated=False, allow_unauthenticated_loopback=True)
    with pytest.raises(ConfigError, match="allow_unauthenticated_loopback"):
        require_safe_exposure("127.0.0.1", authenticated=False, allow_unauthenticated_loopback=False)
    with pytest.raises(ConfigError, match=r"0\.0\.0\.0"):
        require_safe_exposure("0.0.0.0", authenticated=False, allow_unauthenticated_loopback=True)


def test_auth_settings_publish_the_resource_and_issuer() -> None:
    settings = auth_settings("http://127.0.0.1:8000/mcp", issuer=ISS, required_scopes=["mcp"])
    assert str(settings.resource_server_url) == "http://127.0.0.1:8000/mcp"
    assert str(settings.issuer_url).rstrip("/") == ISS
    assert settings.required_scopes == ["mcp"]
    keys_only = auth_settings("http://127.0.0.1:8000/mcp", issuer=None)
    assert str(keys_only.issuer_url) == "http://127.0.0.1:8000/mcp"
    assert keys_only.required_scopes is None
