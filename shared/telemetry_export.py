"""The only way spans leave a traced process: a copy of each with every string redacted
(`shared.redaction`), so a token in a URL, an error message or a span name never reaches the
collector. Imported only once `[telemetry]` turns tracing on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from shared.redaction import redact_text

__all__ = ["RedactingExporter"]


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, tuple | list) and value and isinstance(value[0], str):
        return tuple(redact_text(item) for item in value)
    return value


def _redacted_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: _redacted(value) for key, value in (attributes or {}).items()}


class RedactingExporter(SpanExporter):
    """Wraps the OTLP exporter: spans are copied with every string redacted before they are sent."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self._clean(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    @staticmethod
    def _clean(span: ReadableSpan) -> ReadableSpan:
        status = span.status
        if status.description:
            status = Status(status.status_code, redact_text(status.description))
        events = [Event(e.name, _redacted_attributes(e.attributes), e.timestamp) for e in span.events]
        return ReadableSpan(
            name=redact_text(span.name),
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=_redacted_attributes(span.attributes),
            events=events,
            links=span.links,
            kind=span.kind,
            instrumentation_scope=span.instrumentation_scope,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
        )
