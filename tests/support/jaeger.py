"""A real OTLP receiver on loopback: Jaeger v2 (an OpenTelemetry Collector distribution) with
in-memory storage, built by scripts/setup.d/67-jaeger.sh. Spans are sent to its OTLP/HTTP port and
read back through its query API, so a test sees exactly what an operator's collector would store."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.services import cache_dir, free_port, stop_process, unavailable, wait_until

VERSION = "v1.75.0"

CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memory
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memory:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
exporters:
  jaeger_storage_exporter:
    trace_storage: memory
"""


@dataclass(frozen=True)
class Span:
    """One stored span, as the query API returns it."""

    name: str
    span_id: str
    parent_id: str | None
    service: str
    tags: dict[str, Any]


@dataclass(frozen=True)
class Jaeger:
    otlp: str
    query: str

    def spans(self, trace_id: str, *, until: str, timeout: float = 30) -> list[Span]:
        """The spans of one trace, once a span named `until` has arrived (exports are batched)."""
        found: list[Span] = []

        def arrived() -> bool:
            found[:] = self._read(trace_id)
            return any(span.name == until for span in found)

        try:
            wait_until(arrived, timeout=timeout, what=f"span {until!r} of trace {trace_id}", interval=0.2)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; stored: {[s.name for s in found]}") from None
        return found

    def _read(self, trace_id: str) -> list[Span]:
        response = httpx.get(f"{self.query}/api/traces/{trace_id}", timeout=5)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        spans: list[Span] = []
        for stored in response.json()["data"]:
            services = {key: proc["serviceName"] for key, proc in stored["processes"].items()}
            for span in stored["spans"]:
                refs = span.get("references", [])
                parents = [ref["spanID"] for ref in refs if ref["refType"] == "CHILD_OF"]
                tags = {tag["key"]: tag["value"] for tag in span.get("tags", [])}
                parent = parents[0] if parents else None
                service = services[span["processID"]]
                spans.append(Span(span["operationName"], span["spanID"], parent, service, tags))
        return spans


def jaeger_binary() -> Path:
    cache = cache_dir()
    binary = cache / "jaeger" / VERSION / "bin" / "jaeger"
    if not binary.is_file():
        unavailable(f"jaeger {VERSION} is not built (run scripts/setup.d/67-jaeger.sh)")
    return binary


@contextmanager
def jaeger_receiver(workdir: Path) -> Iterator[Jaeger]:
    """Run Jaeger on free loopback ports until the block ends."""
    otlp, query, query_grpc = free_port(), free_port(), free_port()
    config = workdir / "jaeger.yaml"
    config.write_text(CONFIG.format(otlp=otlp, query=query, query_grpc=query_grpc))
    log = workdir / "jaeger.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(jaeger_binary()), "--config", f"file:{config}"], stdout=out, stderr=subprocess.STDOUT
        )
    running = Jaeger(otlp=f"http://127.0.0.1:{otlp}", query=f"http://127.0.0.1:{query}")
    try:
        try:
            wait_until(
                lambda: (
                    httpx.get(f"{running.query}/api/services", timeout=1).status_code == 200
                    and httpx.post(f"{running.otlp}/v1/traces", json={}, timeout=1).status_code < 500
                ),
                timeout=30,
                what="jaeger",
            )
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}; log:\n{log.read_text()[-2000:]}") from exc
        yield running
    finally:
        stop_process(proc)


def traceparent() -> tuple[str, str, dict[str, str]]:
    """A fresh W3C trace context, as a client would send it in `_meta`: (trace id, span id, meta)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, {"traceparent": f"00-{trace_id}-{span_id}-01"}
