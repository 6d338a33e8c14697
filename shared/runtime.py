"""What one process shares between its servers: policy, limiter, audit log, metrics, verifier, cursors.

A `Runtime` is built once from the configuration (`Runtime.from_config`) and handed to every
`ServerKit` of the process, so `serve suite` has one limiter, one audit chain, one cursor key and
one `/metrics`. The Redis limiter (and with it the redis client) is imported only when
`[limits] backend = "redis"` selects it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.request_state import RequestStateSecurity

from shared.audit import AuditLog
from shared.auth import BearerVerifier, bearer_identity, identity_from_token, local_identity
from shared.calls import CallRecord
from shared.identity import Identity
from shared.metrics import Metrics
from shared.output import OutputBudget
from shared.paging import CursorCodec
from shared.policy import Policy
from shared.policy_settings import Tier
from shared.ratelimit import CallLimiter, Limiter, QuotaSpec
from shared.settings import SuiteConfig

__all__ = ["Runtime"]


def _limiter(config: SuiteConfig, metrics: Metrics) -> Limiter:
    limits = config.limits
    quotas = {name: QuotaSpec(q.rate, q.burst, q.period_s) for name, q in limits.quotas.items()}
    if limits.backend == "redis":
        from shared.redis_limiter import RedisCallLimiter

        return RedisCallLimiter(
            quotas,
            config.redis,
            fail=limits.fail,
            retry_interval_s=limits.retry_interval_s,
            max_keys=limits.max_keys,
            registry=metrics.registry,
        )
    return CallLimiter(quotas, max_keys=limits.max_keys)


class Runtime:
    """The per-process services the guard, the kit and the runner use."""

    def __init__(
        self,
        config: SuiteConfig,
        *,
        verifier: BearerVerifier | None = None,
        metrics: Metrics | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.config = config
        self.policy = Policy(config.policy)
        self.budget = OutputBudget.from_settings(config.output)
        self.cursors = CursorCodec(config.output.cursor_key())
        self.metrics = metrics if metrics is not None else Metrics()
        self.limiter: Limiter = _limiter(config, self.metrics)
        self.costs: Mapping[str, int] = dict(config.limits.costs)
        self.verifier = verifier if verifier is not None else BearerVerifier.from_settings(config.auth)
        self.audit = audit if audit is not None else AuditLog.from_settings(config.audit)
        self._permits: dict[tuple[str, str], bool] = {}
        self.local_identity = local_identity(config.role)
        self.anonymous_identity = Identity(
            subject="anonymous", role=config.auth.anonymous_role, method="anonymous"
        )

    @classmethod
    def from_config(cls, config: SuiteConfig) -> Runtime:
        """The runtime `config` describes."""
        return cls(config)

    # ------------------------------------------------------------------ for the runner

    @property
    def allow_unauthenticated_loopback(self) -> bool:
        return self.config.auth.allow_unauthenticated_loopback

    @property
    def jwt_issuer(self) -> str | None:
        jwt = self.config.auth.jwt
        return jwt.issuer if jwt is not None else None

    @property
    def required_scopes(self) -> list[str]:
        jwt = self.config.auth.jwt
        return list(jwt.required_scopes) if jwt is not None else []

    # ------------------------------------------------------------------ for the kit and the guard

    def request_state_security(self) -> RequestStateSecurity:
        """How the SDK seals the 2026-07-28 `requestState` a client echoes between rounds (a
        confirmation's answers): under a key derived from the cursor key (so every replica that
        shares `[output] cursor_key_file` reads it), bound to our caller identity."""

        def principal(ctx: ServerRequestContext[Any, Any]) -> str:
            identity = self.identity_for(ctx)
            return f"{identity.method}:{identity.subject}"

        return RequestStateSecurity(keys=[self.cursors.derive("request-state")], bind_principal=principal)

    def tier_for(self, server: str) -> Tier:
        """The highest tool tier registered on `server`."""
        return self.policy.tier_for(server)

    def cost_of(self, tool: str, default: int) -> int:
        """A tool's cost: `[limits.costs]` overrides the server's own figure."""
        return self.costs.get(tool, default)

    def identity_for(self, ctx: ServerRequestContext[Any, Any]) -> Identity:
        """Who sent this request: the bearer token's owner on HTTP, the local user on stdio."""
        identity = bearer_identity()
        if identity is not None:
            return identity
        request = ctx.request
        scope = getattr(request, "scope", None)
        if isinstance(scope, Mapping):
            token = getattr(scope.get("user"), "access_token", None)
            if token is not None:
                return identity_from_token(token)
            return self.anonymous_identity
        return self.local_identity

    def permits(self, identity: Identity, permission: str) -> bool:
        """Whether the identity's role holds `permission` (the policy is immutable: answers are cached)."""
        key = (identity.role, permission)
        allowed = self._permits.get(key)
        if allowed is None:
            allowed = self._permits[key] = self.policy.allows(identity.role, permission)
        return allowed

    def record(self, call: CallRecord) -> None:
        """Count the call and queue its audit line.

        The audit writer thread writes, flushes and fsyncs it; the call never waits on the disk.
        """
        self.metrics.observe_call(call.server, call.tool, call.outcome, call.latency_s)
        if self.audit is not None:
            self.audit.record(call)

    async def open(self) -> None:
        """Open the audit log (off the event loop); idempotent."""
        if self.audit is not None:
            await self.audit.open()

    async def aclose(self) -> None:
        """Flush and close the audit log; close the limiter's connections."""
        await self.limiter.aclose()
        if self.audit is not None:
            await self.audit.aclose()
