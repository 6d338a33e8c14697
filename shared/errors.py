"""The three error planes every CODE tool speaks.

ToolError (SDK)              expected failure: `is_error=True`, message shown to the model
 └── ToolFailure             ours; the message says what to do next
      ├── InvalidArgument    the model passed something it can fix
      ├── NotFound           the named object does not exist
      ├── PermissionDenied   the caller's role or the policy does not allow it
      ├── RateLimited        a quota is exhausted; carries retry_after_ms
      └── UpstreamUnavailable  the backend (Docker, Kubernetes, Prometheus, a provider) failed
ProtocolError (= MCPError)   the request is invalid whatever the model does
any other exception          a bug: the model sees only "tool failed", the log has the traceback
ConfigError                  raised at startup, never during a call
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError

ProtocolError = MCPError

__all__ = [
    "ConfigError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ProtocolError",
    "RateLimited",
    "ToolFailure",
    "UpstreamUnavailable",
]


class ToolFailure(ToolError):
    """An anticipated tool failure; the message is for the model and says what to do next."""


class InvalidArgument(ToolFailure):
    """An argument is malformed or not allowed; the model can correct it and call again."""


class NotFound(ToolFailure):
    """The named object does not exist."""


class PermissionDenied(ToolFailure):
    """The caller's role or the configured policy does not allow this."""


class UpstreamUnavailable(ToolFailure):
    """The backend the tool drives is unreachable, slow or failing."""


class RateLimited(ToolFailure):
    """A quota is exhausted; retry after `retry_after_ms` milliseconds."""

    def __init__(self, message: str, *, retry_after_ms: int, rule: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms
        self.rule = rule


class ConfigError(Exception):
    """The configuration is invalid; the message names the field and how to fix it."""
