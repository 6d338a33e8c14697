"""`[admission]`: which Pod Security Standards level applies where, and the three allowlists.

Levels by role: every role but admin runs at `pod_security` (default `restricted`), or at the
level its namespace names in `namespaces`, but never below `baseline`: a namespace set to
`privileged` lets only the admin role run privileged pods there, and gives everyone else
`baseline`. The admin role runs at `admin_pod_security` (default `privileged`: unchecked), or at
its namespace's level, which may raise it (a namespace set to `restricted` binds admin too).
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.admission.pod_security import Level

__all__ = ["AdmissionSettings"]

_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN: Final = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_KIND: Final = re.compile(r"[A-Z][A-Za-z0-9]{0,62}(\.[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?")


class AdmissionSettings(BaseModel):
    """`[admission]`: the checks every object passes before a write tool sends it to a cluster."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pod_security: Level = Field(
        default=Level.RESTRICTED,
        description="Pod Security Standards level for every role but admin, where `namespaces` does not "
        "say otherwise: 'restricted' (default) or 'baseline'. 'privileged' is not accepted here: only the "
        "admin role ever runs unchecked pods.",
    )
    admin_pod_security: Level = Field(
        default=Level.PRIVILEGED,
        description="Pod Security Standards level for the admin role, where `namespaces` does not say "
        "otherwise: 'privileged' (default: not checked), 'baseline' or 'restricted'.",
    )
    namespaces: dict[str, Level] = Field(
        default_factory=dict,
        description="Per-namespace level, for every role: e.g. {team-a = 'baseline', prod = 'restricted'}. "
        "A namespace set to 'privileged' admits privileged pods from the admin role only; other roles get "
        "'baseline' there.",
    )
    service_accounts: list[str] = Field(
        default_factory=list,
        description="Service accounts pods of non-admin roles may run as, besides 'default': 'name' (in any "
        "namespace) or 'namespace/name'. Empty (default): only the namespace's default service account.",
    )
    cluster_kinds: list[str] = Field(
        default_factory=list,
        description="Cluster-scoped kinds non-admin roles may create or change: 'Kind' (any API group) or "
        "'Kind.group' (e.g. 'IngressClass.networking.k8s.io'). Empty (default): cluster-scoped objects are "
        "for the admin role only.",
    )

    @field_validator("pod_security")
    @classmethod
    def _not_privileged(cls, level: Level) -> Level:
        if level is Level.PRIVILEGED:
            raise ValueError(
                "'privileged' would apply to non-admin roles, which never run below 'baseline': use "
                "'baseline', or set a namespace to 'privileged' in `namespaces` for the admin role"
            )
        return level

    @field_validator("namespaces")
    @classmethod
    def _valid_namespaces(cls, namespaces: dict[str, Level]) -> dict[str, Level]:
        for name in namespaces:
            if not _LABEL.fullmatch(name):
                raise ValueError(
                    f"namespace {name[:80]!r} is not a Kubernetes namespace name: at most 63 lowercase "
                    "letters, digits and '-', starting and ending with a letter or digit"
                )
        return namespaces

    @field_validator("service_accounts")
    @classmethod
    def _valid_service_accounts(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            namespace, slash, name = entry.rpartition("/")
            if (slash and not _LABEL.fullmatch(namespace)) or not _SUBDOMAIN.fullmatch(name):
                raise ValueError(
                    f"service account {entry[:80]!r} must be 'name' or 'namespace/name' (lowercase "
                    "letters, digits, '-' and '.'; the namespace without '.')"
                )
        return entries

    @field_validator("cluster_kinds")
    @classmethod
    def _valid_kinds(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if not _KIND.fullmatch(entry):
                raise ValueError(
                    f"cluster kind {entry[:80]!r} must be a Kubernetes kind such as 'IngressClass' or "
                    "'IngressClass.networking.k8s.io' (CamelCase kind, optional lowercase API group)"
                )
        return entries

    def level_for(self, namespace: str | None, *, is_admin: bool) -> Level:
        """The level a pod in `namespace` (None: cluster-scoped owner) is checked at."""
        configured = self.namespaces.get(namespace) if namespace is not None else None
        if is_admin:
            return configured if configured is not None else self.admin_pod_security
        level = configured if configured is not None else self.pod_security
        return Level.BASELINE if level is Level.PRIVILEGED else level
