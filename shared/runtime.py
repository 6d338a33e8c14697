"""What one process shares between its servers: policy, limiter, audit log, metrics, verifier.

A `Runtime` is built once from the configuration (`Runtime.from_config`) and handed to every
`ServerKit` of the process, so `serve suite` has one limiter, one audit chain and one `/metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.context import ServerRequestContext

from shared.audit import AuditLog, Outcome
from shared.auth import BearerVerifier, bearer_identity, identity_from_token, local_identity
from shared.config import SuiteConfig
from shared.identity import Identity
from shared.metrics import Metrics
from shared.output import OutputBudget
from shared.policy import Policy, Tier
from shared.ratelimit import CallLimiter, QuotaSpec
from shared.redis_limiter import RedisCallLimiter

__all__ = ["Runtime"]


class Runtime:
    """The per-process services the guard and the runner use."""

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
        self.metrics = metrics if metrics is not None else Metrics()
        quotas = {name: QuotaSpec(q.rate, q.burst, q.period_s) for name, q in config.limits.quotas.items()}
        self.limiter: CallLimiter | RedisCallLimiter
        if config.limits.backend == "redis":
            self.limiter = RedisCallLimiter(
                quotas, config.limits.redis, max_keys=config.limits.max_keys, registry=self.metrics.registry
            )
        else:
            self.limiter = CallLimiter(quotas, max_keys=config.limits.max_keys)
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

    def record_call(
        self,
        *,
        server: str,
        tool: str,
        identity: Identity,
        arguments: Mapping[str, Any],
        outcome: Outcome,
        latency_s: float,
        request_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Count the call and queue its audit line.

        The audit writer thread writes, flushes and fsyncs it; the call never waits on the disk.
        """
        self.metrics.observe_call(server, tool, outcome, latency_s)
        if self.audit is not None:
            self.audit.record(
                identity=identity,
                server=server,
                tool=tool,
                arguments=arguments,
                outcome=outcome,
                latency_s=latency_s,
                request_id=request_id,
                detail=detail,
            )

    async def open(self) -> None:
        """Open the audit log (off the event loop); idempotent."""
        if self.audit is not None:
            await self.audit.open()

    async def aclose(self) -> None:
        """Flush and close the audit log; close the Redis connections."""
        if isinstance(self.limiter, RedisCallLimiter):
            await self.limiter.aclose()
        if self.audit is not None:
            await self.audit.aclose()
