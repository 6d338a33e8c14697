"""`[telemetry]`: a stdio deployment server traces each call and its Kubernetes requests into a real
OTLP receiver (Jaeger), parented on the trace context the client sent in `_meta`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.test_k8s_server import config
from tests.support.connect import Connector
from tests.support.jaeger import Jaeger, traceparent

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_a_call_and_its_kubernetes_requests_join_the_callers_trace(
    cluster: KubeCluster, namespace: str, tmp_path: Path, jaeger: Jaeger
) -> None:
    conf = config(cluster, tmp_path, tier="read")
    conf["telemetry"] = {"otlp_endpoint": jaeger.otlp, "export_delay_ms": 50}
    trace_id, caller_span, meta = traceparent()
    async with Connector("stdio", tmp_path)("deployment", conf) as client:
        arguments = {"kind": "ServiceAccount", "name": "default", "namespace": namespace}
        result = await client.call_tool("k8s_get", arguments, meta=meta)
        assert not result.is_error, result.content
    spans = jaeger.spans(trace_id, until="tools/call k8s_get")
    call = next(span for span in spans if span.name == "tools/call k8s_get")
    assert call.parent_id == caller_span and call.service == "code-mcp-deployment"
    assert call.tags["gen_ai.tool.name"] == "k8s_get"
    backend = [span for span in spans if span.parent_id == call.span_id and span.name == "GET"]
    assert backend, [(s.name, s.parent_id) for s in spans]  # the apiserver request, under the call
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
    assert any(path in str(span.tags.get("http.url")) for span in backend), [s.tags for s in backend]
