"""Subscribable resources (2026-07-28 `subscriptions/listen`): a resource registered with a `Watch`
is read again every `every_s` seconds while at least one client listens, and a `ResourceUpdated`
event goes out when what it reads has changed. Nothing is polled while nobody listens.

The event carries only the URI the client subscribed to; the client reads the resource again
through the guard. Which URIs a caller may listen to is the guard's decision (`Surfaces.target`):
only watched resources, under their read permission. 2025-era clients have no subscriptions: they
read the resource when they want it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent

__all__ = ["ListeningBus", "Watch", "Watched", "watch_loop"]

log = structlog.get_logger("code_mcp.watch")


@dataclass(frozen=True, slots=True)
class Watch:
    """How a resource is watched: the concrete URIs to read (`uris()`), how often, and what of a
    read counts as a change (`changes(value)`; default: all of it)."""

    uris: Callable[[], Iterable[str]]
    every_s: float = 15.0
    changes: Callable[[Any], Any] = lambda value: value


@dataclass(frozen=True, slots=True)
class Watched:
    """A watched resource: its `Watch` and its reader (`read(uri)` → the value a client would read)."""

    watch: Watch
    read: Callable[[str], Awaitable[Any]]


class ListeningBus(InMemorySubscriptionBus):
    """The SDK's in-process bus, counting its listeners (one per open listen stream)."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners = 0
        self._arrived = anyio.Event()

    async def listened(self) -> None:
        """Return once at least one client listens (at once if one does)."""
        while self.listeners == 0:
            self._arrived = anyio.Event()
            await self._arrived.wait()

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(listener)
        self.listeners += 1
        self._arrived.set()
        done = False

        def leave() -> None:
            nonlocal done
            if not done:
                done = True
                self.listeners -= 1
                unsubscribe()

        return leave


def _fingerprint(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def _read(watched: Watched, uri: str) -> str:
    try:
        return _fingerprint(watched.watch.changes(await watched.read(uri)))
    except Exception as exc:  # a backend down is a state too: its recovery is a change
        log.warning("watched resource unreadable", uri=uri, error=type(exc).__name__)
        return f"error:{type(exc).__name__}"


async def watch_loop(bus: ListeningBus, watched: list[Watched]) -> None:
    """Read every watched URI while someone listens; publish `ResourceUpdated` on each change.
    Runs until cancelled (the server's lifespan owns it)."""
    every = min(w.watch.every_s for w in watched)
    seen: dict[str, str] = {}
    while True:
        if bus.listeners == 0:
            seen.clear()  # nobody listens: read nothing until someone does, then take a new baseline
            await bus.listened()
        for item in watched:
            for uri in item.watch.uris():
                now = await _read(item, uri)
                if uri in seen and seen[uri] != now:
                    await bus.publish(ResourceUpdated(uri=uri))
                seen[uri] = now
        await anyio.sleep(every)
