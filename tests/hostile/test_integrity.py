"""Ownership and integrity: forged and foreign cursors, unknown tools spending no quota, and an audit
log edited so a reader sees another outcome."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.cli import main as cli
from shared.identity import Identity
from shared.paging import CursorCodec
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.hostile.conftest import Attempt
from tests.support.demo_server import build_server

pytestmark = pytest.mark.anyio


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def first_cursor(client: Client, **args: Any) -> str:
    result = await client.call_tool("demo_numbers", {"count": 300, "limit": 10, **args})
    cursor = (result.structured_content or {})["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def flip(cursor: str, byte: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[byte] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def forgeries(cursor: str) -> dict[str, str]:
    return {
        "offset bit flipped": flip(cursor, 5),
        "high offset byte flipped": flip(cursor, 0),
        "tag bit flipped": flip(cursor, 10),
        "another server's key": CursorCodec().encode(200, "demo_numbers"),
        "truncated": cursor[:-2],
        "padded": cursor + "==",
        "doubled": cursor + cursor,
        "empty": "",
        "spaces": " " * len(cursor),
        "unicode lookalike": cursor.replace(cursor[0], "\u0391", 1),
        "json of the old format": base64.urlsafe_b64encode(b'{"o":200,"s":"x"}').decode(),
        "null bytes": "\0" * len(cursor),
    }


async def test_forged_cursors_are_refused(attempt: Attempt) -> None:
    server = build_server(SuiteConfig())
    async with Client(server) as client:
        cursor = await first_cursor(client)
        for what, forged in forgeries(cursor).items():
            with attempt("cursors", what):
                result = await client.call_tool("demo_numbers", {"count": 300, "limit": 10, "cursor": forged})
                assert result.is_error and "cursor" in text_of(result), (what, result.structured_content)


async def test_a_cursor_continues_only_its_own_query(attempt: Attempt) -> None:
    server = build_server(SuiteConfig())
    async with Client(server) as client:
        cursor = await first_cursor(client, parity="even")
        for what, args in {
            "another filter": {"parity": "odd"},
            "another count": {"count": 301, "parity": "even"},
            "the filter dropped": {},
        }.items():
            with attempt("cursors", f"a cursor replayed with {what}"):
                result = await client.call_tool(
                    "demo_numbers", {"count": 300, "limit": 10, "cursor": cursor, **args}
                )
                assert result.is_error and "another query" in text_of(result)


async def test_another_caller_cannot_continue_a_cursor(attempt: Attempt) -> None:
    """Two callers of one server (one key signs both): mallory replays alice's cursor."""
    runtime = Runtime(SuiteConfig(role="viewer"))
    runtime.local_identity = Identity("alice", "viewer", "local")
    server = build_server(runtime.config, runtime=runtime)
    async with Client(server) as client:
        cursor = await first_cursor(client)
    runtime.local_identity = Identity("mallory", "viewer", "local")
    async with Client(server) as client:
        with attempt("cursors", "a cursor of another identity, signed with the same key"):
            result = await client.call_tool("demo_numbers", {"count": 300, "limit": 10, "cursor": cursor})
            assert result.is_error and "another query" in text_of(result)
        mine = await first_cursor(client)
        assert not (
            await client.call_tool("demo_numbers", {"count": 300, "limit": 10, "cursor": mine})
        ).is_error


async def test_calls_to_unknown_tools_spend_the_caller_s_quota(attempt: Attempt) -> None:
    config = SuiteConfig(limits={"identity": {"rate": 1, "burst": 5, "period_s": 3600}})
    async with Client(build_server(config)) as client:
        for i in range(5):
            await client.call_tool(f"no_such_tool_{i}", {})
        with attempt("quota", "unknown-tool calls as free probes"):
            result = await client.call_tool("demo_echo", {"text": "x"})
            assert result.is_error and (result.structured_content or {}).get("error") == "rate_limited"


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


EDITS = {
    "a duplicate outcome key read first": lambda line: line.replace("{", '{"outcome":"denied",', 1),
    "a duplicate outcome key read last": lambda line: line.replace(
        '"latency_ms"', '"outcome":"denied","latency_ms"', 1
    ),
    "the outcome re-encoded with escapes": lambda line: line.replace(
        '"outcome":"ok"', '"outcome":"\\u006fk"', 1
    ),
    "whitespace inserted": lambda line: line.replace(",", ", ", 1),
    "a key reordered": lambda line: line.replace('{"args_preview"', '{ "args_preview"', 1),
    "the tool renamed": lambda line: line.replace('"tool":"demo_echo"', '"tool":"demo_admin"', 1),
    "the identity changed": lambda line: line.replace('"role":"viewer"', '"role":"admin"', 1),
    "a BOM prefixed": lambda line: "\ufeff" + line,
}


@pytest.mark.parametrize("keyed", [False, True], ids=["sha256", "hmac"])
@pytest.mark.parametrize("edit", list(EDITS))
async def test_an_edited_audit_line_does_not_verify(
    attempt: Attempt, tmp_path: Path, edit: str, keyed: bool
) -> None:
    log = tmp_path / "audit.jsonl"
    key_file = tmp_path / "audit.key"
    key_file.write_text("k" * 32)
    audit: dict[str, Any] = {"path": str(log), "fsync": False}
    if keyed:
        audit["key_file"] = str(key_file)
    runtime = Runtime(SuiteConfig(role="viewer", audit=audit))
    async with Client(build_server(runtime.config, runtime=runtime)) as client:
        for text in ("a", "b", "c"):
            await client.call_tool("demo_echo", {"text": text})
    await runtime.aclose()
    content = lines(log)
    assert json.loads(content[1])["outcome"] == "ok"
    content[1] = EDITS[edit](content[1])
    log.write_text("".join(content))
    config = tmp_path / "config.toml"
    config.write_text(f'[audit]\nkey_file = "{key_file}"\n' if keyed else "")
    with attempt("audit integrity", f"{edit} ({'hmac' if keyed else 'sha256'})"):
        assert cli(["audit", "verify", str(log), "--config", str(config)]) != 0
