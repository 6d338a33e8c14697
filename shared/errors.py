"""The error planes every CODE tool speaks. Plain exceptions: importing this never loads `mcp`.

ToolFailure                  expected failure: the server kit turns it into `is_error=True` with the
 │                           message shown to the model and a structured refusal (`reason`)
 ├── InvalidArgument         the model passed something it can fix
 ├── NotFound                the named object does not exist
 ├── PermissionDenied        the caller's role or the policy does not allow it (audited as `denied`)
 ├── RateLimited             a quota is exhausted; carries retry_after_ms (audited as `rate_limited`)
 └── UpstreamUnavailable     the backend (Docker, Kubernetes, Prometheus, a provider) failed
mcp's MCPError               a protocol error: the request is invalid whatever the model does
any other exception          a bug: the model sees only "tool failed", the log has the traceback
ConfigError                  raised at startup, never during a call

Domain modules (`*_ops.py`) raise these classes directly; the server kit maps them by class
(`shared.results`), so no tool and no server translates errors by hand.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ConfigError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ToolFailure",
    "UpstreamUnavailable",
]


class ToolFailure(Exception):
    """An anticipated tool failure; the message is for the model and says what to do next."""

    reason: ClassVar[str] = "tool_error"


class InvalidArgument(ToolFailure):
    """An argument is malformed or not allowed; the model can correct it and call again."""

    reason = "invalid_argument"


class NotFound(ToolFailure):
    """The named object does not exist."""

    reason = "not_found"


class PermissionDenied(ToolFailure):
    """The caller's role or the configured policy does not allow this."""

    reason = "permission_denied"


class UpstreamUnavailable(ToolFailure):
    """The backend the tool drives is unreachable, slow or failing."""

    reason = "upstream_unavailable"


class RateLimited(ToolFailure):
    """A quota is exhausted; retry after `retry_after_ms` milliseconds."""

    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after_ms: int, rule: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms
        self.rule = rule


class ConfigError(Exception):
    """The configuration is invalid; the message names the field and how to fix it."""
