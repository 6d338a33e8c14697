"""`shared.telemetry`: off unless configured, and nothing leaves a traced process unredacted."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from pydantic import ValidationError

from shared.settings import SuiteConfig, TelemetrySettings
from shared.telemetry import program_span, start_tracing
from shared.telemetry_export import RedactingExporter

TOKEN = "ghp_" + "x7Kq2mVb9RtL4nWp8sYc3DfGh6JkZa1EoUi5"


def _recorded() -> tuple[trace.Tracer, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(memory)))
    return provider.get_tracer("test"), memory


def test_off_by_default_and_nothing_installed() -> None:
    before = trace.get_tracer_provider()
    assert SuiteConfig().telemetry.otlp_endpoint is None
    assert start_tracing(SuiteConfig().telemetry, service="deployment") is False
    assert trace.get_tracer_provider() is before


def test_every_string_of_a_span_is_redacted_before_export() -> None:
    tracer, memory = _recorded()
    with tracer.start_as_current_span(f"GET /x?token={TOKEN}") as span:
        span.set_attribute("http.url", f"https://api.example/v1?access_token={TOKEN}")
        span.set_attribute("tags", ["plain", f"Bearer {TOKEN}"])
        span.set_attribute("http.status_code", 200)
        span.add_event("exception", {"exception.message": f"refused {TOKEN}"})
        span.set_status(Status(StatusCode.ERROR, f"upstream said {TOKEN}"))
    (exported,) = memory.get_finished_spans()
    assert TOKEN not in repr(exported.to_json())
    assert exported.attributes is not None
    assert exported.attributes["http.status_code"] == 200  # numbers pass unchanged
    assert str(exported.attributes["http.url"]).startswith("https://api.example/v1?access_token=")
    assert exported.attributes["tags"][0] == "plain"
    assert exported.status.status_code is StatusCode.ERROR and "upstream said" in str(
        exported.status.description
    )
    assert exported.context == span.get_span_context()  # the same span, only its strings changed


def test_a_program_span_is_a_no_op_until_tracing_is_started() -> None:
    tracer, memory = _recorded()
    argv = ["/usr/bin/helm", "upgrade", "--set", f"password={TOKEN}"]
    with tracer.start_as_current_span("call"), program_span(argv, system="helm") as span:
        assert not span.is_recording()  # the global provider is still the API's no-op one
    assert [s.name for s in memory.get_finished_spans()] == ["call"]


def test_a_program_span_names_the_program_never_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer, memory = _recorded()
    monkeypatch.setattr("shared.telemetry.TRACER", tracer)
    with program_span(["/opt/scanners/bin/semgrep", "scan", "/secret/project"], system="scanner"):
        pass
    (span,) = memory.get_finished_spans()
    assert span.name == "semgrep" and span.kind is trace.SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        "code_mcp.backend": "scanner",
        "process.executable.name": "semgrep",
    }


def test_settings_refuse_what_is_not_an_http_collector() -> None:
    with pytest.raises(ValidationError):
        TelemetrySettings.model_validate({"otlp_endpoint": "file:///etc/passwd"})
    with pytest.raises(ValidationError):
        TelemetrySettings.model_validate({"otlp_endpoint": "http://127.0.0.1:4318", "sampling": 1})
    settings = TelemetrySettings.model_validate(
        {"otlp_endpoint": "http://127.0.0.1:4318", "headers": {"x-api-key": TOKEN}}
    )
    assert TOKEN not in repr(settings)
