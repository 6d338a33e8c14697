"""A hash-chained audit log: one JSON line per tool call, and `verify` to check a file.

Each line holds `seq`, the caller, server, tool, a digest of the arguments, a redacted and
clipped preview of them, the outcome, the latency, the previous line's hash and its own hash:

    hash = H(prev_hash || canonical JSON of the line without "hash")

with H = SHA-256, or HMAC-SHA-256 when a key is configured. What `shared.audit_verify.verify` can
and cannot tell:

- An edited line, a line inserted anywhere, lines removed from the start or the middle: found,
  and the first such line named.
- Without a key, someone who can write the file can rewrite a line *and every line after it*
  with fresh hashes; the chain then verifies. With a key (kept away from the log's host) they
  cannot.
- Lines cut off at the end leave a valid, shorter chain. The file alone cannot show it:
  compare `VerifyResult.head` (`seq:hash`) with a copy kept elsewhere, or pass `expect_head`.

Writes never block the event loop: the line is built (and the chain advanced) on the loop,
then written, flushed and fsynced in a worker thread; concurrent calls share one fsync.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import hmac
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Final

import anyio

from shared.calls import CallRecord
from shared.output import clip
from shared.redaction import redact_data, redact_text

if TYPE_CHECKING:
    from shared.settings import AuditSettings

__all__ = ["GENESIS", "AuditError", "AuditLog", "canonical_bytes", "canonical_json", "chain_hash"]

GENESIS: Final = "0" * 64
FORMAT_VERSION: Final = 1


class AuditError(Exception):
    """The audit log cannot be opened or continued (locked by another process, damaged tail)."""


def canonical_json(value: Any) -> str:
    """The one serialisation hashed: sorted keys, no spaces, UTF-8, non-JSON values as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(key: bytes | None, data: str) -> str:
    if key is None:
        return hashlib.sha256(data.encode()).hexdigest()
    return hmac.new(key, data.encode(), hashlib.sha256).hexdigest()


