"""`[telemetry]`: a stdio monitoring server traces each query and its Prometheus requests into a real
OTLP receiver (Jaeger); what reaches the collector has passed the suite's redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.monitoring.calls import suite_config
from tests.integration.monitoring.prom_stack import PromStack
from tests.support.connect import Connector
from tests.support.jaeger import Jaeger, traceparent

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PLANTED = "ghp_" + "x7Kq2mVb9RtL4nWp8sYc3DfGh6JkZa1EoUi5"  # a GitHub token's shape, in a probed URL


async def test_a_query_and_its_prometheus_request_are_traced_and_redacted(
    prom_stack: PromStack, tmp_path: Path, jaeger: Jaeger
) -> None:
    conf = suite_config(prom_stack)
    conf["telemetry"] = {"otlp_endpoint": jaeger.otlp, "export_delay_ms": 50, "service_name": "mon-test"}
    trace_id, caller_span, meta = traceparent()
    probe_trace, _, probe_meta = traceparent()
    async with Connector("stdio", tmp_path)("monitoring", conf) as client:
        result = await client.call_tool("prom_query", {"expr": 'up{job="prometheus"}'}, meta=meta)
        assert not result.is_error, result.content
        url = f"{prom_stack.node_exporter}/metrics?access_token={PLANTED}"
        probed = await client.call_tool("health_check", {"urls": [url]}, meta=probe_meta)
        assert not probed.is_error, probed.content
    spans = jaeger.spans(trace_id, until="tools/call prom_query")
    call = next(span for span in spans if span.name == "tools/call prom_query")
    assert call.parent_id == caller_span and call.service == "mon-test"
    requests = [span for span in spans if span.tags.get("otel.scope.name", "").endswith(".httpx")]
    assert requests and all(span.parent_id == call.span_id for span in requests), spans
    assert any("/api/v1/query" in str(span.tags.get("http.url")) for span in requests), requests
    probe = jaeger.spans(probe_trace, until="tools/call health_check")
    urls = [str(span.tags.get("http.url")) for span in probe if "http.url" in span.tags]
    assert any("/metrics?access_token=" in url for url in urls), urls  # the request was traced...
    assert PLANTED not in repr(probe)  # ...and its token never reached the collector
