"""Secret redaction: every format in text, in data, nested and inside larger text; no false positives.

The samples are built at import from seeded random characters in each format's real shape, so this
file holds no literal secret-shaped strings for scanners (or push protection) to trip over.
"""

from __future__ import annotations

import base64
import copy
import enum
import json
import random
import re
import string
import types
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import shared.redaction as redaction
import shared.secret_keys as secret_keys
from shared.redaction import MAX_DEPTH, REDACTED, is_secret_key, redact_data, redact_text, redacted_value
from shared.secret_patterns import FORMATS

_RNG = random.Random(20240501)
ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def tok(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def pem(key: Any, fmt: serialization.PrivateFormat, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def body_line(block: str, index: int = 2) -> str:
    """One base64 line from the middle of a PEM block (what must not survive)."""
    return block.splitlines()[index]


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PEM = pem(RSA_KEY, serialization.PrivateFormat.TraditionalOpenSSL)
PKCS8_PEM = pem(RSA_KEY, serialization.PrivateFormat.PKCS8)
EC_PEM = pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.TraditionalOpenSSL)
OPENSSH_PEM = pem(ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH)
ENCRYPTED_PEM = pem(RSA_KEY, serialization.PrivateFormat.PKCS8, b"correct horse")
PGP_BODY = "\n".join(tok(64, B64) for _ in range(6)) + "\n" + tok(20, B64) + "=="
PGP_BLOCK = f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{PGP_BODY}\n-----END PGP PRIVATE KEY BLOCK-----"
SA_JSON = json.dumps(
    {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": tok(40, HEX),
        "private_key": PKCS8_PEM,
        "client_email": "deployer@demo-project.iam.gserviceaccount.com",
        "client_id": tok(21, string.digits),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
)

AKIA, ASIA = "AKIA" + tok(16, UPPER), "ASIA" + tok(16, UPPER)
AWS_SECRET = tok(40, B64)
AWS_SESSION = "IQoJb3JpZ2luX2VjE" + tok(300, B64)
AIZA = "AIza" + tok(35, URLSAFE)
GOCSPX = "GOCSPX-" + tok(28, URLSAFE)
YA29 = "ya29.a0" + tok(150, URLSAFE)
AZURE_KEY = tok(86, B64) + "=="
AZURE_SIG = tok(40, ALNUM) + "%2B" + tok(6) + "%3D"
AZURE_AD = tok(3) + "8Q~" + tok(34, ALNUM + "_~.-")
SLACK_HOOK = f"T{tok(10, UPPER)}/B{tok(10, UPPER)}/{tok(24)}"
JWT = ".".join(
    (
        base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("="),
        base64.urlsafe_b64encode(b'{"sub":"1234567890","name":"John Doe","iat":1516239022}')
        .decode()
        .rstrip("="),
        tok(43, URLSAFE),
    )
)
CLIENT_KEY_DATA = base64.b64encode(RSA_PEM.encode()).decode()
DB_PASSWORD, API_VALUE, OPAQUE = "Tr0ub4dor&3-x", "v4lue-" + tok(20), tok(40)


@dataclass(frozen=True)
class Case:
    """A text holding `secret`, which must not survive redaction anywhere."""

    id: str
    text: str
    secret: str


def token_case(case_id: str, template: str, token: str) -> Case:
    return Case(case_id, template.format(token), token)


CASES = [
    # AWS
    Case("aws-access-key-id", f"uploading with key {AKIA} to s3://bucket", AKIA),
    Case("aws-temporary-key-id", f"assumed role, key {ASIA}", ASIA),
    Case(
        "aws-secret-key-ini",
        f"[default]\naws_access_key_id = {AKIA}\naws_secret_access_key = {AWS_SECRET}\n",
        AWS_SECRET,
    ),
    Case("aws-secret-key-json", json.dumps({"AccessKeyId": ASIA, "SecretAccessKey": AWS_SECRET}), AWS_SECRET),
    Case("aws-session-token-ini", f"aws_session_token = {AWS_SESSION}", AWS_SESSION),
    Case(
        "aws-session-token-json", json.dumps({"SessionToken": AWS_SESSION, "Expiration": "2030"}), AWS_SESSION
    ),
    # Google
    Case("gcp-api-key", f"geocoder called with {AIZA} and failed", AIZA),
    Case("gcp-service-account-json", SA_JSON, body_line(PKCS8_PEM)),
    Case("google-oauth-client-secret", f"client {tok(12, string.digits)} uses {GOCSPX}", GOCSPX),
    Case("google-access-token", f"curl -H 'X-Token: {YA29}' https://www.googleapis.com/drive/v3", YA29),
    # Azure
    Case(
        "azure-storage-connection-string",
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
        AZURE_KEY,
    ),
    Case(
        "azure-sas-token",
        f"https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&sp=rl&se=2030-01-01&sig={AZURE_SIG}",
        AZURE_SIG,
    ),
    Case("azure-ad-client-secret", f"new client credential {AZURE_AD} expires 2026", AZURE_AD),
    # source forges and registries
    *(
        token_case(f"github-{p}", "git clone https://github.com/o/r.git # with {}", f"{p}_{tok(36)}")
        for p in ("ghp", "gho", "ghu", "ghs", "ghr")
    ),
    token_case("github-fine-grained", "using {} now", f"github_pat_{tok(22)}_{tok(59)}"),
    *(
        token_case(f"gitlab-{p}", "runner configured with {}", f"{p}-{body}")
        for p, body in (
            ("glpat", tok(20, URLSAFE)),
            ("gldt", tok(20, URLSAFE)),
            ("glrt", tok(20, URLSAFE)),
            ("glptt", tok(40, HEX)),
        )
    ),
    token_case("gitlab-runner-registration", "register --url x --rt {}", f"GR1348941{tok(20, URLSAFE)}"),
    token_case("npm-token", "//registry.npmjs.org/:_authToken={}", f"npm_{tok(36)}"),
    token_case("npm-token-bare", "published with {} by ci", f"npm_{tok(36)}"),
    token_case("pypi-token", "twine upload -p {}", f"pypi-AgEIcHlwaS5vcmc{tok(70, URLSAFE)}"),
    token_case("dockerhub-pat", "echo {} | docker login", f"dckr_pat_{tok(27, URLSAFE)}"),
    # chat
    *(
        token_case(f"slack-{p}", "posting as {}", f"{p}-{body}")
        for p, body in (
            ("xoxb", f"{tok(11, string.digits)}-{tok(13, string.digits)}-{tok(24)}"),
            (
                "xoxp",
                f"{tok(11, string.digits)}-{tok(11, string.digits)}-{tok(13, string.digits)}-{tok(32, HEX)}",
            ),
            ("xoxa", f"2-{tok(11, string.digits)}-{tok(32, HEX)}"),
            ("xoxe", f"1-{tok(140)}"),
        )
    ),
    token_case(
        "slack-app-token",
        "socket mode {}",
        f"xapp-1-A{tok(10, UPPER)}-{tok(13, string.digits)}-{tok(64, HEX)}",
    ),
    token_case("slack-webhook", "POST https://hooks.slack.com/services/{} 200", SLACK_HOOK),
    token_case(
        "discord-webhook", f"https://discord.com/api/webhooks/{tok(18, string.digits)}/{{}}", tok(68, URLSAFE)
    ),
    token_case(
        "telegram-bot-url",
        "GET https://api.telegram.org/bot{}/getMe",
        f"{tok(10, string.digits)}:AA{tok(33, URLSAFE)}",
    ),
    token_case(
        "teams-webhook",
        "https://acme.webhook.office.com/webhookb2/{}",
        f"{uuid.uuid4()}@{uuid.uuid4()}/IncomingWebhook/{tok(32, HEX)}/{uuid.uuid4()}",
    ),
    # payments, mail, hosting
    *(
        token_case(f"stripe-{p.rstrip('_')}", "stripe.api_base; using {}", f"{p}{tok(24)}")
        for p in ("sk_live_", "rk_live_", "sk_test_")
    ),
    token_case("stripe-webhook-secret", "verifying with {}", f"whsec_{tok(32)}"),
    token_case("twilio-api-key", "twilio key {} in use", f"SK{tok(32, HEX)}"),
    token_case("sendgrid", "mail via {}", f"SG.{tok(22, URLSAFE)}.{tok(43, URLSAFE)}"),
    token_case("mailgun", "mailgun {} rejected", f"key-{tok(32, HEX)}"),
    token_case("shopify", "X-Shopify-Access-Token {}", f"shpat_{tok(32, HEX)}"),
    token_case("digitalocean", "doctl auth init -t {}", f"dop_v1_{tok(64, HEX)}"),
    token_case("databricks", "host=adb-1.azuredatabricks.net pat {}", f"dapi{tok(32, HEX)}"),
    # AI providers
    token_case("openai-legacy", "OpenAI({})", f"sk-{tok(20)}T3BlbkFJ{tok(20)}"),
    token_case("openai-project", "client = OpenAI('{}')", f"sk-proj-{tok(156, URLSAFE)}"),
    token_case("openai-service-account", "use {}", f"sk-svcacct-{tok(150, URLSAFE)}"),
    token_case("anthropic-api", "x-api: {}", f"sk-ant-api03-{tok(93, URLSAFE)}AA"),
    token_case("anthropic-admin", "admin {}", f"sk-ant-admin01-{tok(93, URLSAFE)}AA"),
    token_case("huggingface", "huggingface-cli login {}", f"hf_{tok(34)}"),
    token_case("groq", "groq {}", f"gsk_{tok(52)}"),
    token_case("xai", "grok {}", f"xai-{tok(80)}"),
    token_case("replicate", "replicate {}", f"r8_{tok(37)}"),
    token_case("langsmith", "tracing {}", f"lsv2_pt_{tok(32, HEX)}_{tok(10, HEX)}"),
    # infrastructure
    token_case("vault-token", "VAULT_ADDR=https://vault:8200 vault login {}", f"hvs.{tok(90, URLSAFE)}"),
    token_case("age-key", "# {}", f"AGE-SECRET-KEY-1{tok(58, UPPER)}"),
    token_case("atlassian", "jira {}", f"ATATT3{tok(180, URLSAFE)}"),
    token_case("grafana-service-account", "grafana {}", f"glsa_{tok(32)}_{tok(8, HEX)}"),
    token_case("supabase", "supabase {}", f"sbp_{tok(40, HEX)}"),
    token_case("sentry-org-token", "sentry-cli {}", f"sntrys_{tok(120, URLSAFE)}"),
    token_case("linear", "linear {}", f"lin_api_{tok(40)}"),
    token_case("pinecone", "pinecone {}", f"pcsk_{tok(60)}"),
    token_case("mapbox-secret", "mapbox {}", f"sk.eyJ1Ijoi{tok(40, URLSAFE)}.{tok(22, URLSAFE)}"),
    Case("jwt", f"id token {JWT} issued", JWT),
    # private keys
    Case("pem-rsa", RSA_PEM, body_line(RSA_PEM)),
    Case("pem-pkcs8", PKCS8_PEM, body_line(PKCS8_PEM)),
    Case("pem-ec", EC_PEM, body_line(EC_PEM, 1)),
    Case("pem-openssh", OPENSSH_PEM, body_line(OPENSSH_PEM, 1)),
    Case("pem-encrypted", ENCRYPTED_PEM, body_line(ENCRYPTED_PEM)),
    Case("pem-pgp", PGP_BLOCK, body_line(PGP_BLOCK, 3)),
    Case("pem-end-cut-off", RSA_PEM[: len(RSA_PEM) // 2], body_line(RSA_PEM)),
    Case("pem-body-without-begin", "\n".join(RSA_PEM.splitlines()[3:9]), body_line(RSA_PEM, 4)),
    Case("pem-body-snippet-on-one-line", " ".join(RSA_PEM.splitlines()[3:6]), body_line(RSA_PEM, 4)),
    Case("pem-tail-with-end-line", "\n".join(RSA_PEM.splitlines()[-4:]), body_line(RSA_PEM, -2)),
    Case("pem-in-yaml-block", "tls.key: |\n  " + RSA_PEM.replace("\n", "\n  "), body_line(RSA_PEM)),
    Case("kubeconfig-client-key-data", f"    client-key-data: {CLIENT_KEY_DATA}\n", CLIENT_KEY_DATA[20:80]),
    Case("kubeconfig-key-data-bare", f"decoded {CLIENT_KEY_DATA} ok", CLIENT_KEY_DATA[20:80]),
    # headers and URLs
    Case("authorization-bearer", f"Authorization: Bearer {OPAQUE}", OPAQUE),
    Case(
        "authorization-basic",
        "authorization: Basic " + base64.b64encode(b"admin:" + DB_PASSWORD.encode()).decode(),
        base64.b64encode(b"admin:" + DB_PASSWORD.encode()).decode(),
    ),
    Case("authorization-json", json.dumps({"headers": {"Authorization": f"token {OPAQUE}"}}), OPAQUE),
    token_case("authorization-digest", 'Authorization: Digest username="bob", response="{}"', tok(32, HEX)),
    token_case("cookie-header", "Cookie: session={}; theme=dark", tok(32)),
    token_case("set-cookie-header", "Set-Cookie: sid={}; Path=/; HttpOnly", tok(32)),
    Case("url-password", f"connecting to postgres://app:{DB_PASSWORD}@db:5432/app", DB_PASSWORD),
    Case("url-password-no-user", f"connecting to redis://:{OPAQUE}@cache:6379/0", OPAQUE),
    Case("url-password-percent-encoded", "amqp://guest:p%40ss%3Aw0rd@rabbit:5672/", "p%40ss%3Aw0rd"),
    Case("url-password-with-at", "mongodb://root:p@ss@mongo:27017", "p@ss"),
    Case("curl-user", f"curl -u admin:{DB_PASSWORD} https://api.example.com", DB_PASSWORD),
    # key = value, in every syntax
    Case("env-file", f"APP_ENV=prod\nDB_PASSWORD={DB_PASSWORD}\nDB_HOST=db\n", DB_PASSWORD),
    Case("env-export", f"export GH_DEPLOY_TOKEN={API_VALUE}", API_VALUE),
    Case("env-value-with-spaces", "SMTP_PASSWORD=correct horse battery staple\n", "battery staple"),
    Case("shell-quoted", f"API_SECRET='{API_VALUE}' ./run.sh", API_VALUE),
    Case("yaml", f"database:\n  user: app\n  password: {DB_PASSWORD}\n", DB_PASSWORD),
    Case("yaml-quoted", f'auth:\n  client_secret: "{API_VALUE}"\n', API_VALUE),
    Case("yaml-block-scalar", f"signing_key: |\n  {API_VALUE}\n  {tok(30)}\nnext: 1\n", API_VALUE),
    Case("json", json.dumps({"user": "app", "api_key": API_VALUE}), API_VALUE),
    Case("json-escaped-quote", '{"password": "ab\\"' + API_VALUE + '"}', API_VALUE),
    Case("toml", f'[service]\ntoken = "{API_VALUE}"\n', API_VALUE),
    Case("ini", f"[smtp]\npasswd={DB_PASSWORD}\n", DB_PASSWORD),
    Case("python-kwarg", f'connect(host="db", password="{DB_PASSWORD}")', DB_PASSWORD),
    Case("python-default", f'    api_key: str = "{API_VALUE}"', API_VALUE),
    Case("cli-flag-equals", f"mysql --password={DB_PASSWORD} -h db", DB_PASSWORD),
    Case("cli-flag-space", f"gitlab-runner register --registration-token {API_VALUE} --url x", API_VALUE),
    Case("query-string", f"GET /callback?code=1&access_token={API_VALUE}&state=x", API_VALUE),
    Case("odbc", f"Driver={{ODBC}};Server=db;Uid=sa;Pwd={DB_PASSWORD};", DB_PASSWORD),
    Case("xml", f"<config><password>{DB_PASSWORD}</password></config>", DB_PASSWORD),
    Case("log-key-values", f"level=info user=bob secret={API_VALUE} took=3ms", API_VALUE),
    Case("pwd-is-a-password-not-a-dir", f"PWD={DB_PASSWORD}", DB_PASSWORD),
    # values that look like code, names or placeholders but are literals in config and logs
    Case("snake-case-password", "DB_PASSWORD=super_secret_pw\n", "super_secret_pw"),
    Case("yaml-flow-mapping", "{password: Hunter, user: bob}", "Hunter"),
    Case("passphrase-with-and", "password: cats and dogs\n", "cats and dogs"),
    Case("dollar-literal", "password: $ecretPass\n", "$ecretPass"),
    Case("colon-without-space", "auth failed password:hunter2 user=bob", "hunter2"),
    Case(
        "upper-case-key",
        f"API_KEY=ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF{tok(4, string.ascii_uppercase)}",
        "ABCDEFGHIJKLMNOP",
    ),
    # name/value pairs written as text
    Case(
        "k8s-env-yaml",
        "    env:\n    - name: LOG_LEVEL\n      value: info\n"
        f"    - name: DATABASE_PASSWORD\n      value: {DB_PASSWORD}\n",
        DB_PASSWORD,
    ),
    Case("k8s-env-yaml-quoted", f'- name: API_TOKEN\n  value: "{API_VALUE}"\n', API_VALUE),
    Case(
        "k8s-env-in-diff",
        f"       - name: DB_PASSWORD\n-        value: {DB_PASSWORD}\n+        value: {API_VALUE}\n",
        DB_PASSWORD,
    ),
    Case(
        "k8s-env-compact-json",
        json.dumps([{"name": "API_TOKEN", "value": API_VALUE}], separators=(",", ":")),
        API_VALUE,
    ),
    Case("env-pair-value-first", json.dumps({"value": API_VALUE, "name": "SECRET_KEY"}), API_VALUE),
    Case("helm-key-value", f'{{"key": "auth.password", "value": "{DB_PASSWORD}"}}', DB_PASSWORD),
    Case(
        "docker-env-json", json.dumps({"Env": ["PATH=/usr/bin", f"DB_PASSWORD={DB_PASSWORD}"]}), DB_PASSWORD
    ),
    Case(
        "configmap-in-diff",
        f"-  DATABASE_PASSWORD: {DB_PASSWORD}\n+  DATABASE_PASSWORD: {API_VALUE}\n",
        API_VALUE,
    ),
]
CASE_IDS = [case.id for case in CASES]


def test_case_ids_are_unique_and_there_are_many() -> None:
    assert len(set(CASE_IDS)) == len(CASE_IDS) >= 100


def test_every_format_has_exactly_one_gate() -> None:
    assert all(bool(f.needles) != (f.gate is not None) for f in FORMATS)


def test_all_secrets_in_one_structure_each_twice() -> None:
    # Gated as one NUL-joined text: every occurrence must still be found, in any order.
    texts = [case.text for case in CASES]
    out = redact_data({"a": texts, "b": texts[::-1], "c": [{"m": t} for t in texts]})
    flat = json.dumps(out, ensure_ascii=False)
    assert [case.id for case in CASES if case.secret in flat] == []


def test_a_string_cut_mid_url_does_not_hide_the_next_one() -> None:
    webhook = f"https://acme.webhook.office.com/webhookb2/{OPAQUE}"
    out = redact_data(
        ["see https://acme.webhook.office.com/webhookb2/", webhook, "redis://x", f"redis://:{OPAQUE}@c"]
    )
    assert OPAQUE not in json.dumps(out)


def _absent(secret: str, output: Any) -> None:
    flat = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    assert secret not in flat, flat
    assert REDACTED in flat


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_text(case: Case) -> None:
    _absent(case.secret, redact_text(case.text))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_inside_json_data(case: Case) -> None:
    _absent(case.secret, redact_data({"kind": "Event", "message": case.text, "count": 3}))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_nested_in_lists(case: Case) -> None:
    out = redact_data([[1, None, [case.text]], {"items": [{"log": [case.text]}]}])
    _absent(case.secret, out)
    assert out[0][:2] == [1, None]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_inside_a_larger_string(case: Case) -> None:
    text = f"2024-05-01T12:00:00Z INFO starting deploy of web\n{case.text}\nINFO done in 12ms (3 pods)"
    out = redact_text(text)
    _absent(case.secret, out)
    assert out.startswith("2024-05-01T12:00:00Z INFO starting deploy of web\n")
    assert out.endswith("done in 12ms (3 pods)")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_redaction_is_idempotent(case: Case) -> None:
    once = redact_text(case.text)
    assert redact_text(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer AbCdEfGhIjKl", "Authorization: Bearer [REDACTED]"),
        ("DB_PASSWORD=Hunter2 Host=X", "DB_PASSWORD=[REDACTED] Host=X"),
        ("HTTPS://Admin:Pw@Host", "HTTPS://Admin:[REDACTED]@Host"),
        ("İ password=hunter2 İ", "İ password=[REDACTED] İ"),
        ('{"password": "x1", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
        ("password: |\n  a1\n  b2\nuser: bob", "password: |\n[REDACTED]\nuser: bob"),
        ("redis://:pw@cache:6379", "redis://:[REDACTED]@cache:6379"),
        (
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----[REDACTED]-----END EC PRIVATE KEY-----",
        ),
        ("--token s3cr3t --verbose", "--token [REDACTED] --verbose"),
        ("<apiKey>k-123</apiKey>", "<apiKey>[REDACTED]</apiKey>"),
        ("cookie: a=b", "cookie: [REDACTED]"),
        ("- name: API_TOKEN\n  value: token=abc1", "- name: API_TOKEN\n  value: [REDACTED]"),  # overlapping
        ("İ Authorization: Bearer abc123def456", "İ Authorization: Bearer [REDACTED]"),
        ("İ - name: DB_PASSWORD\n  value: x1", "İ - name: DB_PASSWORD\n  value: [REDACTED]"),
    ],
)
def test_redaction_keeps_what_makes_the_text_readable(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_a_redacted_value_stand_in_is_not_redacted_again() -> None:
    stand_in = redacted_value("hunter2")
    assert redact_text(f"password: '{stand_in}'") == f"password: '{stand_in}'"
    assert redact_text(f"-  password: {stand_in}") == f"-  password: {stand_in}"


# --------------------------------------------------------------------------- false positives


def _pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"web-7f9c5d-{i:05d}",
            "namespace": "default",
            "uid": str(uuid.UUID(int=_RNG.getrandbits(128))),
            "resourceVersion": str(100000 + i),
            "labels": {"app": "web", "pod-template-hash": "7f9c5d"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T12:00:00Z"},
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": f"registry.example.com/team/web@sha256:{tok(64, HEX)}",
                    "env": [
                        {"name": "LOG_LEVEL", "value": "info"},
                        {
                            "name": "DB_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                        },
                    ],
                    "envFrom": [{"secretRef": {"name": "web-secrets"}}],
                    "volumeMounts": [{"name": "kube-api-access-x2b7q", "mountPath": "/var/run/secrets/sa"}],
                }
            ],
            "volumes": [
                {
                    "name": "kube-api-access-x2b7q",
                    "projected": {
                        "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]
                    },
                },
                {"name": "tls", "secret": {"secretName": "web-tls", "defaultMode": 420}},
            ],
            "imagePullSecrets": [{"name": "regcred"}],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.0.{i // 250}.{i % 250}",
            "containerStatuses": [
                {"imageID": f"docker-pullable://web@sha256:{tok(64, HEX)}", "restartCount": 0, "ready": True}
            ],
        },
    }


POD_LIST = {"apiVersion": "v1", "kind": "PodList", "items": [_pod(i) for i in range(20)]}
CONFIGMAP = {
    "kind": "ConfigMap",
    "metadata": {"name": "assets"},
    "data": {"app.properties": "cache.ttl=60\nfeature.dark_mode=true\n", "key_points": "1,2,3"},
    "binaryData": {"logo.png": base64.b64encode(bytes(range(256)) * 8).decode()},
}

ORDINARY_TEXT = [
    ("git-sha", f"commit {tok(40, HEX)}\nMerge: {tok(7, HEX)} {tok(7, HEX)}"),
    ("uuid", f"request {uuid.UUID(int=_RNG.getrandbits(128))} finished"),
    ("image-digests", "\n".join(f"web@sha256:{tok(64, HEX)}" for _ in range(3))),
    ("sha256sum", "\n".join(f"{tok(64, HEX)}  dist/pkg-{i}.whl" for i in range(3))),
    (
        "prometheus-series",
        'up{instance="10.0.0.1:9100",job="node"} 1\nhttp_requests_total{code="200",method="GET"} 7',
    ),
    (
        "prometheus-labels-json",
        json.dumps({"__name__": "redis_up", "instance": "redis://cache:6379", "job": "redis"}),
    ),
    (
        "prose",
        "Reset your password in the UI. The token bucket refills; keep the secret of success: patience.",
    ),
    (
        "prose-with-keywords",
        "Secret default/db-credentials created. Rotate the API key and the password monthly.",
    ),
    ("kubectl-output", "secret/db-creds configured\nserviceaccount/default unchanged\npod/web-1 deleted"),
    ("kubectl-describe", "    DB_PASSWORD:  <set to the key 'password' in secret 'db'>  Optional: false"),
    (
        "k8s-yaml-refs",
        "env:\n- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      key: password\n      name: db\n",
    ),
    (
        "usage-text",
        "  --token TOKEN        the API token\n  --password PASSWORD  the password\n  --no-password",
    ),
    ("bookkeeping", "max_tokens=4096 tokens_in: 1200 token_count: 5 key_points: 3 next_cursor: abc"),
    ("env-names", "api_key_env: ANTHROPIC_API_KEY\npassword_file: /run/secrets/db\nsecretName: web-tls"),
    ("shell-workdir", "PWD=/home/alice\nOLDPWD=/tmp"),
    (
        "placeholders",
        "password: ${DB_PASSWORD}\ntoken: $GITHUB_TOKEN\napi_key: {{ .Values.apiKey }}\nsecret: ''",
    ),
    ("nulls", '{"password": null, "token": "", "secret": true}'),
    ("json-schema", '{"password": {"type": "string", "description": "the password"}}'),
    ("hostnames", "connect sk-prod-cluster-eu-west-1.internal and task-runner-worker-abcdefghij"),
    ("url-without-password", "https://user@example.com/path?q=1 and ssh://git@github.com:22/o/r.git"),
    ("jdbc", "jdbc:mysql://db:3306/app?useSSL=true"),
    ("markdown", "Set `GITHUB_TOKEN` in the repository secrets, then run `make deploy`."),
    ("timestamps", "2024-05-01T12:00:00.123456Z 1714564800 0x7ffd5e8c"),
    ("base64-single-line", base64.b64encode(bytes(range(256))).decode()),
    ("pem-certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
    ("pem-marker-in-code", 'if line.startswith("-----BEGIN PRIVATE KEY-----"):'),
    ("bearer-prose", "Bearer authentication is described in RFC 6750."),
    ("identity-subjects", 'subject "api_key:bob" and "jwt:alice"; key ends here api_key:'),
    ("package-json", '{"dependencies": {"cookie": "^0.7.1", "cookie-signature": "~1.2.1"}}'),
    ("usernames", 'BASIC_AUTH_USER = "reader"\nsmtp_auth_username: mailer'),
    ("llm-usage", "usage input_tokens=1200 output_tokens=340 cached_tokens: 0"),
    ("prose-pass", "Every object must pass: Pod Security Standards, then the admission rules."),
    (
        "placeholders-in-docs",
        'password = "…"\nbearer_token = "..."\nsecret = "***"\ntoken: "<your token>"\n'
        '"headers": {"Authorization": "Bearer <api key printed by `serve`>"}\n'
        "redis://:PASSWORD@cache:6379 and postgres://user:password@db/app\n"
        'curl -H "Authorization: Bearer $token" -u admin:$PASSWORD https://api\n',
    ),
    (
        "code-references",
        "auth = runtime.config.auth\nsecret = outcome.completion.text\napi_key=key\ntoken=API_KEY\n"
        "signing_key = await jwks.get(token)\n"
        "def who(token: AccessToken) -> Identity:\nauth: httpx.Auth | None = None\n"
        'mode = "bearer" if auth else "basic"\nsecret = deep or (pair and name)\n',
    ),
    ("authorization-template", 'headers = {"Authorization": f"Bearer {token}", "Cookie": f"sid={sid}"}'),
]

PYTHON_SOURCE = '''
def connect(password: str, token: str | None = None, *, api_key: SecretStr) -> Client:
    """Log in; reset your password in the UI if it fails."""
    api_key = os.environ["API_KEY"]
    secret = settings.secret_key
    client = Client(password=password, token=token, api_key=api_key)
    if token is None:
        token = fetch_token()
    self.password = password
    headers = {"Authorization": f"Bearer {token}"}
    return client
'''


@pytest.mark.parametrize(("name", "text"), ORDINARY_TEXT, ids=[name for name, _ in ORDINARY_TEXT])
def test_ordinary_text_is_unchanged(name: str, text: str) -> None:
    assert redact_text(text) == text


def test_python_source_without_secrets_is_unchanged() -> None:
    assert redact_text(PYTHON_SOURCE) == PYTHON_SOURCE


@pytest.mark.parametrize("obj", [POD_LIST, CONFIGMAP], ids=["pod-list", "configmap"])
def test_kubernetes_objects_are_unchanged(obj: dict[str, Any]) -> None:
    assert redact_data(obj) is obj  # nothing to redact: the very same object comes back
    text = json.dumps(obj, indent=2)
    assert redact_text(text) == text
    assert redact_text(json.dumps(obj)) == json.dumps(obj)


# --------------------------------------------------------------------------- hostile input

HOSTILE = [
    ("begin-lines-without-end", "-----BEGIN RSA PRIVATE KEY----- x " * 3000),
    ("end-lines-without-body", "-----END RSA PRIVATE KEY-----\n" * 3000),
    ("base64-lines-without-end", "-----END x\n" + ("QUJD" * 16 + "\n") * 3000),
    ("repeated-assignments", "password=" * 10_000),
    ("cookie-without-pairs", "cookie:" * 10_000),
    ("long-tag", "<" + "key" * 10_000),
    ("one-line-json", '{"token":"a",' * 5000),
    ("unterminated-quotes", "password='x " * 5000),
    ("name-lines", "- name: API_TOKEN\n" * 5000),
    ("yaml-blocks", "password: |\n" * 5000),
]


@pytest.mark.parametrize(("name", "text"), HOSTILE, ids=[name for name, _ in HOSTILE])
def test_hostile_input_is_redacted_in_linear_time(name: str, text: str) -> None:
    """Each text (30-200 kB) is shaped to make a backtracking or rescanning rule quadratic.

    Linear rules finish in milliseconds; a quadratic one would take minutes, which shows as a
    test that hangs (no wall-clock assertion, so a loaded machine cannot make it flaky).
    """
    out = redact_text(f"{text} password={DB_PASSWORD}")
    assert DB_PASSWORD not in out


def test_a_private_key_tail_needs_its_end_line_to_start_a_line() -> None:
    body = "\n".join(RSA_PEM.splitlines()[-3:-1])  # one full line: not a run the line rule takes
    assert redact_text(f"{body}\n-----END RSA PRIVATE KEY-----") == f"{REDACTED}-----END RSA PRIVATE KEY-----"
    text = "short\nline x-----END RSA PRIVATE KEY-----"
    assert redact_text(text) == text


# --------------------------------------------------------------------------- structured data


def test_secret_keys_lose_their_values_but_keep_their_types() -> None:
    data = {
        "password": "hunter2",
        "api_key": {"primary": "k1", "rotation": {"days": 30, "enabled": True}},
        "tokens": ["t1", "t2", 3, None],
        "client_secret": 12345,
        "secret": None,
        "auth": {"type": "jwt", "issuer": "https://id.example.com", "secret": "s1", "leeway_s": 30},
        "credentials": {"username": "bob", "password": "p", "secretName": "db-creds"},
        "empty_password": "",
    }
    out = redact_data(data)
    assert out == {
        "password": REDACTED,
        "api_key": {"primary": REDACTED, "rotation": {"days": 30, "enabled": True}},
        "tokens": [REDACTED, REDACTED, 3, None],
        "client_secret": 12345,
        "secret": None,
        "auth": {"type": "jwt", "issuer": "https://id.example.com", "secret": REDACTED, "leeway_s": 30},
        "credentials": {"username": "bob", "password": REDACTED, "secretName": "db-creds"},
        "empty_password": "",
    }


def test_bookkeeping_keys_keep_their_values() -> None:
    data = {
        "tokens_in": 1200,
        "token_count": 5,
        "max_tokens": 4096,
        "key_points": ["a", "b"],
        "next_cursor": "eyJvIjoxfQ",
        "session_id": "s-1",
        "api_key_env": "ANTHROPIC_API_KEY",
        "secretKeyRef": {"name": "db", "key": "password"},
        "token_uri": "https://oauth2.googleapis.com/token",
        "password_file": "/run/secrets/db",
        "tokenizer": "cl100k_base",
        "serviceAccountToken": {"path": "token", "expirationSeconds": 3607},
        "imagePullSecrets": [{"name": "regcred"}],
    }
    assert redact_data(data) is data


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("DB_PASSWORD", True),
        ("dbPassword", True),
        ("PGPASSWORD", True),
        ("apiKey", True),
        ("x-api-key", True),
        ("APIKey", True),
        ("aws_secret_access_key", True),
        ("SecretAccessKey", True),
        ("SessionToken", True),
        ("client_secret", True),
        ("_authToken", True),
        ("Authorization", True),
        ("Proxy-Authorization", True),
        ("Set-Cookie", True),
        ("tls.key", True),
        ("client-key-data", True),
        ("private_key", True),
        ("connection_string", True),
        ("ConnectionString", True),
        ("dsn", True),
        ("X-Amz-Signature", True),
        ("githubtoken", True),
        ("passphrase", True),
        ("db_pw", True),
        ("Pwd", True),
        ("APP_KEY", True),
        ("creds", True),
        ("auth", True),
        ("csrf_token", True),
        ("token_count", False),
        ("tokens_in", False),
        ("max_tokens", False),
        ("key_points", False),
        ("next_cursor", False),
        ("session_id", False),
        ("api_key_env", False),
        ("secretName", False),
        ("secretKeyRef", False),
        ("password_file", False),
        ("token_uri", False),
        ("aws_access_key_id", False),
        ("private_key_id", False),
        ("public_key", False),
        ("key", False),
        ("primaryKey", False),
        ("tokenizer", False),
        ("oauth", False),
        ("bypass", False),
        ("token_type", False),
        ("next_page_token", False),
        ("imagePullSecrets", False),
        ("serviceAccountToken", False),
        ("auth_method", False),
        ("", False),
    ],
)
def test_key_names_are_matched_on_word_parts(name: str, secret: bool) -> None:
    assert is_secret_key(name) is secret


def test_name_value_pairs_lose_the_value_and_keep_references() -> None:
    env = [
        {"name": "DATABASE_PASSWORD", "value": "hunter2"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
        {"Key": "GITHUB_TOKEN", "Value": "x-1"},
        {"key": "auth.password", "value": {"nested": "p"}},
    ]
    assert redact_data({"env": env})["env"] == [
        {"name": "DATABASE_PASSWORD", "value": REDACTED},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
        {"Key": "GITHUB_TOKEN", "Value": REDACTED},
        {"key": "auth.password", "value": {"nested": REDACTED}},
    ]


def test_docker_env_strings_keep_their_names() -> None:
    config = {"Env": ["PATH=/usr/bin", "DSN=db-main", "REDIS_PASS=p 1", "PWD=/app", "EMPTY_TOKEN="]}
    assert redact_data(config) == {
        "Env": ["PATH=/usr/bin", f"DSN={REDACTED}", f"REDIS_PASS={REDACTED}", "PWD=/app", "EMPTY_TOKEN="]
    }


def test_a_mode_under_a_secret_key_is_a_setting() -> None:
    endpoints = {"auth": "none", "token": "bearer", "password": "new-hunter2", "secret": {"auth": "Basic"}}
    assert redact_data(endpoints) == {
        "auth": "none",
        "token": "bearer",
        "password": REDACTED,
        "secret": {"auth": "Basic"},
    }


def test_kubernetes_secrets_show_stand_ins_that_change_with_the_value() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {"name": "s"},
        "type": "Opaque",
        "data": {"ca.crt": "Y2E=", "password": "aHVudGVyMg=="},
        "stringData": {"t": "plain"},
    }
    out = redact_data(secret)
    assert out["data"]["ca.crt"] == redacted_value("Y2E=") and out["data"]["ca.crt"].startswith(
        "<redacted: 4 chars"
    )
    assert "aHVudGVyMg==" not in json.dumps(out) and "plain" not in json.dumps(out)
    assert out["metadata"] == {"name": "s"} and out["type"] == "Opaque"
    assert redacted_value("a") != redacted_value("b") and redacted_value("a") == redacted_value("a")


def test_the_stand_in_says_length_and_a_short_digest() -> None:
    assert re.fullmatch(r"<redacted: 7 chars, sha256 [0-9a-f]{8}>", redacted_value("hunter2"))


def test_the_public_api_is_what_all_says() -> None:
    assert sorted(redaction.__all__) == [
        "MAX_DEPTH",
        "REDACTED",
        "is_secret_key",
        "redact_data",
        "redact_text",
        "redacted_value",
    ]
    assert all(hasattr(redaction, name) for name in redaction.__all__)


def test_a_mask_keeps_changes_visible_in_diffs() -> None:
    live = redact_data({"data": {"DATABASE_PASSWORD": "old"}}, mask=redacted_value)
    planned = redact_data({"data": {"DATABASE_PASSWORD": "new"}}, mask=redacted_value)
    assert live != planned and "old" not in str(live) and "new" not in str(planned)
    assert live["data"]["DATABASE_PASSWORD"].startswith("<redacted: 3 chars, sha256 ")


def test_secrets_in_keys_and_in_any_string_are_redacted() -> None:
    url = f"redis://:{DB_PASSWORD}@cache:6379"
    out = redact_data({"targets": {url: "up"}, "labels": [{"instance": url}], "t": (f"x {AKIA}",)})
    _absent(DB_PASSWORD, out)
    _absent(AKIA, out)
    assert isinstance(out["t"], tuple)


def test_the_input_is_never_modified_and_unchanged_parts_are_shared() -> None:
    data = {"a": {"password": "p", "n": [1, 2]}, "b": {"x": ["y"]}, "c": [{"token": "t"}]}
    before = copy.deepcopy(data)
    out = redact_data(data)
    assert data == before
    assert out["a"] is not data["a"] and out["a"]["n"] is data["a"]["n"] and out["b"] is data["b"]


def test_a_hostile_depth_is_bounded_without_recursion_errors() -> None:
    deep: Any = "password=hunter2"
    for _ in range(10_000):
        deep = [{"k": deep}]
    out = redact_data(deep)
    node, depth = out, 0
    while node:
        node = node[0]["k"]
        depth += 2
    assert node == [] and depth <= MAX_DEPTH + 2
    assert "hunter2" not in json.dumps(redact_data({"x": [[[[["password=hunter2"]]]]]}))


def test_a_cycle_is_cut_at_the_depth_bound() -> None:
    loop: list[Any] = ["token=abc"]
    loop.append(loop)
    out = redact_data(loop)
    assert out[0] == f"token={REDACTED}"


def test_other_types_pass_through() -> None:
    marker = object()
    data = {"when": 1.5, "ok": True, "raw": b"bytes", "obj": marker, "password": b"p", 7: "seven"}
    out = redact_data(data)
    assert out["obj"] is marker and out["raw"] == b"bytes" and out["password"] == REDACTED.encode()
    assert out[7] == "seven" and out["when"] == 1.5


def test_non_ascii_data_is_gated_string_by_string() -> None:
    # "İ".lower() is two characters, so offsets into the joined, lowercased text would drift.
    data = {"msg": f"İstanbul password={DB_PASSWORD}", "note": "İ ok", "other": f"key {AKIA}"}
    out = redact_data(data)
    _absent(DB_PASSWORD, out)
    _absent(AKIA, out)
    assert out["note"] == "İ ok"
    body = "\n".join(RSA_PEM.splitlines()[3:9])
    _absent(body_line(RSA_PEM, 4), redact_data(["café", body]))


def test_top_level_strings_scalars_and_other_containers() -> None:
    class Level(enum.StrEnum):
        SECRET = "token=abc123"

    assert redact_data(f"key {AKIA}") == f"key {REDACTED}"
    assert redact_data(5) == 5 and redact_data(None) is None
    frozen = types.MappingProxyType({"password": "p", "nested": types.MappingProxyType({"n": 1})})
    assert redact_data(frozen) == {"password": REDACTED, "nested": frozen["nested"]}
    assert redact_data([Level.SECRET]) == [f"token={REDACTED}"]
    assert redact_data({"items": [types.MappingProxyType({"token": "t"})]}) == {
        "items": [{"token": REDACTED}]
    }


def test_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secret_keys, "_KEY_CACHE", {str(i): False for i in range(4096)})
    monkeypatch.setattr(redaction, "_PLANS", {(frozenset({str(i)}), (), False): () for i in range(1024)})
    assert is_secret_key("db_password")
    assert len(secret_keys._KEY_CACHE) == 1
    assert redact_text("the token bucket") == "the token bucket"
    assert len(redaction._PLANS) == 1
    monkeypatch.setattr(secret_keys, "_NAMES_CACHE", {str(i): frozenset() for i in range(1024)})
    assert redact_text("api_key=key") == "api_key=key"
    assert len(secret_keys._NAMES_CACHE) == 1


@pytest.mark.parametrize("case", [c for c in CASES if c.id.endswith("-json")], ids=lambda c: c.id)
def test_json_inside_a_json_string_is_redacted_too(case: Case) -> None:
    """A JSON document kept as a string inside another (a label value, a log field) escapes its
    quotes: `\\"secret\\": \\"...\\"` must still be recognised."""
    once = json.dumps({"log": case.text})
    twice = json.dumps({"label": once})
    for text in (once, twice, f"series{{value={json.dumps(case.text)}}}"):
        assert case.secret not in redact_text(text)
