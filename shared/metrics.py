"""Prometheus metrics for tool calls: calls, errors, latency, refusals.

One `Metrics` object per process (held by the `Runtime`), on its own registry so several runtimes in
one test process never clash over the global default registry.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# Tool latencies span sub-millisecond echo calls to minute-long scans.
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)


class Metrics:
    """The suite's tool-call metrics, exposed on `/metrics` by the HTTP runner."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.calls = Counter(
            "code_mcp_tool_calls",
            "Tool calls by outcome.",
            ["server", "tool", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "code_mcp_tool_errors",
            "Tool calls that ended in an error.",
            ["server", "tool"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "code_mcp_tool_latency_seconds",
            "Tool call latency, guard included.",
            ["server", "tool"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "code_mcp_tool_refusals",
            "Tool calls refused before running, by reason.",
            ["server", "tool", "reason"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}

    def observe_call(self, server: str, tool: str, outcome: str, seconds: float) -> None:
        """Record one finished call; `outcome` is `ok` or the audit outcome of a failure or refusal."""
        key = (server, tool, outcome)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds a key: resolve once per series
            errors = self.errors.labels(server, tool) if outcome != "ok" else None
            children = (self.calls.labels(server, tool, outcome), self.latency.labels(server, tool), errors)
            self._children[key] = children
        calls, latency, errors = children
        calls.inc()
        latency.observe(seconds)
        if errors is not None:
            errors.inc()

    def observe_refusal(self, server: str, tool: str, reason: str) -> None:
        """Record a call refused by the guard (`permission`, `rate_limit`, `unauthenticated`)."""
        self.refusals.labels(server, tool, reason).inc()

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
