"""The fixtures' port helper never hands out the same port twice in one process (two services of
one stack once got the same port: the second failed to bind while the first answered for it)."""

from __future__ import annotations

from tests.support.services import free_port


def test_free_port_never_repeats_itself() -> None:
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
