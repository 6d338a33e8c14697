"""The caller's own identity at the cluster: Kubernetes impersonation for each authenticated caller.

Over HTTP many people share one server and its kubeconfig. With `[deployment.impersonation]`
enabled, every Kubernetes request of a call by an API-key or JWT caller carries
`Impersonate-User` (and `Impersonate-Group`) headers naming that caller, so the cluster's own RBAC
applies per person on top of this server's policy. The kubeconfig's user must be allowed to
impersonate (verb `impersonate` on users and groups).

The mapping is the operator's: `users` names the Kubernetes user of a subject, else the user is
`user_prefix + subject`; groups come from `role_groups` (by the caller's role), one group per scope when
`scope_group_prefix` is set, and one per group the identity provider vouches for (`[auth.jwt]
groups_claim`) when `group_prefix` is set. A subject is data from a token, not a name to
trust: one that holds a control character, a comma, or would land in the reserved `system:` space
is refused, never passed through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import PermissionDenied
from shared.identity import Identity

__all__ = ["Impersonation", "ImpersonationSettings", "impersonation_for"]

_NAME: Final = re.compile(r"[A-Za-z0-9@._:+/=-]{1,253}")
_RESERVED: Final = "system:"
Method = Literal["api_key", "jwt", "local", "anonymous"]
_DEFAULT_METHODS: Final[tuple[Method, ...]] = ("api_key", "jwt")


@dataclass(frozen=True, slots=True)
class Impersonation:
    """Who a request acts as at the cluster."""

    user: str
    groups: tuple[str, ...] = ()


class ImpersonationSettings(BaseModel):
    """`[deployment.impersonation]`: map callers to Kubernetes users and groups (off by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Impersonate each caller at the cluster")
    methods: list[Method] = Field(
        default_factory=lambda: list(_DEFAULT_METHODS),
        description="How a caller must have authenticated to be impersonated; others use the kubeconfig's "
        "own user (stdio callers are the machine's user)",
    )
    user_prefix: str = Field(
        default="code:", description="Kubernetes user = user_prefix + subject (unless `users` names it)"
    )
    users: dict[str, str] = Field(
        default_factory=dict, description="subject (API key id or JWT sub) -> Kubernetes user name"
    )
    role_groups: dict[str, list[str]] = Field(
        default_factory=dict, description="role -> Kubernetes groups its callers are impersonated with"
    )
    scope_group_prefix: str | None = Field(
        default=None, description="When set, each of the caller's scopes becomes a group prefix + scope"
    )
    group_prefix: str | None = Field(
        default=None,
        description="When set, each group the identity provider vouches for ([auth.jwt] groups_claim) "
        "becomes a Kubernetes group prefix + group",
    )

    @field_validator("user_prefix", "scope_group_prefix", "group_prefix")
    @classmethod
    def _safe_prefix(cls, value: str | None) -> str | None:
        if value and not _NAME.fullmatch(value):
            raise ValueError(f"prefix {value!r} may hold letters, digits and @._:+/=- only")
        if value and value.startswith(_RESERVED):
            raise ValueError(f"prefix {value!r} would put callers in Kubernetes' reserved 'system:' names")
        return value

    @field_validator("users")
    @classmethod
    def _safe_users(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            if not _NAME.fullmatch(name):
                raise ValueError(f"Kubernetes user {name!r} may hold letters, digits and @._:+/=- only")
        return value

    @field_validator("role_groups")
    @classmethod
    def _safe_groups(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for groups in value.values():
            for group in groups:
                if not _NAME.fullmatch(group):
                    raise ValueError(f"Kubernetes group {group!r} may hold letters, digits and @._:+/=- only")
        return value


def impersonation_for(identity: Identity | None, settings: ImpersonationSettings) -> Impersonation | None:
    """Who `identity` acts as at the cluster (None: the kubeconfig's own user).

    Raises:
        PermissionDenied: the caller's subject or scopes cannot be named safely at the cluster.
    """
    if not settings.enabled or identity is None or identity.method not in settings.methods:
        return None
    if not identity.subject:
        raise PermissionDenied("the caller has no subject to be named at the cluster; refused")
    user = settings.users.get(identity.subject)
    if user is None:
        user = _checked(settings.user_prefix + identity.subject, what="subject", shown=identity.subject)
    groups = list(settings.role_groups.get(identity.role, []))
    if settings.scope_group_prefix is not None:
        groups += [
            _checked(settings.scope_group_prefix + scope, what="scope", shown=scope)
            for scope in sorted(identity.scopes)
        ]
    if settings.group_prefix is not None:
        groups += [
            _checked(settings.group_prefix + group, what="group", shown=group)
            for group in sorted(identity.groups)
        ]
    return Impersonation(user=user, groups=tuple(dict.fromkeys(groups)))


def _checked(name: str, *, what: str, shown: str) -> str:
    if not _NAME.fullmatch(name):
        raise PermissionDenied(
            f"the caller's {what} {shown[:60]!r} cannot be named at the cluster (only letters, digits and "
            "@._:+/=- are passed to Kubernetes impersonation); ask an operator to map it in "
            "[deployment.impersonation] users"
        )
    if name.startswith(_RESERVED):
        raise PermissionDenied(
            f"the caller's {what} {shown[:60]!r} would impersonate a reserved Kubernetes 'system:' name; "
            "refused"
        )
    return name
