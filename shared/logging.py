"""structlog JSON lines to stderr, with a request id from contextvars and secrets redacted.

stdout of a stdio server carries JSON-RPC only, so every log line — ours and the standard
library's (the MCP SDK, uvicorn, httpx) — goes to stderr through the same JSON renderer.

    configure_logging("INFO")
    log = get_logger(__name__)
    with request_context(tool="prom_query"):      # binds a fresh request_id
        log.info("query", expr=expr)               # {"event": "query", "request_id": "…", …}
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import IO, Any, Final, cast

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from shared.redaction import redact_data, redact_text

__all__ = [
    "configure_logging",
    "current_request_id",
    "get_logger",
    "new_request_id",
    "redact_processor",
    "request_context",
]

_REQUEST_ID: Final = "request_id"
_KEEP: Final = frozenset({"event", "level", "timestamp", "logger", _REQUEST_ID})


def new_request_id() -> str:
    """A fresh, unguessable request id (32 hex digits)."""
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The request id bound in this context, if any."""
    value = structlog.contextvars.get_contextvars().get(_REQUEST_ID)
    return str(value) if value is not None else None


@contextmanager
def request_context(request_id: str | None = None, **values: Any) -> Iterator[str]:
    """Bind a request id (a new one unless given) and `values` to every log line in this context.

    Works across `await`s and tasks started inside (contextvars); restores the outer values on exit.
    """
    rid = request_id or new_request_id()
    with structlog.contextvars.bound_contextvars(**{_REQUEST_ID: rid}, **values):
        yield rid


def redact_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact secrets in every value (and drop secret-named fields' values)."""
    redacted: MutableMapping[str, Any] = {}
    for key, value in event_dict.items():
        if key in _KEEP:
            redacted[key] = redact_text(value) if isinstance(value, str) else value
        else:
            redacted[key] = redact_data({key: value})[key] if not isinstance(value, BaseException) else value
    return dict(redacted)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(level: str | int = "INFO", *, stream: IO[str] | None = None) -> None:
    """Send all logging (structlog and the standard library) as JSON lines to `stream` (stderr).

    Idempotent: calling it again replaces the previous setup (e.g. with another level).
    """
    out = stream if stream is not None else sys.stderr
    numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    final: list[Processor] = [
        structlog.processors.format_exc_info,
        redact_processor,
        structlog.processors.JSONRenderer(sort_keys=False, default=str),
    ]
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.set_name("code-mcp")
    root = logging.getLogger()
    console = (sys.stdout, sys.__stdout__, sys.stderr, sys.__stderr__)
    for old in list(root.handlers):
        # Our previous handler, and plain console handlers (basicConfig): replaced by JSON on stderr.
        if old.get_name() == "code-mcp" or getattr(old, "stream", None) in console:
            root.removeHandler(old)
    for name in list(logging.root.manager.loggerDict):
        named = logging.getLogger(name)
        for old in list(named.handlers):
            if getattr(old, "stream", None) in (sys.stdout, sys.__stdout__):
                named.removeHandler(old)  # stdout belongs to the JSON-RPC stream of a stdio server
    root.addHandler(handler)
    root.setLevel(numeric)


def get_logger(name: str | None = None, **initial: Any) -> FilteringBoundLogger:
    """A structlog logger (bound to `initial` values) that writes through `configure_logging`'s setup."""
    return cast(FilteringBoundLogger, structlog.get_logger(name, **initial))
