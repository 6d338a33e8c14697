"""`[telemetry]`: each scanner a scan runs is a span under the call, into a real OTLP receiver."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.integration.security_scan.test_sarif_export import _config, _plant
from tests.support.connect import Connector
from tests.support.jaeger import Jaeger, traceparent

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_each_scanner_run_is_a_span_under_the_call(
    tmp_path: Path, shared_cache: Path, scanners_installed: None, jaeger: Jaeger
) -> None:
    project = _plant(tmp_path)
    conf = _config(shared_cache, tmp_path)
    conf["telemetry"] = {"otlp_endpoint": jaeger.otlp, "export_delay_ms": 50}
    trace_id, _, meta = traceparent()
    async with Connector("stdio", tmp_path)("security-scan", conf) as client:
        with anyio.fail_after(300):
            args = {"path": str(project), "scanners": ["bandit"]}
            result = await client.call_tool("scan_path", args, meta=meta)
        assert not result.is_error, result.content
    spans = jaeger.spans(trace_id, until="tools/call scan_path")
    call = next(span for span in spans if span.name == "tools/call scan_path")
    runs = [span for span in spans if span.tags.get("code_mcp.backend") == "scanner"]
    assert {span.name for span in runs} >= {"bandit"}, [s.name for s in spans]
    assert all(span.parent_id == call.span_id for span in runs)
    assert str(project) not in repr(runs)  # a program's arguments are never recorded
