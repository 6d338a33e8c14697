"""The audit chain: lines written durably, continued across restarts, and tampering found at its line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from shared.audit import GENESIS, AuditError, AuditLog, canonical_json
from shared.audit_verify import verify
from shared.calls import CallRecord
from shared.identity import Identity
from shared.settings import AuditSettings

pytestmark = pytest.mark.anyio

ALICE = Identity("alice", "operator", "api_key")
REPO = Path(__file__).resolve().parents[3]


async def write_calls(path: Path, count: int, *, key: bytes | None = None, start: int = 0) -> AuditLog:
    log = AuditLog(path, key=key)
    async with log:
        for i in range(start, start + count):
            await log.append(
                CallRecord(
                    identity=ALICE,
                    server="deployment",
                    tool="k8s_scale",
                    arguments={"name": f"web-{i}", "replicas": i},
                    outcome="ok",
                    latency_s=0.0125,
                )
            )
    return log


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def rewrite(path: Path, new: list[str]) -> None:
    path.write_text("".join(new))


def rehash(record: dict[str, Any], prev_hash: str) -> str:
    """What an attacker without a key can do: recompute a line's hash after editing it, and store the
    line in exactly the form the log writes (the hashed body, "hash" appended last)."""
    record["prev_hash"] = prev_hash
    body = canonical_json({k: v for k, v in record.items() if k != "hash"})
    record["hash"] = hashlib.sha256((prev_hash + body).encode()).hexdigest()
    return body[:-1] + f',"hash":"{record["hash"]}"}}\n'


async def test_each_call_is_one_durable_chained_line(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    log = await write_calls(path, 3)
    records = [json.loads(line) for line in lines(path)]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev_hash"] == GENESIS
    assert records[1]["prev_hash"] == records[0]["hash"]
    first = records[0]
    assert first["identity"] == {"subject": "alice", "role": "operator", "method": "api_key"}
    assert (first["server"], first["tool"], first["outcome"]) == ("deployment", "k8s_scale", "ok")
    assert first["latency_ms"] == 12.5
    assert (
        first["args_sha256"]
        == hashlib.sha256(canonical_json({"name": "web-0", "replicas": 0}).encode()).hexdigest()
    )
    assert json.loads(first["args_preview"]) == {"name": "web-0", "replicas": 0}
    assert log.head == f"3:{records[2]['hash']}"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    result = verify(path)
    assert result.ok and result.lines == 3 and result.head == log.head


async def test_secrets_in_arguments_are_redacted_and_clipped(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    async with AuditLog(path, preview_chars=80) as log:
        await log.append(
            CallRecord(
                identity=ALICE,
                server="experts",
                tool="experts_ask",
                arguments={"question": "q " * 200, "api_key": "sk-" + "a" * 40, "note": "password=hunter2"},
                outcome="tool_error",
                latency_s=0.001,
                detail="upstream said token=abcdef123456",
                request_id="r1",
            )
        )
    text = path.read_text()
    assert "hunter2" not in text and "sk-aaaa" not in text and "abcdef123456" not in text
    record = json.loads(text)
    assert len(record["args_preview"]) <= 80 and "clipped" in record["args_preview"]
    assert record["detail"] == "upstream said token=[REDACTED]"
    assert record["request_id"] == "r1"


async def test_the_chain_continues_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write_calls(path, 2)
    await write_calls(path, 2, start=2)
    assert [json.loads(line)["seq"] for line in lines(path)] == [1, 2, 3, 4]
    assert verify(path).ok


async def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    async with AuditLog(path) as first:
        await first.open()  # idempotent
        with pytest.raises(AuditError, match="in use by another process"):
            await AuditLog(path).open()


@pytest.mark.parametrize(
    ("tail", "reason"),
    [(b'{"seq": 1, "hash": "x"', "incomplete line"), (b"garbage\n", "not an audit record")],
)
async def test_a_damaged_tail_stops_the_log_from_opening(tmp_path: Path, tail: bytes, reason: str) -> None:
    path = tmp_path / "audit.jsonl"
    await write_calls(path, 1)
    with path.open("ab") as handle:
        handle.write(tail)
    with pytest.raises(AuditError, match=reason):
        await AuditLog(path).open()


async def test_concurrent_calls_keep_one_unbroken_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    async with AuditLog(path) as log:

        async def call(i: int) -> None:
            await log.append(
                CallRecord(
                    identity=ALICE, server="s", tool="t", arguments={"i": i}, outcome="ok", latency_s=0.0
                )
            )

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for i in range(200):
                    tg.start_soon(call, i)
    result = verify(path)
    assert result.ok and result.lines == 200


async def test_record_returns_at_once_and_close_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, fsync=False)
    seq = log.record(
        CallRecord(identity=ALICE, server="s", tool="t", arguments={}, outcome="ok", latency_s=0)
    )
    assert seq == 1
    await log.aclose()
    await log.aclose()  # idempotent
    assert verify(path).lines == 1
    # a later line reopens the file and continues the same chain
    assert (
        log.record(CallRecord(identity=ALICE, server="s", tool="t", arguments={}, outcome="ok", latency_s=0))
        == 2
    )
    await log.aclose()
    assert verify(path).lines == 2 and verify(path).ok


async def test_a_failing_disk_is_reported_not_ignored(tmp_path: Path) -> None:
    log = AuditLog(Path("/dev/full"))
    with anyio.fail_after(10), pytest.raises(AuditError, match="cannot be written"):
        await log.append(
            CallRecord(identity=ALICE, server="s", tool="t", arguments={}, outcome="ok", latency_s=0)
        )
    with pytest.raises(AuditError, match="cannot be written"):
        log.record(CallRecord(identity=ALICE, server="s", tool="t", arguments={}, outcome="ok", latency_s=0))
    await log.aclose()


async def test_from_settings(tmp_path: Path) -> None:
    assert AuditLog.from_settings(AuditSettings()) is None
    log = AuditLog.from_settings(AuditSettings(path=tmp_path / "a.jsonl", key="k"))
    assert log is not None and log.path == tmp_path / "a.jsonl"


# --------------------------------------------------------------------------- tampering


@pytest.fixture
async def ten(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    await write_calls(path, 10)
    return path


@pytest.mark.parametrize("target", [1, 5, 10])
async def test_an_edited_line_is_named(ten: Path, target: int) -> None:
    content = lines(ten)
    content[target - 1] = content[target - 1].replace('"outcome":"ok"', '"outcome":"denied"')
    rewrite(ten, content)
    result = verify(ten)
    assert not result.ok
    assert (result.line, result.problem) == (target, "altered")
    assert result.lines == target - 1


@pytest.mark.parametrize("target", [2, 6, 9])
async def test_an_edited_and_rehashed_line_is_named(ten: Path, target: int) -> None:
    content = lines(ten)
    record = json.loads(content[target - 1])
    record["identity"]["subject"] = "mallory"
    content[target - 1] = rehash(record, record["prev_hash"])
    rewrite(ten, content)
    result = verify(ten)
    assert (result.ok, result.line, result.problem) == (False, target, "altered")
    assert "re-hashed" in result.message


async def test_an_edited_and_rehashed_first_line_is_named(ten: Path) -> None:
    content = lines(ten)
    record = json.loads(content[0])
    record["tool"] = "something_else"
    content[0] = rehash(record, GENESIS)
    rewrite(ten, content)
    assert (verify(ten).line, verify(ten).problem) == (1, "altered")


@pytest.mark.parametrize("position", [1, 4, 10])
async def test_a_forged_line_inserted_with_a_valid_hash_is_named(ten: Path, position: int) -> None:
    # position = the line number the forged line gets; it copies its predecessor's chain link
    content = lines(ten)
    prev_hash = json.loads(content[position - 2])["hash"] if position > 1 else GENESIS
    prev_seq = json.loads(content[position - 2])["seq"] if position > 1 else 0
    forged = json.loads(content[0])
    forged["seq"] = prev_seq + 1
    forged["tool"] = "forged"
    content.insert(position - 1, rehash(forged, prev_hash))
    rewrite(ten, content)
    result = verify(ten)
    assert (result.ok, result.line, result.problem) == (False, position, "inserted")


@pytest.mark.parametrize("position", [1, 3, 11])
async def test_a_copied_line_inserted_is_named(ten: Path, position: int) -> None:
    content = lines(ten)
    content.insert(position - 1, content[4])  # a replay of line 5
    rewrite(ten, content)
    result = verify(ten)
    assert not result.ok and result.line == position
    assert result.problem in ("inserted", "altered")


@pytest.mark.parametrize("position", [2, 5])
async def test_a_garbage_hash_line_inserted_is_named(ten: Path, position: int) -> None:
    content = lines(ten)
    forged = json.loads(content[position - 1])
    forged["hash"] = "f" * 64
    content.insert(position - 1, canonical_json(forged) + "\n")
    rewrite(ten, content)
    result = verify(ten)
    assert (result.line, result.problem) == (position, "inserted")


@pytest.mark.parametrize(("first", "count"), [(1, 1), (4, 1), (4, 3), (9, 1)])
async def test_removed_lines_are_named(ten: Path, first: int, count: int) -> None:
    content = lines(ten)
    del content[first - 1 : first - 1 + count]
    rewrite(ten, content)
    result = verify(ten)
    assert (result.ok, result.line, result.problem) == (False, first, "removed")
    assert f"{count} line(s)" in result.message


async def test_the_first_line_replaced_by_a_later_chain_is_named(ten: Path) -> None:
    content = lines(ten)
    record = json.loads(content[0])
    record["seq"] = 1
    record["prev_hash"] = "e" * 64
    body = {k: v for k, v in record.items() if k != "hash"}
    record["hash"] = hashlib.sha256(("e" * 64 + canonical_json(body)).encode()).hexdigest()
    content[0] = canonical_json(record) + "\n"
    rewrite(ten, content)
    result = verify(ten)
    assert (result.line, result.problem) == (1, "removed")


@pytest.mark.parametrize(
    ("garbage", "problem"),
    [("not json\n", "malformed"), ("[1,2]\n", "malformed"), ('{"seq": 1}\n', "malformed")],
)
async def test_malformed_lines_are_named(ten: Path, garbage: str, problem: str) -> None:
    content = lines(ten)
    content[6] = garbage
    rewrite(ten, content)
    assert (verify(ten).line, verify(ten).problem) == (7, problem)


async def test_a_cut_last_line_is_malformed(ten: Path) -> None:
    rewrite(ten, [*lines(ten)[:-1], lines(ten)[-1][:-5]])
    assert (verify(ten).line, verify(ten).problem) == (10, "malformed")


async def test_a_reordered_pair_is_found(ten: Path) -> None:
    content = lines(ten)
    content[3], content[4] = content[4], content[3]
    rewrite(ten, content)
    result = verify(ten)
    assert not result.ok and result.line == 4


async def test_a_wrong_seq_with_a_valid_chain_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write_calls(path, 3)
    content = lines(path)
    chain = GENESIS
    rebuilt = []
    for index, line in enumerate(content):
        record = json.loads(line)
        record["seq"] = 7 if index == 1 else record["seq"]
        rebuilt.append(rehash(record, chain))
        chain = record["hash"]
    rewrite(path, rebuilt)
    result = verify(path)
    assert not result.ok and result.line == 2


async def test_truncation_at_the_end_needs_an_expected_head(ten: Path) -> None:
    head = verify(ten).head
    content = lines(ten)
    rewrite(ten, content[:-2])
    # the shorter file is a valid chain on its own: this is the documented limit
    assert verify(ten).ok
    result = verify(ten, expect_head=head)
    assert (result.ok, result.problem) == (False, "truncated")
    # a head that is still in the file is fine: the file only grew since it was noted
    older = f"5:{json.loads(content[4])['hash']}"
    assert verify(ten, expect_head=older).ok
    assert not verify(ten, expect_head="garbage").ok


async def test_a_keyed_chain_cannot_be_rehashed_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    key = b"k" * 32
    await write_calls(path, 5, key=key)
    assert verify(path, key=key).ok
    assert not verify(path).ok  # the wrong key (none) does not verify
    content = lines(path)
    record = json.loads(content[2])
    record["outcome"] = "denied"
    content[2] = rehash(record, record["prev_hash"])  # plain SHA-256: no key
    rewrite(path, content)
    result = verify(path, key=key)
    assert (result.line, result.problem) == (3, "altered")
    # the argument digest is keyed too, so a guessed low-entropy argument cannot be confirmed
    assert (
        json.loads(content[0])["args_sha256"] != hashlib.sha256(b'{"name":"web-0","replicas":0}').hexdigest()
    )


async def test_an_empty_file_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.touch()
    assert verify(path).ok and verify(path).head == f"0:{GENESIS}"
    async with AuditLog(path) as log:
        assert log.head == f"0:{GENESIS}"


def test_queued_lines_reach_the_disk_when_the_process_exits_without_closing(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    code = (
        "import sys\n"
        "from shared.audit import AuditLog\n"
        "from shared.calls import CallRecord\n"
        "from shared.identity import Identity\n"
        "log = AuditLog(sys.argv[1])\n"
        "for i in range(50):\n"
        "    log.record(CallRecord(identity=Identity('a', 'viewer', 'local'), server='s', tool='t',\n"
        "               arguments={'i': i}, outcome='ok', latency_s=0))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60, cwd=REPO)
    result = verify(path)
    assert result.ok and result.lines == 50


@pytest.mark.parametrize("keyed", [False, True], ids=["sha256", "hmac"])
async def test_a_line_whose_bytes_differ_from_its_canonical_form_is_altered(
    tmp_path: Path, keyed: bool
) -> None:
    """A duplicate key read first (`"outcome":"denied"` before the real one) must not verify: a JSON
    reader keeps the last value, another reader the first; the log only trusts the bytes it wrote."""
    path = tmp_path / "audit.jsonl"
    key = b"k" * 32 if keyed else None
    await write_calls(path, 3, key=key)
    content = lines(path)
    content[1] = content[1].replace("{", '{"outcome":"denied",', 1)
    rewrite(path, content)
    result = verify(path, key=key)
    assert not result.ok and result.line == 2


async def test_re_encoding_a_line_without_changing_its_values_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write_calls(path, 2)
    content = lines(path)
    content[0] = content[0].replace('"tool":"k8s_scale"', '"tool":"k8s_\\u0073cale"')
    rewrite(path, content)
    result = verify(path)
    assert not result.ok and result.line == 1 and result.problem == "altered"
