"""Budgets, clipping, fitting a whole result into its cap, and secret redaction."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from shared.output import OutputBudget, clip, fit, redact, redact_data


class Item(BaseModel):
    name: str


def test_budget_refuses_useless_limits() -> None:
    with pytest.raises(ValueError, match="max_items"):
        OutputBudget(max_items=0)
    with pytest.raises(ValueError, match="max_chars"):
        OutputBudget(max_chars=10)
    with pytest.raises(ValueError, match="max_result_chars"):
        OutputBudget(max_chars=1000, max_result_chars=500)


def test_fit_leaves_a_result_within_the_cap_alone() -> None:
    data = {"a": "x" * 100, "b": [1, 2, 3]}
    assert fit(data, 10_000) == (data, None)


def test_fit_clips_the_longest_strings_first_and_keeps_types() -> None:
    data = {"log": "L" * 50_000, "name": "short", "lines": [f"line {i}" for i in range(10)]}
    fitted, note = fit(data, 5_000)
    assert note is not None and "1 long strings clipped" in note
    assert len(json.dumps(fitted, separators=(",", ":"))) <= 5_000
    assert fitted["name"] == "short" and len(fitted["lines"]) == 10
    assert isinstance(fitted["log"], str) and "clipped" in fitted["log"]


def test_fit_shortens_lists_when_clipping_strings_is_not_enough() -> None:
    data = {"items": [{"id": i, "v": "x" * 50} for i in range(2_000)], "total": 2_000}
    fitted, note = fit(data, 10_000)
    assert note is not None and "list items left out" in note
    assert len(json.dumps(fitted, separators=(",", ":"))) <= 10_000
    assert fitted["total"] == 2_000 and 1 <= len(fitted["items"]) < 2_000
    assert fitted["items"][0] == {"id": 0, "v": "x" * 50}


@pytest.mark.parametrize("max_chars", [100, 50, 20, 0])
def test_clip_says_it_clipped_and_respects_the_limit(max_chars: int) -> None:
    text, clipped = clip("a" * 1000, max_chars)
    assert clipped
    assert len(text) <= max_chars
    if max_chars >= 50:
        assert "clipped" in text


def test_clip_leaves_short_text_alone() -> None:
    assert clip("short", 10) == ("short", False)


SECRETS = [
    ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnop"),
    ("token: ghp_" + "A" * 36, "ghp_"),
    ("github_pat_" + "B" * 60, "github_pat_"),
    ("key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-proj-abc"),
    ("x-api-key: sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "sk-ant-api03"),
    ("google AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSy"),
    ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890"),
    ("stripe sk_live_abcdefghijklmnop1234", "sk_live_"),
    ("gitlab glpat-abcdefghijklmnopqrst", "glpat-"),
    ("hf hf_abcdefghijklmnopqrstuvwxyzABCDEF", "hf_abc"),
    ("password=hunter2&user=bob", "hunter2"),
    ('{"password": "hunter2"}', "hunter2"),
    ("DB_PASSWORD: 's3cr3t pass'", "s3cr3t"),
    ("client_secret=abc123", "abc123"),
    ("postgres://admin:pa55w0rd@db:5432/app", "pa55w0rd"),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJzdWIi",
    ),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (clipped", "b3BlbnNzaC1rZXkt"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_redact_removes_secrets(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED]" in out


def test_redact_keeps_the_original_case_around_secrets() -> None:
    assert redact("Authorization: Bearer AbCdEfGhIjKl") == "Authorization: Bearer [REDACTED]"
    assert redact("DB_PASSWORD=Hunter2 Host=X") == "DB_PASSWORD=[REDACTED] Host=X"
    assert redact("HTTPS://Admin:Pw@Host") == "HTTPS://Admin:[REDACTED]@Host"


def test_redact_handles_text_whose_lowercase_is_longer() -> None:
    # "İ".lower() is two characters: spans of the lowercased text would be off by one
    assert redact("İ password=hunter2 İ") == "İ password=[REDACTED] İ"


@pytest.mark.parametrize("text", ["deployment web scaled to 3 replicas", "sha256:abc", "skeleton key", "ok"])
def test_redact_leaves_ordinary_text(text: str) -> None:
    assert redact(text) == text


def test_redact_data_walks_structures() -> None:
    data = {
        "api_key": "plain-looking",
        "headers": {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
        "args": ["--token", "ghp_" + "C" * 36],
        "max_tokens": 100,
        "password": "",
        "verbose": True,
        "nested": ({"secret": {"a": 1}},),
    }
    out = redact_data(data)
    assert out["api_key"] == "[REDACTED]"
    assert out["headers"]["Authorization"] == "[REDACTED]"
    assert out["args"][1] == "[REDACTED]"
    assert out["max_tokens"] == 100
    assert out["password"] == ""
    assert out["verbose"] is True
    assert out["nested"][0]["secret"] == "[REDACTED]"


def test_redact_data_bounds_recursion() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(100):
        child: list[object] = []
        node.append(child)
        node = child
    flat = json.dumps(redact_data(deep))
    assert "[REDACTED]" in flat
