"""Budgets, pages, cursors, clipping and secret redaction."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import BaseModel

from shared.errors import InvalidArgument
from shared.output import (
    OutputBudget,
    Page,
    clip,
    decode_cursor,
    encode_cursor,
    paginate,
    redact,
    redact_data,
)


class Item(BaseModel):
    name: str


def test_budget_refuses_useless_limits() -> None:
    with pytest.raises(ValueError, match="max_items"):
        OutputBudget(max_items=0)
    with pytest.raises(ValueError, match="max_chars"):
        OutputBudget(max_chars=10)


def test_paginate_walks_every_item_once_with_cursors() -> None:
    items = list(range(23))
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = paginate(items, cursor=cursor, limit=10, budget=OutputBudget(max_items=50), scope="q")
        seen += page.items
        pages += 1
        assert page.total == 23
        if page.next_cursor is None:
            assert not page.truncated and page.note is None
            break
        assert page.truncated
        assert page.note is not None and "cursor" in page.note
        cursor = page.next_cursor
    assert seen == items
    assert pages == 3


def test_paginate_limit_is_capped_by_the_budget() -> None:
    page = paginate(list(range(100)), limit=1000, budget=OutputBudget(max_items=5))
    assert page.items == [0, 1, 2, 3, 4]
    assert page.note is not None and "limit of 5 items" in page.note


def test_paginate_stops_at_the_character_budget_and_says_so() -> None:
    items = [Item(name="x" * 60) for _ in range(10)]
    page = paginate(items, budget=OutputBudget(max_items=50, max_chars=200))
    assert 1 <= len(page.items) < 10
    assert sum(len(i.model_dump_json()) for i in page.items) <= 200
    assert page.truncated and page.note is not None and "character budget" in page.note
    rest = paginate(items, cursor=page.next_cursor, budget=OutputBudget(max_items=50, max_chars=200))
    assert rest.items[0] is items[len(page.items)]


def test_paginate_always_makes_progress_with_a_huge_item() -> None:
    items = ["y" * 5000, "z"]
    page = paginate(items, budget=OutputBudget(max_chars=100))
    assert page.items == ["y" * 5000]
    assert page.next_cursor is not None


def test_page_is_a_typed_model_with_a_schema() -> None:
    page = paginate([Item(name="a")])
    assert isinstance(page, Page)
    dumped = json.loads(page.model_dump_json())
    assert dumped == {
        "items": [{"name": "a"}],
        "total": 1,
        "next_cursor": None,
        "truncated": False,
        "note": None,
    }
    schema = Page[Item].model_json_schema()
    assert "next_cursor" in schema["properties"]
    assert paginate([{"k": 1}, {"k": 2}], limit=1).items == [{"k": 1}]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "x" * 300,
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(b'{"o":-1,"s":"x"}').decode(),
        base64.urlsafe_b64encode(b'{"o":"1","s":"x"}').decode(),
        base64.urlsafe_b64encode(b'{"o":1}').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "ñ",
        encode_cursor(5, scope="other query"),
    ],
)
def test_bad_cursors_are_invalid_arguments(cursor: str) -> None:
    with pytest.raises(InvalidArgument, match="cursor"):
        paginate(list(range(10)), cursor=cursor, scope="this query")


def test_cursor_round_trip_and_past_the_end() -> None:
    assert decode_cursor(encode_cursor(7, "s"), "s") == 7
    with pytest.raises(InvalidArgument, match="past the end"):
        paginate([1, 2], cursor=encode_cursor(3))
    with pytest.raises(InvalidArgument, match="limit"):
        paginate([1, 2], limit=0)


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
