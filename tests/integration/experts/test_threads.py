"""Conversations (thread_id) against the FAKE providers, in memory and in a real redis-server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import anyio
import pytest
import redis

from servers.experts.circle_ops import AskRequest
from servers.experts.thread_store_redis import RedisThreadStore
from servers.experts.threads import MemoryThreadStore, RoundRecord, ThreadStore
from shared.errors import NotFound, UpstreamUnavailable
from shared.settings import RedisSettings
from tests.integration.experts.circle_setup import circle_on, fake_settings
from tests.integration.experts.conftest import FAKE_KEY
from tests.integration.experts.fake_providers import Behaviour, FakeProviders, prompt_text
from tests.integration.scale.redis_service import RedisServer
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

EXPERTS = [{"name": n, "provider": "compat", "model": n} for n in ("ann", "bob")]
HISTORY = "Earlier in this conversation"


def answers(fake: FakeProviders) -> None:
    fake.script.update(
        {
            "ann": Behaviour(answer="Ann says Postgres for orders.\nVERDICT: Postgres | CONFIDENCE: 0.8"),
            "bob": Behaviour(answer="Bob says MongoDB for documents.\nVERDICT: MongoDB | CONFIDENCE: 0.6"),
        }
    )


def store_settings(url: str) -> RedisSettings:
    return RedisSettings.model_validate({"url": url, "timeout_s": 2, "prefix": f"t{secrets.token_hex(4)}"})


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ThreadStore]:
    """Each test runs on both stores; the Redis one is a real redis-server with its own key prefix."""
    bounds = {"ttl_s": 600.0, "max_threads": 3, "max_rounds": 3}
    if request.param == "memory":
        yield MemoryThreadStore(**bounds)  # type: ignore[arg-type]
        return
    server: RedisServer = request.getfixturevalue("redis_srv")
    redis_store = RedisThreadStore(store_settings(server.url), **bounds)  # type: ignore[arg-type]
    try:
        yield redis_store
    finally:
        await redis_store.aclose()


def prompts_of(fake: FakeProviders, model: str) -> list[str]:
    return [prompt_text(s.body) for s in fake.calls(model, "chat")]


async def test_a_thread_continues_with_each_experts_own_history(
    fake: FakeProviders, store: ThreadStore
) -> None:
    answers(fake)
    async with circle_on(fake_settings(fake, EXPERTS), FAKE_KEY, threads=store) as circle:
        first = await circle.ask(AskRequest(question="Which database for orders?", caller="alice"))
        assert first.thread_id is not None and first.round == 1
        second = await circle.ask(
            AskRequest(question="And for the audit log?", thread_id=first.thread_id, caller="alice")
        )
    assert (second.thread_id, second.round) == (first.thread_id, 2)
    ann_first, ann_second = prompts_of(fake, "ann")
    assert HISTORY not in ann_first
    assert HISTORY in ann_second
    assert "Round 1. Question: Which database for orders?" in ann_second
    assert "Your answer: Postgres — Ann says Postgres for orders." in ann_second
    assert "Bob says" not in ann_second  # an expert sees its own answers, and the consensus
    assert "Panel consensus (agreement 0.50)" in ann_second
    assert any("1 earlier round" in n for n in second.notes)


async def test_another_callers_thread_is_unknown_like_a_made_up_one(
    fake: FakeProviders, store: ThreadStore
) -> None:
    answers(fake)
    async with circle_on(fake_settings(fake, EXPERTS), FAKE_KEY, threads=store) as circle:
        alices = await circle.ask(AskRequest(question="Which database?", caller="alice"))
        assert alices.thread_id is not None
        sent = len(fake.seen)
        with pytest.raises(NotFound) as foreign:
            await circle.ask(AskRequest(question="q?", thread_id=alices.thread_id, caller="bob"))
        made_up = "thr-" + "x" * 16
        with pytest.raises(NotFound) as unknown:
            await circle.ask(AskRequest(question="q?", thread_id=made_up, caller="bob"))
        for hostile in ("../../etc/passwd", "thr-*", "*", "thr-" + "a" * 15 + "\x00"):
            with pytest.raises(NotFound):
                await circle.ask(AskRequest(question="q?", thread_id=hostile, caller="alice"))
    assert len(fake.seen) == sent  # refused before any expert was asked
    assert str(foreign.value).replace(alices.thread_id, made_up) == str(unknown.value)


async def test_rounds_and_threads_are_bounded(store: ThreadStore) -> None:
    def record(n: int) -> RoundRecord:
        return RoundRecord.summarise(
            f"question {n}",
            consensus="yes",
            agreement=1.0,
            synthesis=None,
            answers={"ann": ("yes", "x" * 5000)},
        )

    thread, number = await store.append("alice", None, record(1))
    for n in (2, 3, 4):
        _, number = await store.append("alice", thread, record(n))
    assert number == 4
    rounds = await store.load("alice", thread)
    assert [r.round for r in rounds] == [2, 3, 4]  # max_rounds = 3: the oldest went first
    assert all(len(r.answers["ann"]) <= 600 for r in rounds)  # each answer summarised, bounded
    others = [(await store.append("alice", None, record(1)))[0] for _ in range(3)]
    with pytest.raises(NotFound):  # max_threads = 3: the least recently used thread went
        await store.load("alice", thread)
    for other in others:
        assert await store.load("alice", other)
    assert (await store.append("bob", None, record(1)))[1] == 1  # another caller's bound is its own


async def test_redis_threads_are_shared_by_replicas_and_expire(redis_srv: RedisServer) -> None:
    settings = store_settings(redis_srv.url)
    one = RedisThreadStore(settings, ttl_s=600, max_threads=5, max_rounds=5)
    two = RedisThreadStore(settings, ttl_s=0.3, max_threads=5, max_rounds=5)
    record = RoundRecord.summarise("q", consensus="yes", agreement=1.0, synthesis=None, answers={})
    try:
        thread, _ = await one.append("alice", None, record)
        assert [r.question for r in await two.load("alice", thread)] == ["q"]  # another replica reads it
        await two.append("alice", thread, record)  # now expiring 0.3 s after this round
        key = two.thread_key("alice", thread)
        conn = redis.Redis.from_url(redis_srv.url)
        try:
            assert conn.type(key) == b"list"
            assert 0 < conn.pttl(key) <= 300
        finally:
            conn.close()
        with anyio.fail_after(5):
            while True:  # bounded: Redis forgets the thread by itself once its TTL runs out
                try:
                    await one.load("alice", thread)
                except NotFound:
                    break
                await anyio.sleep(0.05)
    finally:
        await one.aclose()
        await two.aclose()


async def test_redis_down_refuses_before_asking_and_reports_an_unsaved_round(fake: FakeProviders) -> None:
    answers(fake)
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    down = RedisThreadStore(store_settings(url), ttl_s=60, max_threads=2, max_rounds=2)
    try:
        async with circle_on(fake_settings(fake, EXPERTS), FAKE_KEY, threads=down) as circle:
            with pytest.raises(UpstreamUnavailable, match="conversation store \\(Redis\\) is unreachable"):
                await circle.ask(AskRequest(question="q?", thread_id="thr-" + "a" * 16, caller="alice"))
            assert not fake.seen
            report = await circle.ask(AskRequest(question="q?", caller="alice"))
    finally:
        await down.aclose()
    assert report.answered == 2 and report.thread_id is None
    assert any("not saved to the conversation" in n for n in report.notes)
