"""Loading the suite configuration: file + environment, and errors a user can act on."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.config import CONFIG_ENV, check_config, load_config
from shared.errors import ConfigError
from shared.output import OutputBudget
from shared.policy_settings import Tier
from shared.settings import AuditSettings, SuiteConfig

KEY_HASH = hashlib.sha256(b"k1").hexdigest()


class MonitoringSettings(BaseModel):
    """Stands in for a server's settings.py model."""

    model_config = ConfigDict(extra="forbid")
    prometheus_url: str = "http://127.0.0.1:9090"
    timeout_s: float = Field(default=5.0, gt=0)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("CODE_MCP_"):
            monkeypatch.delenv(name)


def error_of(func: Callable[..., object], *args: object) -> str:
    with pytest.raises(ConfigError) as error:
        func(*args)
    return str(error.value)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "code-mcp.toml"
    path.write_text(text)
    return path


def test_defaults_refuse_by_default() -> None:
    config = load_config()
    assert config.source is None
    assert config.role == "viewer"
    assert config.auth.api_keys == [] and config.auth.jwt is None
    assert config.auth.allow_unauthenticated_loopback is False
    assert config.policy.tiers == {} and config.policy.scan_roots == []
    assert config.audit.path is None
    assert set(config.limits.quotas) == {"global", "identity"}
    assert OutputBudget.from_settings(config.output) == OutputBudget(50, 20_000)


