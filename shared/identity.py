"""Who is calling: the identity every tool call runs as."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AuthMethod", "Identity"]

AuthMethod = Literal["local", "api_key", "jwt", "anonymous"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller of a tool: a subject, the role the policy knows it by, and how it proved it."""

    subject: str
    role: str
    method: AuthMethod
    scopes: frozenset[str] = field(default_factory=frozenset)
    servers: frozenset[str] | None = None
    """The servers this credential opens (None: all of them)."""
    groups: frozenset[str] = field(default_factory=frozenset)
    """Groups the identity provider vouches for (a JWT's `[auth.jwt] groups_claim`)."""

    def may_use(self, server: str) -> bool:
        """Whether this credential opens `server`."""
        return self.servers is None or server in self.servers
