"""OpenTelemetry tracing, off by default: `[telemetry] otlp_endpoint` turns it on for a served process.

What is traced once it is on:

- every inbound MCP message: a SERVER span from the SDK's own middleware (`tools/call k8s_get`,
  `resources/read`...), parented on the trace context a client sends in `_meta` (`traceparent`);
- every backend call under it: HTTP through httpx (Prometheus, Alertmanager, providers, OSV) and
  urllib3 (the Kubernetes and Docker clients) by the OpenTelemetry instrumentations, and each program
  the suite runs (scanners, helm, compose) by `program_span`.

Spans leave the process only through `shared.telemetry_export.RedactingExporter`, which redacts
every string first. Nothing of the OpenTelemetry SDK is imported until tracing is configured;
`program_span` costs one no-op span otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from opentelemetry import trace

if TYPE_CHECKING:
    from shared.settings import TelemetrySettings

__all__ = ["program_span", "start_tracing"]

TRACER: Final = trace.get_tracer("code-mcp")


@contextmanager
def program_span(argv: Sequence[str], *, system: str) -> Iterator[trace.Span]:
    """A CLIENT span around one program run (`system`: "scanner", "helm", "compose"), named after the
    program. Its arguments are never recorded (they hold paths and values from the caller)."""
    program = Path(argv[0]).name if argv else "?"
    attributes = {"code_mcp.backend": system, "process.executable.name": program}
    with TRACER.start_as_current_span(program, kind=trace.SpanKind.CLIENT, attributes=attributes) as span:
        yield span


def start_tracing(settings: TelemetrySettings, *, service: str) -> bool:
    """Install the process's tracer provider and instrument the HTTP clients, when `settings` name an
    OTLP endpoint; False (and nothing imported) when they do not. Spans are batched and flushed when
    the process exits."""
    if settings.otlp_endpoint is None:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from shared.telemetry_export import RedactingExporter

    endpoint = str(settings.otlp_endpoint).rstrip("/") + "/v1/traces"
    headers = {name: value.get_secret_value() for name, value in settings.headers.items()}
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=settings.timeout_s)
    resource = Resource.create({"service.name": settings.service_name or f"code-mcp-{service}"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        BatchSpanProcessor(RedactingExporter(exporter), schedule_delay_millis=settings.export_delay_ms)
    )
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    URLLib3Instrumentor().instrument(tracer_provider=provider)
    return True