def chain_hash(key: bytes | None, record: dict[str, Any]) -> str:
    """The hash a line holding `record` must carry (its `prev_hash` and canonical body)."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return _digest(key, str(record.get("prev_hash", "")) + canonical_json(body))


def _stored_line(body: str, line_hash: str) -> bytes:
    """The bytes stored for a line: the hashed canonical body with "hash" appended last."""
    return f'{body[:-1]},"hash":"{line_hash}"}}\n'.encode()


def canonical_bytes(record: dict[str, Any]) -> bytes:
    """The only bytes a line holding `record` may have (what `record()` wrote)."""
    body = canonical_json({k: v for k, v in record.items() if k != "hash"})
    return _stored_line(body, str(record["hash"]))


class AuditLog:
    """Appends hash-chained lines to one file; one writing process per file (enforced by a lock).

    A writer thread writes, flushes and fsyncs; concurrent calls share one fsync. Use as
    `async with AuditLog(path) as log:` or `await log.open()` ... `await log.aclose()`.
    `record` (sync, returns at once) and `append` (async, waits until the line is durable) open
    the file on first use if needed.
    """

    def __init__(
        self, path: Path | str, *, key: bytes | None = None, fsync: bool = True, preview_chars: int = 512
    ) -> None:
        self.path = Path(path)
        self._key = key
        self._fsync = fsync
        self._preview_chars = preview_chars
        self._file: IO[bytes] | None = None
        self._writer: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending: list[tuple[int, bytes]] = []
        self._seq = 0
        self._head = GENESIS
        self._durable_seq = 0
        self._closing = False
        self._error: BaseException | None = None

    @classmethod
    def from_settings(cls, settings: AuditSettings) -> AuditLog | None:
        """The log `[audit]` describes, or None when no path is configured."""
        if settings.path is None:
            return None
        return cls(
            settings.path, key=settings.hmac_key(), fsync=settings.fsync, preview_chars=settings.preview_chars
        )

    @property
    def head(self) -> str:
        """`seq:hash` of the last line recorded (or found on open)."""
        with self._cond:
            return f"{self._seq}:{self._head}"

    # ------------------------------------------------------------------ open / close

    async def open(self) -> None:
        """Open (creating it 0600 if needed), lock the file and continue the chain from its last line."""
        if self._file is None:
            await anyio.to_thread.run_sync(self._open_sync)

    def _open_sync(self) -> None:
        with self._cond:
            if self._file is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            handle = os.fdopen(os.open(self.path, flags, 0o600), "a+b", buffering=0)
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise AuditError(
                    f"audit log {self.path} is in use by another process; give each process its own file"
                ) from None
            try:
                self._seq, self._head = _read_tail(handle)
            except AuditError:
                handle.close()
                raise
            self._durable_seq = self._seq
            self._closing = False
            self._file = handle
            self._writer = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
            self._writer.start()
            # Lines queued by `record` reach the disk even when the process exits without aclose().
            atexit.register(self._close_sync)

    async def aclose(self) -> None:
        """Write what is pending, stop the writer and close the file."""
        await anyio.to_thread.run_sync(self._close_sync)

    def _close_sync(self) -> None:
        with self._cond:
            if self._file is None:
                return
            self._closing = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join()
        with self._cond:
            handle, self._file, self._writer = self._file, None, None
            if handle is not None:
                handle.close()
        atexit.unregister(self._close_sync)

    async def __aenter__(self) -> AuditLog:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ writing

    def record(self, call: CallRecord) -> int:
        """Queue one line for a finished tool call and return its `seq` at once (no waiting).

        Only a digest of the call's arguments (SHA-256, or HMAC with a key) and a redacted, clipped
        preview of them are stored; the detail of a failed call is redacted and clipped too.

        Raises:
            AuditError: the writer failed earlier (e.g. the disk is full) or the file cannot be opened.
        """
        if self._file is None:
            self._open_sync()  # one-time; call `await open()` at startup to keep this off the loop
        plain = dict(call.arguments)
        canonical_args = canonical_json(plain)
        redacted = redact_data(plain)
        preview, _ = clip(
            canonical_args if redacted == plain else canonical_json(redacted), self._preview_chars
        )
        identity = call.identity
        record: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "identity": {"subject": identity.subject, "role": identity.role, "method": identity.method},
            "server": call.server,
            "tool": call.tool,
            "args_sha256": _digest(self._key, canonical_args),
            "args_preview": preview,
            "outcome": call.outcome,
            "latency_ms": round(call.latency_s * 1000, 3),
            "request_id": call.request_id,
            "detail": clip(redact_text(call.detail), 500)[0] if call.detail is not None else None,
        }
        with self._cond:
            if self._error is not None:
                raise AuditError(f"the audit log cannot be written: {self._error}") from self._error
            if self._closing or self._file is None:
                raise AuditError("the audit log is closed")
            record["seq"] = self._seq + 1
            record["prev_hash"] = self._head
            body = canonical_json(record)
            line_hash = _digest(self._key, self._head + body)
            self._seq += 1
            self._head = line_hash
            self._pending.append((self._seq, _stored_line(body, line_hash)))
            self._cond.notify_all()
            return self._seq

    async def append(self, call: CallRecord) -> int:
        """`record`, then wait (in a worker thread, never on the loop) until the line is fsynced."""
        if self._file is None:
            await self.open()
        seq = self.record(call)
        await anyio.to_thread.run_sync(self._wait_durable, seq)
        return seq

    def _wait_durable(self, seq: int) -> None:
        with self._cond:
            while self._durable_seq < seq and self._error is None:
                self._cond.wait()
            if self._durable_seq < seq and self._error is not None:
                raise AuditError(f"the audit log cannot be written: {self._error}") from self._error

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                handle = self._file
                if not batch and self._closing:
                    return
            try:
                if handle is None:  # pragma: no cover - closed under us
                    return
                data = memoryview(b"".join(line for _, line in batch))
                while data:  # a raw write may be partial
                    data = data[os.write(handle.fileno(), data) :]
                if self._fsync:
                    os.fsync(handle.fileno())
            except OSError as exc:
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._durable_seq = batch[-1][0]
                self._cond.notify_all()


def _read_tail(handle: IO[bytes]) -> tuple[int, str]:
    """(seq, hash) of the file's last line, or (0, GENESIS) for an empty file."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    if size == 0:
        return 0, GENESIS
    block = 4096
    data = b""
    pos = size
    while pos > 0:
        step = min(block, pos)
        pos -= step
        handle.seek(pos)
        data = handle.read(step) + data
        if data.count(b"\n") >= 2 or pos == 0:
            break
    if not data.endswith(b"\n"):
        raise AuditError(
            "the audit log ends with an incomplete line; run `code-mcp audit verify` and repair it"
        )
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        record = json.loads(last)
        return int(record["seq"]), str(record["hash"])
    except (ValueError, KeyError, TypeError):
        raise AuditError(
            "the audit log's last line is not an audit record; run `code-mcp audit verify`"
        ) from None