def test_a_full_file_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
role = "operator"
[auth]
api_keys = [{{ id = "ci", sha256 = "{KEY_HASH.upper()}", role = "operator" }}]
allow_unauthenticated_loopback = true
resource_url = "https://mcp.example.com/deployment"
[auth.jwt]
issuer = "https://issuer.example.com"
audience = "code-mcp"
algorithms = ["HS256"]
secret = "{"s" * 32}"
default_role = "viewer"
[policy]
tiers = {{ deployment = "write" }}
k8s_namespaces = ["default", "apps"]
url_allowlist = ["http://127.0.0.1:9090"]
[policy.roles]
auditor = ["monitoring:read"]
[limits]
global = {{ rate = 10, burst = 20 }}
identity_tool = {{ rate = 1, burst = 2, period_s = 60 }}
costs = {{ experts_ask = 2 }}
[audit]
path = "{tmp_path / "audit.jsonl"}"
[output]
max_items = 10
[logging]
level = "debug"
[monitoring]
prometheus_url = "http://127.0.0.1:9091"
""",
    )
    config = load_config(path)
    assert config.source == path
    assert config.role == "operator"
    assert config.auth.api_keys[0].sha256 == KEY_HASH  # normalised to lowercase
    assert config.auth.jwt is not None and config.auth.jwt.secret is not None
    assert "s" * 32 not in repr(config)  # secrets never printed
    assert config.policy.tiers["deployment"] is Tier.WRITE
    assert set(config.limits.quotas) == {"global", "identity", "identity_tool"}
    assert config.limits.quotas["identity_tool"].period_s == 60
    assert config.logging.level == "DEBUG"
    assert config.section("monitoring", MonitoringSettings).prometheus_url == "http://127.0.0.1:9091"
    assert config.section("experts", MonitoringSettings).timeout_s == 5.0


def test_the_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "role = 'viewer'\n[output]\nmax_items = 10\nmax_chars = 500\n")
    monkeypatch.setenv("CODE_MCP_ROLE", "admin")
    monkeypatch.setenv("CODE_MCP_OUTPUT__MAX_ITEMS", "7")
    monkeypatch.setenv("CODE_MCP_MONITORING__TIMEOUT_S", "2.5")
    monkeypatch.setenv("CODE_MCP_AUTH__ALLOW_UNAUTHENTICATED_LOOPBACK", "true")
    monkeypatch.setenv("CODE_MCP_CACHE", "/somewhere")  # other CODE_MCP_ variables are not settings
    config = load_config(path)
    assert config.role == "admin"
    assert (config.output.max_items, config.output.max_chars) == (7, 500)
    assert config.auth.allow_unauthenticated_loopback is True
    assert config.section("monitoring", MonitoringSettings).timeout_s == 2.5


def test_lists_and_tables_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODE_MCP_POLICY__K8S_NAMESPACES", '["default", "apps"]')
    monkeypatch.setenv("CODE_MCP_POLICY__TIERS__DEPLOYMENT", "write")
    monkeypatch.setenv(
        "CODE_MCP_AUTH__API_KEYS", f'[{{"id": "ci", "sha256": "{KEY_HASH}", "role": "operator"}}]'
    )
    config = load_config()
    assert config.policy.k8s_namespaces == ["default", "apps"]
    assert config.policy.tiers == {"deployment": Tier.WRITE}
    assert [key.id for key in config.auth.api_keys] == ["ci"]


def test_the_file_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(write(tmp_path, "role = 'operator'\n")))
    assert load_config().role == "operator"


def test_nothing_is_read_at_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.toml"))
    import importlib

    import shared.config

    importlib.reload(shared.config)  # must not raise although the file is missing
    with pytest.raises(ConfigError, match="does not exist"):
        shared.config.load_config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("role = 'oprator'", "role: unknown role 'oprator' (known: admin, operator, viewer)"),
        ("[polcy]\nx = 1", "polcy: unknown setting"),
        ("[output]\nmax_items = 0", "output.max_items: Input should be greater than or equal to 1 (got 0)"),
        ("[output]\nmax_items = 'many'", "output.max_items: Input should be a valid integer"),
        ("[logging]\nlevel = 'loud'", "logging.level: Input should be 'DEBUG'"),
        ("[auth]\napi_keys = [{id='a', sha256='abc', role='viewer'}]", "auth.api_keys[0].sha256: must be 64"),
        ("[auth]\napi_keys = [{id='a', role='viewer'}]", "auth.api_keys[0].sha256: Field required"),
        (
            f"[auth]\napi_keys = [{{id='a', sha256='{KEY_HASH}', role='root'}}]",
            "auth.api_keys[0].role: unknown role 'root'",
        ),
        (
            f"[auth]\napi_keys = [{{id='a', sha256='{KEY_HASH}', role='viewer'}},"
            f" {{id='a', sha256='{'0' * 64}', role='viewer'}}]",
            "ids must be unique; repeated: a",
        ),
        (
            f"[auth]\napi_keys = [{{id='a', sha256='{KEY_HASH}', role='viewer'}},"
            f" {{id='b', sha256='{KEY_HASH}', role='viewer'}}]",
            "same sha256",
        ),
        ("[auth]\nresource_url = 'http://example.com/mcp'", "resource_url must be an https:// URL"),
        (
            "[auth.jwt]\nissuer = 'i'\naudience = 'a'\nalgorithms = ['none']",
            "Input should be 'HS256', 'RS256'",
        ),
        ("[auth.jwt]\nissuer = 'i'\naudience = 'a'\nalgorithms = ['HS256']", "HS256 needs `secret`"),
        ("[auth.jwt]\nissuer = 'i'\naudience = 'a'\nalgorithms = ['HS256']\nsecret = 'short'", "HS256 needs"),
        (
            "[auth.jwt]\nissuer = 'i'\naudience = 'a'\nalgorithms = ['HS256', 'RS256']\nsecret = '"
            + "x" * 40
            + "'",
            "do not mix HS256",
        ),
        ("[auth.jwt]\nissuer = 'i'\naudience = 'a'", "exactly one of public_key_file, jwks_file or jwks_url"),
        ("[auth.jwt]\nissuer = 'i'\naudience = 'a'\njwks_file = '/nonexistent/jwks.json'", "does not exist"),
        ("[auth.jwt]\nissuer = 'i'\naudience = 'a'\njwks_url = 'http://idp.example.com/jwks'", "https://"),
        (
            "[auth.jwt]\nissuer = 'i'\naudience = 'a'\njwks_url = 'https://x'\ndefault_role = 'god'",
            "unknown role",
        ),
        ("[policy]\ntiers = {deployment = 'root'}", "policy.tiers.deployment: Input should be 'read'"),
        ("[policy]\nurl_allowlist = ['gopher://x']", "only http and https"),
        ("[policy.roles]\nx = ['deployment:nuke']", "unknown permission 'deployment:nuke'"),
        ("[limits]\nglobal = {rate = 0, burst = 1}", "limits.global.rate: Input should be greater than 0"),
        ("[limits]\nidentity = {rate = 1}", "limits.identity.burst: Field required"),
        ("[limits]\ncosts = {ask = 100}", "costs.ask = 100 exceeds the smallest burst (40)"),
        ("[limits]\ncosts = {ask = 0}", "costs.ask: a cost must be at least 1"),
        ("[limits]\nbackend = 'etcd'", "limits.backend: Input should be 'memory' or 'redis'"),
        ("[audit]\nkey = 'k'\nkey_file = '/etc/hostname'", "either key or key_file"),
        ("[audit]\nkey_file = '/nonexistent'", "key_file '/nonexistent' does not exist"),
        ("deployment = 5", "deployment: Input should be a valid dictionary"),
    ],
)
def test_errors_name_file_field_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert expected in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "[output]\nmax_items = 0\nmax_chars = 1\n[bogus]\n")
    message = error_of(load_config, path)
    assert message.count(str(path)) == 3


def test_secrets_are_not_echoed_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "[auth.jwt]\nissuer='i'\naudience='a'\nalgorithms=['HS256']\nsecret = 12345\n")
    message = error_of(load_config, path)
    assert "secret" in message and "12345" not in message


def test_environment_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODE_MCP_OUTPUT__MAX_ITEMS", "lots")
    message = error_of(load_config)
    assert "environment CODE_MCP_OUTPUT__MAX_ITEMS: output.max_items" in message


def test_a_partial_environment_override_says_what_else_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODE_MCP_LIMITS__GLOBAL__RATE", "5")
    message = error_of(load_config)
    assert "CODE_MCP_LIMITS__GLOBAL__RATE (set every required field of limits.global)" in message
    monkeypatch.setenv("CODE_MCP_LIMITS__GLOBAL__BURST", "9")
    assert load_config().limits.quotas["global"].burst == 9


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p / "missing.toml", "does not exist"),
        (lambda p: p, "is a folder"),
        (lambda p: write(p, "role = "), "not valid TOML"),
        (lambda p: write(p, "[auth]\n[auth]\n"), "not valid TOML"),
    ],
)
def test_unreadable_files_are_config_errors(tmp_path: Path, make: object, expected: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_unreadable_permissions_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "role = 'viewer'")

    def refuse(*_: object, **__: object) -> None:
        raise PermissionError("no")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConfigError, match="permission denied"):
        load_config(path)


def test_server_sections_are_validated_with_the_servers_model(tmp_path: Path) -> None:
    path = write(tmp_path, "[monitoring]\ntimeout_s = -1\nprometheus_ur = 'x'\n")
    config = load_config(path)  # raw server sections are not judged until asked
    with pytest.raises(ConfigError) as error:
        config.section("monitoring", MonitoringSettings)
    message = str(error.value)
    assert f"{path}: monitoring.timeout_s: Input should be greater than 0 (got -1)" in message
    assert f"{path}: monitoring.prometheus_ur: unknown setting" in message
    with pytest.raises(ConfigError, match="unknown server section 'monitor'"):
        config.section("monitor", MonitoringSettings)


def test_check_config_validates_every_server_section(tmp_path: Path) -> None:
    good = write(tmp_path, "[monitoring]\ntimeout_s = 1\n")
    assert check_config(good, {"monitoring": MonitoringSettings}).source == good
    bad = tmp_path / "bad.toml"
    bad.write_text("[monitoring]\ntimeout_s = 0\n[experts]\nnope = 1\n")
    message = error_of(check_config, bad, {"monitoring": MonitoringSettings, "experts": MonitoringSettings})
    assert "monitoring.timeout_s" in message and "experts.nope" in message


def test_audit_key_sources(tmp_path: Path) -> None:
    key_file = tmp_path / "audit.key"
    key_file.write_text("file-key\n")
    assert AuditSettings(key_file=key_file).hmac_key() == b"file-key"
    assert AuditSettings(key="env-key").hmac_key() == b"env-key"
    assert AuditSettings().hmac_key() is None


def test_plain_http_is_accepted_for_loopback_endpoints_only(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[auth]\nresource_url = 'http://127.0.0.1:8000/mcp'\n"
        "[auth.jwt]\nissuer = 'i'\naudience = 'a'\njwks_url = 'http://localhost:8080/jwks'\n",
    )
    config = load_config(path)
    assert config.auth.jwt is not None and config.auth.jwt.jwks_url == "http://localhost:8080/jwks"
    assert config.auth.resource_url == "http://127.0.0.1:8000/mcp"


def test_relative_paths_in_the_file_are_taken_from_its_folder(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "jwks.json").write_text("{}")
    path = write(
        tmp_path,
        "[audit]\npath = 'logs/audit.jsonl'\n"
        "[policy]\nscan_roots = ['src', '/abs']\n"
        "[auth.jwt]\nissuer = 'i'\naudience = 'a'\njwks_file = 'keys/jwks.json'\n",
    )
    config = load_config(path)  # from another working directory, the JWKS file is still found
    assert config.audit.path == tmp_path / "logs" / "audit.jsonl"
    assert config.policy.scan_roots == [tmp_path / "src", Path("/abs")]
    assert config.auth.jwt is not None and config.auth.jwt.jwks_file == tmp_path / "keys" / "jwks.json"


def test_config_is_frozen() -> None:
    config = SuiteConfig()
    with pytest.raises(ValueError, match="frozen"):
        config.role = "admin"  # type: ignore[misc]
