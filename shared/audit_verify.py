"""`verify`: check an audit file's chain and name the first line altered, inserted or removed.

The chain's form is `shared.audit`'s: each line's hash covers the previous line's hash and the
line's canonical body, and the stored bytes must be exactly that canonical form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.audit import GENESIS, canonical_bytes, chain_hash

__all__ = ["Problem", "VerifyResult", "verify"]

Problem = Literal["altered", "inserted", "removed", "malformed", "truncated"]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What `verify` found. `line` is 1-based; `head` is `seq:hash` of the last good line."""

    ok: bool
    lines: int
    head: str
    line: int | None = None
    problem: Problem | None = None
    message: str = "chain intact"


def verify(path: Path | str, *, key: bytes | None = None, expect_head: str | None = None) -> VerifyResult:
    """Check the chain of an audit file and name the first line that was altered, inserted or removed.

    Args:
        key: the HMAC key the log was written with (None for plain SHA-256).
        expect_head: `seq:hash` recorded elsewhere earlier; if the file no longer contains that
            line, lines were cut off at the end (or the chain was rewritten).
    """
    with Path(path).open("rb") as handle:
        raw_lines = handle.readlines()
    seen: dict[str, int] = {GENESIS: 0}  # hash -> line number
    seqs: list[int] = [0]  # line number -> seq
    hashes: list[str] = [GENESIS]  # line number -> hash
    for number, raw in enumerate(raw_lines, start=1):
        prev_hash, prev_seq = hashes[-1], seqs[-1]
        record = _parse(raw)
        if record is None:
            what = "is incomplete (no newline)" if not raw.endswith(b"\n") else "is not a valid audit record"
            return _bad(number - 1, prev_seq, prev_hash, number, "malformed", what)
        seq, line_hash, claimed_prev = record["seq"], record["hash"], record["prev_hash"]
        follower = _parse(raw_lines[number]) if number < len(raw_lines) else None
        # The next line continues the chain from the line before this one: this one does not belong.
        skipped = follower is not None and follower["prev_hash"] == prev_hash
        if chain_hash(key, record) != line_hash:
            if skipped:
                return _bad(number - 1, prev_seq, prev_hash, number, "inserted", "was inserted")
            return _bad(
                number - 1, prev_seq, prev_hash, number, "altered", "was altered (its hash does not match)"
            )
        if line_hash in seen:
            what = f"was inserted (it repeats line {seen[line_hash]})"
            return _bad(number - 1, prev_seq, prev_hash, number, "inserted", what)
        if claimed_prev != prev_hash:
            return _chain_break(number, seq, claimed_prev, skipped, seen, seqs, hashes)
        if seq != prev_seq + 1:
            return _bad(
                number - 1, prev_seq, prev_hash, number, "altered", f"has seq {seq}, expected {prev_seq + 1}"
            )
        if raw != canonical_bytes(record):
            # The hash covers the parsed values; the bytes must be exactly what was written, or a
            # reader could see other values (a duplicate key read first, escapes, reordering).
            what = "was altered (its bytes are not the form the log writes: duplicate keys or re-encoding)"
            return _bad(number - 1, prev_seq, prev_hash, number, "altered", what)
        seen[line_hash] = number
        seqs.append(seq)
        hashes.append(line_hash)
    count = len(raw_lines)
    head = f"{seqs[-1]}:{hashes[-1]}"
    if expect_head is not None and expect_head != head:
        exp_seq, _, exp_hash = expect_head.partition(":")
        if not (exp_seq.isdigit() and exp_hash in seen and seqs[seen[exp_hash]] == int(exp_seq)):
            what = (
                f"the expected head {expect_head} is not in the file: lines were cut off at the end "
                "or the chain was rewritten"
            )
            return VerifyResult(False, count, head, count + 1, "truncated", what)
    return VerifyResult(True, count, head)


def _chain_break(
    number: int,
    seq: int,
    claimed_prev: str,
    skipped: bool,
    seen: dict[str, int],
    seqs: list[int],
    hashes: list[str],
) -> VerifyResult:
    """Line `number` is well formed but does not link to the line before it: say why."""
    prev_hash, prev_seq = hashes[-1], seqs[-1]
    if skipped:
        return _bad(number - 1, prev_seq, prev_hash, number, "inserted", "was inserted")
    if claimed_prev in seen:
        first = seen[claimed_prev] + 1
        what = f"was inserted (line {number} continues the chain from line {first - 1})"
        return _bad(first - 1, seqs[first - 1], claimed_prev, first, "inserted", what)
    if seq > prev_seq + 1:
        what = (
            f"follows a gap: {seq - prev_seq - 1} line(s) with seq {prev_seq + 1}..{seq - 1} "
            "were removed before it"
        )
        return _bad(number - 1, prev_seq, prev_hash, number, "removed", what)
    if number > 1:
        what = f"was altered and re-hashed (line {number} recorded another hash for it)"
        return _bad(number - 2, seqs[-2], hashes[-2], number - 1, "altered", what)
    return _bad(0, 0, GENESIS, 1, "removed", "does not start the chain: lines were removed before it")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys")
    return dict(pairs)


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A complete line holding an audit record's chain fields (no duplicate keys), or None."""
    if not raw.endswith(b"\n"):
        return None
    try:
        record = json.loads(raw, object_pairs_hook=_no_duplicates)
    except ValueError:
        return None
    if not isinstance(record, dict) or type(record.get("seq")) is not int:
        return None
    if not isinstance(record.get("hash"), str) or not isinstance(record.get("prev_hash"), str):
        return None
    return record


def _bad(good: int, seq: int, head: str, line: int, problem: Problem, what: str) -> VerifyResult:
    return VerifyResult(False, good, f"{seq}:{head}", line, problem, f"line {line} {what}")
