"""Conversations: a `thread_id` continues a question with the earlier rounds in view.

A round is kept as a short summary — the question, each expert's own verdict and the start of its
answer, the consensus and its agreement, the chairman's synthesis — never the full answers, and
each expert is shown only its own earlier answers next to the panel's consensus, newest rounds
first to survive the `thread_history_chars` bound. A thread belongs to the caller who started it
(`owner`): another caller's id is as unknown as a made-up one. Threads expire `thread_ttl_s` after
their last round; each caller keeps at most `max_threads`, each thread its last `thread_rounds`.

`MemoryThreadStore` keeps them in this process; `thread_store_redis.RedisThreadStore` in the
fleet's Redis, with the same contract.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

from shared.errors import NotFound
from shared.output import clip
from shared.redaction import redact_text

THREAD_ID: Final = re.compile(r"^thr-[A-Za-z0-9_-]{16}$")
MAX_GLOBAL_THREADS: Final = 10_000  # the memory store's bound over every caller together

_QUESTION_CHARS, _ANSWER_CHARS, _CONSENSUS_CHARS, _SYNTHESIS_CHARS = 500, 600, 500, 800


def new_thread_id() -> str:
    return "thr-" + secrets.token_urlsafe(12)


def unknown_thread(thread_id: str) -> NotFound:
    shown = thread_id[:40]
    return NotFound(
        f"unknown thread_id {shown!r}: it expired, or was never started by you; omit thread_id to start "
        "a new conversation (the report's thread_id continues it)"
    )


def _short(text: str | None, limit: int) -> str | None:
    return None if text is None else clip(redact_text(" ".join(text.split())), limit)[0]


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One earlier round, summarised and bounded."""

    question: str
    consensus: str | None
    agreement: float
    synthesis: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    round: int = 0

    @classmethod
    def summarise(
        cls,
        question: str,
        *,
        consensus: str | None,
        agreement: float,
        synthesis: str | None,
        answers: dict[str, tuple[str | None, str | None]],
    ) -> RoundRecord:
        """A round from the report's parts; `answers` maps expert -> (verdict, answer)."""
        own: dict[str, str] = {}
        for expert, (verdict, answer) in answers.items():
            text = " — ".join(p for p in (verdict, answer) if p)
            if text:
                own[expert] = _short(text, _ANSWER_CHARS) or ""
        return cls(
            question=_short(question, _QUESTION_CHARS) or "",
            consensus=_short(consensus, _CONSENSUS_CHARS),
            agreement=round(agreement, 4),
            synthesis=_short(synthesis, _SYNTHESIS_CHARS),
            answers=own,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> RoundRecord:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            question=str(data["question"]),
            consensus=data.get("consensus"),
            agreement=float(data.get("agreement", 0.0)),
            synthesis=data.get("synthesis"),
            answers={str(k): str(v) for k, v in (data.get("answers") or {}).items()},
            round=int(data.get("round", 0)),
        )


def history_for(rounds: list[RoundRecord], expert: str, max_chars: int) -> str | None:
    """What `expert` is shown of the earlier rounds: newest kept first, within `max_chars`."""
    if not rounds:
        return None
    blocks = []
    for record in rounds:
        own = record.answers.get(expert)
        lines = [f"Round {record.round}. Question: {record.question}"]
        lines.append(f"Your answer: {own}" if own else "You did not answer in that round.")
        if record.consensus:
            lines.append(f"Panel consensus (agreement {record.agreement:.2f}): {record.consensus}")
        if record.synthesis:
            lines.append(f"Chairman's synthesis: {record.synthesis}")
        blocks.append("\n".join(lines))
    header = "Earlier in this conversation (oldest first):"
    kept: list[str] = []
    used = len(header)
    for block in reversed(blocks):
        if used + len(block) + 2 > max_chars:
            if not kept:  # the newest round alone is too long: show its start
                kept.append(clip(block, max(100, max_chars - used - 2))[0])
            break
        kept.append(block)
        used += len(block) + 2
    omitted = len(blocks) - len(kept)
    if omitted:
        header += f" ({omitted} earlier round(s) left out to stay short)"
    return "\n\n".join([header, *reversed(kept)])


class ThreadStore(Protocol):
    """Where threads live. `load` raises `NotFound` for an unknown, expired or foreign thread."""

    async def load(self, owner: str, thread_id: str) -> list[RoundRecord]: ...

    async def append(self, owner: str, thread_id: str | None, record: RoundRecord) -> tuple[str, int]:
        """Add a round (to a new thread when `thread_id` is None); returns (thread id, round number)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Thread:
    rounds: list[RoundRecord]
    expires_at: float
    next_round: int


class MemoryThreadStore:
    """Threads in this process: bounded per caller and over all callers, expiring."""

    def __init__(
        self,
        *,
        ttl_s: float,
        max_threads: int,
        max_rounds: int,
        clock: Callable[[], float] = time.monotonic,
        max_global: int = MAX_GLOBAL_THREADS,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_threads = max_threads
        self.max_rounds = max_rounds
        self.clock = clock
        self.max_global = max_global
        # (owner, id) in least-recently-used order; no await inside a method, so each is atomic.
        self._threads: OrderedDict[tuple[str, str], _Thread] = OrderedDict()

    def _sweep(self, now: float) -> None:
        for key in [k for k, t in self._threads.items() if t.expires_at <= now]:
            del self._threads[key]

    async def load(self, owner: str, thread_id: str) -> list[RoundRecord]:
        now = self.clock()
        self._sweep(now)
        thread = self._threads.get((owner, thread_id)) if THREAD_ID.fullmatch(thread_id) else None
        if thread is None:
            raise unknown_thread(thread_id)
        return list(thread.rounds)

    async def append(self, owner: str, thread_id: str | None, record: RoundRecord) -> tuple[str, int]:
        now = self.clock()
        self._sweep(now)
        key = (owner, thread_id or new_thread_id())
        thread = self._threads.pop(key, None) or _Thread([], now, 1)
        numbered = RoundRecord(**{**asdict(record), "round": thread.next_round})
        thread.rounds = [*thread.rounds, numbered][-self.max_rounds :]
        thread.next_round += 1
        thread.expires_at = now + self.ttl_s
        self._threads[key] = thread
        mine = [k for k in self._threads if k[0] == owner]
        for old in mine[: max(0, len(mine) - self.max_threads)]:
            del self._threads[old]
        while len(self._threads) > self.max_global:
            self._threads.popitem(last=False)
        return key[1], numbered.round

    async def aclose(self) -> None:
        return None


__all__ = [
    "THREAD_ID",
    "MemoryThreadStore",
    "RoundRecord",
    "ThreadStore",
    "history_for",
    "new_thread_id",
    "unknown_thread",
]
