"""The hostile-input suite: attacks a malicious MCP caller or a malicious scanned project would make,
each through a real MCP session on the real component, each expected to be refused.

Every attack is one `attempt(class, what)`: the block inside must show the attack was refused (a
tool error, a refused status, an unchanged cluster...). At the end of the session the suite prints
how many attempts it made per class and how many were accepted — it must be 0, and any accepted
attempt is also a failed test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import pytest

from tests.integration.deployment.conftest import api, cluster, engine, namespace
from tests.integration.experts.conftest import _fake_session, fake
from tests.integration.monitoring.conftest import prom_stack
from tests.integration.security_scan.conftest import scanners_installed, shared_cache

__all__ = [
    "Attempt",
    "_fake_session",
    "api",
    "cluster",
    "engine",
    "fake",
    "namespace",
    "prom_stack",
    "scanners_installed",
    "shared_cache",
]

Attempt = Callable[[str, str], AbstractContextManager[None]]


@dataclass
class Tally:
    """Attempts per class, and those that were not refused."""

    made: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)


TALLY_KEY = pytest.StashKey[Tally]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TALLY_KEY] = Tally()


@pytest.fixture
def attempt(request: pytest.FixtureRequest) -> Attempt:
    """`with attempt("admission", "privileged pod"): ...assert it was refused...`"""
    tally = request.config.stash[TALLY_KEY]

    @contextmanager
    def one(kind: str, what: str) -> Iterator[None]:
        tally.made[kind] += 1
        try:
            yield
        except AssertionError:
            tally.accepted.append(f"{kind}: {what}")
            raise

    return one


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    tally = config.stash.get(TALLY_KEY, None)
    if tally is None or not tally.made:
        return
    total = sum(tally.made.values())
    terminalreporter.section("hostile-input suite")
    for kind, count in sorted(tally.made.items()):
        terminalreporter.write_line(f"{kind:32} {count:5} attempts")
    terminalreporter.write_line(
        f"{total} attempts in {len(tally.made)} classes; {len(tally.accepted)} accepted"
    )
    for what in tally.accepted:
        terminalreporter.write_line(f"ACCEPTED: {what}")
