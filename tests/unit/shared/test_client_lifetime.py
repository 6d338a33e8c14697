"""`ClientLifetime`: shared clients close when the last session leaves, whatever the interleaving."""

from __future__ import annotations

import logging

import anyio
import pytest

from shared.client_lifetime import ClientLifetime

pytestmark = pytest.mark.anyio


class Closer:
    """Counts closes; optionally blocks each close until `release` is set, or fails it."""

    def __init__(self, *, block: bool = False, fail: bool = False) -> None:
        self.closes = 0
        self.started = anyio.Event()
        self.release = anyio.Event()
        self.finished = 0
        self._block = block
        self._fail = fail

    async def close(self) -> None:
        self.closes += 1
        self.started.set()
        if self._block:
            await self.release.wait()
        if self._fail:
            raise OSError("socket already gone")
        self.finished += 1


async def test_the_only_session_closes_the_clients_when_it_ends() -> None:
    closer = Closer()
    lifetime = ClientLifetime(closer.close)
    async with lifetime.session():
        assert lifetime.sessions == 1
        assert closer.closes == 0
    assert lifetime.sessions == 0
    assert closer.closes == 1


async def test_overlapping_sessions_close_once_after_the_last_leaves() -> None:
    closer = Closer()
    lifetime = ClientLifetime(closer.close)
    async with lifetime.session():
        async with lifetime.session():
            assert lifetime.sessions == 2
        assert closer.closes == 0  # the first session still holds the clients
        assert lifetime.sessions == 1
    assert closer.closes == 1


async def test_sessions_one_after_another_close_after_each() -> None:
    closer = Closer()
    lifetime = ClientLifetime(closer.close)
    for expected in (1, 2, 3):
        async with lifetime.session():
            pass
        assert closer.closes == expected


async def test_many_concurrent_sessions_close_exactly_once() -> None:
    closer = Closer()
    lifetime = ClientLifetime(closer.close)
    all_in = anyio.Event()
    entered = 0

    async def one_session() -> None:
        nonlocal entered
        async with lifetime.session():
            entered += 1
            if entered == 20:
                all_in.set()
            await all_in.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one_session)
    assert closer.closes == 1
    assert lifetime.sessions == 0


async def test_a_session_arriving_as_the_last_one_leaves_is_never_closed_under() -> None:
    held_at_close: list[int] = []
    lifetime: ClientLifetime

    async def close() -> None:
        held_at_close.append(lifetime.sessions)

    lifetime = ClientLifetime(close)
    go, done = anyio.Event(), anyio.Event()
    inside: list[int] = []

    async def arriving() -> None:
        await go.wait()
        async with lifetime.session():
            inside.append(len(held_at_close))
            await done.wait()

    async def leaving() -> None:
        async with lifetime.session():
            await go.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(arriving)  # woken first: it takes the lock as `leaving` drops the count to 0
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(leaving)
            await anyio.wait_all_tasks_blocked()
            go.set()
            await anyio.wait_all_tasks_blocked()
            done.set()
    assert inside == [0]  # the arriving session found the clients open, not closed under it
    assert held_at_close == [0]  # one close, by the true last session, with nobody holding them


async def test_an_error_in_the_session_still_closes_and_propagates() -> None:
    closer = Closer()
    lifetime = ClientLifetime(closer.close)
    with pytest.raises(LookupError, match="boom"):
        async with lifetime.session():
            raise LookupError("boom")
    assert closer.closes == 1
    assert lifetime.sessions == 0


async def test_a_failing_close_propagates_and_the_next_session_works() -> None:
    closer = Closer(fail=True)
    lifetime = ClientLifetime(closer.close)
    with pytest.raises(OSError, match="socket already gone"):
        async with lifetime.session():
            pass
    assert lifetime.sessions == 0
    with pytest.raises(OSError):  # the lock was released: a later session enters and closes again
        async with lifetime.session():
            assert lifetime.sessions == 1
    assert closer.closes == 2


async def test_a_session_starting_during_the_close_waits_for_it_to_finish() -> None:
    closer = Closer(block=True)
    lifetime = ClientLifetime(closer.close)
    seen_finished: list[int] = []

    async def first() -> None:
        async with lifetime.session():
            pass

    async def second() -> None:
        async with lifetime.session():
            seen_finished.append(closer.finished)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await closer.started.wait()  # the first session is closing the clients
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            assert seen_finished == []  # second is held at the door while the close runs
            closer.release.set()
    assert seen_finished == [1]  # it entered only after the close had finished
    assert closer.closes == 2  # and, being the last out itself, closed again


async def test_cancelling_the_last_session_does_not_interrupt_the_close() -> None:
    closer = Closer(block=True)
    lifetime = ClientLifetime(closer.close)

    session_scope = anyio.CancelScope()

    async def hold() -> None:
        with session_scope:
            async with lifetime.session():
                await anyio.sleep_forever()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            await anyio.wait_all_tasks_blocked()
            assert lifetime.sessions == 1
            session_scope.cancel()  # the host hung up: the session's task is cancelled
            await closer.started.wait()
            await anyio.wait_all_tasks_blocked()
            assert closer.finished == 0  # the close is still waiting, not cut short
            closer.release.set()
    assert closer.finished == 1  # the shielded close ran to its end despite the cancellation
    assert lifetime.sessions == 0


async def test_cancelled_while_waiting_to_enter_is_not_counted() -> None:
    closer = Closer(block=True)
    lifetime = ClientLifetime(closer.close)

    async def first() -> None:
        async with lifetime.session():
            pass

    async def never_entered() -> None:
        async with lifetime.session():
            pytest.fail("entered although cancelled at the door")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await closer.started.wait()
            with anyio.CancelScope() as waiting:
                async with anyio.create_task_group() as inner:
                    inner.start_soon(never_entered)
                    await anyio.wait_all_tasks_blocked()
                    waiting.cancel()
            closer.release.set()
    assert lifetime.sessions == 0
    assert closer.closes == 1
    async with lifetime.session():  # the count was not left off by one: the next session closes
        pass
    assert closer.closes == 2


async def test_a_close_that_hangs_is_abandoned_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    closer = Closer(block=True)  # never released
    lifetime = ClientLifetime(closer.close, close_timeout_s=0.05)
    with caplog.at_level(logging.WARNING, logger="shared.client_lifetime"), anyio.fail_after(5):
        async with lifetime.session():
            pass
    assert closer.closes == 1
    assert closer.finished == 0
    assert "gave up" in caplog.text
    async with lifetime.session():  # the lock is free again
        assert lifetime.sessions == 1


def test_the_close_timeout_must_be_positive() -> None:
    async def close() -> None:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="positive"):
        ClientLifetime(close, close_timeout_s=0)
