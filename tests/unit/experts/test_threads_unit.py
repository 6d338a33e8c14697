"""Conversation records, the history each expert sees, and the memory store's bounds and expiry."""

from __future__ import annotations

import dataclasses

import pytest

from servers.experts.threads import MemoryThreadStore, RoundRecord, history_for
from shared.errors import NotFound

pytestmark = pytest.mark.anyio


def record(question: str, **answers: str) -> RoundRecord:
    return RoundRecord.summarise(
        question,
        consensus="Postgres",
        agreement=0.67,
        synthesis=None,
        answers={k: (v, "because " * 200) for k, v in answers.items()},
    )


def test_a_record_is_summarised_bounded_redacted_and_round_trips() -> None:
    planted = "ghp_" + "R8x2Kq9ZtL4mN7vB3cX6yH1jW5pA0sD2fG8e"
    r = RoundRecord.summarise(
        "q " * 1000,
        consensus=f"use token {planted}",
        agreement=0.5,
        synthesis=None,
        answers={"a": ("yes", None)},
    )
    assert len(r.question) <= 500 and planted not in (r.consensus or "")
    assert r.answers == {"a": "yes"}
    assert RoundRecord.from_json(r.to_json()) == r


def test_history_shows_only_the_experts_own_answers_newest_first_within_the_bound() -> None:
    rounds = [dataclasses.replace(record(f"question {n}", ann="yes", bob="no"), round=n) for n in range(1, 6)]
    shown = history_for(rounds, "ann", 1200)
    assert shown is not None and len(shown) <= 1200
    assert "question 5" in shown and "question 1" not in shown
    assert "left out to stay short" in shown
    assert "Your answer: yes" in shown and "no —" not in shown
    assert history_for([], "ann", 1200) is None
    assert "You did not answer" in (history_for(rounds[:1], "carol", 4000) or "")


async def test_the_memory_store_expires_threads_by_its_clock() -> None:
    now = [1000.0]
    store = MemoryThreadStore(ttl_s=60, max_threads=5, max_rounds=5, clock=lambda: now[0])
    thread, number = await store.append("alice", None, record("q", ann="yes"))
    assert number == 1
    now[0] += 59
    assert len(await store.load("alice", thread)) == 1
    await store.append("alice", thread, record("q2", ann="yes"))  # a round renews the thread
    now[0] += 59
    assert [r.round for r in await store.load("alice", thread)] == [1, 2]
    now[0] += 61
    with pytest.raises(NotFound, match="unknown thread_id"):
        await store.load("alice", thread)


async def test_the_memory_store_is_bounded_over_all_callers() -> None:
    store = MemoryThreadStore(ttl_s=60, max_threads=5, max_rounds=5, max_global=3)
    threads = [(await store.append(f"caller{i}", None, record("q")))[0] for i in range(4)]
    with pytest.raises(NotFound):
        await store.load("caller0", threads[0])
    assert await store.load("caller3", threads[3])
