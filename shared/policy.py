"""Who may do what: roles → permissions, tool tiers per server, and the argument rules.

Refuse by default: write and admin tools are not registered unless `[policy.tiers]` raises the
server's tier; no Kubernetes context but the current one, no scan root, no host mount and no URL
are allowed until configured; protected namespaces are readable but never writable; the kinds
in `k8s_denied_kinds` (RBAC, webhooks, CRDs, ...) are for the admin role only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import validation
from shared.errors import InvalidArgument, PermissionDenied
from shared.identity import Identity

__all__ = [
    "DEFAULT_DENIED_KINDS",
    "DEFAULT_READ_DENIED_KINDS",
    "DEFAULT_ROLES",
    "PERMISSIONS",
    "Policy",
    "PolicySettings",
    "Tier",
]


class Tier(StrEnum):
    """How much a tool can change: `READ < WRITE < ADMIN` (also against the strings "read", ...)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]

    # A StrEnum would otherwise order alphabetically ("admin" < "read"): compare by rank, and
    # refuse strings that are not tiers rather than fall back to str ordering.
    def __lt__(self, other: object) -> bool:
        return self.rank < _rank(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank(other)


def _rank(other: object) -> int:
    if isinstance(other, str):
        try:
            return _TIER_RANK[Tier(other)]
        except ValueError:
            pass
    raise TypeError(f"a Tier compares only with another tier ('read', 'write', 'admin'), not {other!r}")


_TIER_RANK: Final = {Tier.READ: 0, Tier.WRITE: 1, Tier.ADMIN: 2}

#: Every permission a CODE server checks. `<server>:*` and `*` are patterns over these.
PERMISSIONS: Final = frozenset(
    {
        "deployment:read",
        "deployment:write",
        "deployment:admin",
        "experts:ask",
        "scan:run",
        "monitoring:read",
    }
)

_READS: Final = sorted(p for p in PERMISSIONS if p.endswith(":read"))

DEFAULT_ROLES: Final[Mapping[str, tuple[str, ...]]] = {
    "viewer": (*_READS, "experts:ask", "scan:run"),
    "operator": (*_READS, "experts:ask", "scan:run", "deployment:write"),
    "admin": ("*",),
}

_RBAC: Final = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
DEFAULT_DENIED_KINDS: Final[tuple[str, ...]] = (
    *_RBAC,
    "Secret",
    "ServiceAccount",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "PodSecurityPolicy",
    "CertificateSigningRequest",
    "APIService",
    "Node",
    "Namespace",
    "PriorityClass",
    "RuntimeClass",
    "StorageClass",
    "PersistentVolume",
)
"""Kinds only the admin role may create, change or delete."""

DEFAULT_READ_DENIED_KINDS: Final[tuple[str, ...]] = ("Secret",)
"""Kinds only the admin role may even read (their data is credentials)."""

DEFAULT_PROTECTED_NAMESPACES: Final = ("kube-system", "kube-public", "kube-node-lease")

_KIND_ALIASES: Final = {
    "crd": "customresourcedefinition",
    "crds": "customresourcedefinition",
    "psp": "podsecuritypolicy",
    "csr": "certificatesigningrequest",
    "sa": "serviceaccount",
    "no": "node",
    "ns": "namespace",
    "pc": "priorityclass",
    "sc": "storageclass",
    "pv": "persistentvolume",
}
_KIND: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*(\.[a-z0-9.-]+)?(/[a-z0-9.]+)?")
_PERMISSION: Final = re.compile(r"\*|[a-z][a-z0-9_]*:(\*|[a-z][a-z0-9_]*)")


def _kind_key(kind: str) -> str:
    """`Secrets`, `secret`, `secrets.v1`, `ClusterRoleBinding.rbac.authorization.k8s.io` → one key."""
    base = kind.split("/", 1)[0].split(".", 1)[0].lower()
    base = _KIND_ALIASES.get(base, base)
    if base.endswith("ies"):
        return base[:-3] + "y"
    if base.endswith("sses"):
        return base[:-2]
    if base.endswith("s") and not base.endswith("ss"):
        return base[:-1]
    return base


class PolicySettings(BaseModel):
    """`[policy]`: roles, tiers and the argument rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Extra roles or replacements for viewer/operator/admin: role -> permissions "
        "('deployment:read', 'deployment:*', '*').",
    )
    tiers: dict[str, Tier] = Field(
        default_factory=dict,
        description="Highest tool tier registered per server (default 'read'): e.g. deployment = 'write'.",
    )
    k8s_namespaces: list[str] = Field(
        default_factory=lambda: ["default"], description="Namespaces tools may touch; ['*'] = any."
    )
    k8s_protected_namespaces: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROTECTED_NAMESPACES),
        description="Namespaces that are readable (if allowed above) but never writable.",
    )
    k8s_contexts: list[str] = Field(
        default_factory=list,
        description="kubeconfig contexts a tool may name; the current context is always allowed.",
    )
    k8s_denied_kinds: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DENIED_KINDS),
        description="Kinds only the admin role may change.",
    )
    k8s_read_denied_kinds: list[str] = Field(
        default_factory=lambda: list(DEFAULT_READ_DENIED_KINDS),
        description="Kinds only the admin role may read.",
    )
    scan_roots: list[Path] = Field(default_factory=list, description="Folders the scanners may read.")
    docker_mount_roots: list[Path] = Field(
        default_factory=list, description="Host folders containers may mount; empty = no host mounts."
    )
    url_allowlist: list[str] = Field(
        default_factory=list,
        description="URLs tools may fetch: 'scheme://host[:port][/path]'; host '*' or '*.domain' for "
        "public hosts; loopback/private addresses only when named exactly.",
    )

    @field_validator("roles")
    @classmethod
    def _known_permissions(cls, roles: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, perms in roles.items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", role):
                raise ValueError(f"role name {role!r} must be lowercase letters, digits, '_' or '-'")
            for perm in perms:
                if not _PERMISSION.fullmatch(perm):
                    raise ValueError(f"role {role!r}: permission {perm!r} must look like 'server:action'")
                if "*" not in perm and perm not in PERMISSIONS:
                    known = ", ".join(sorted(PERMISSIONS))
                    raise ValueError(f"role {role!r}: unknown permission {perm!r} (known: {known})")
        return roles

    @field_validator("url_allowlist")
    @classmethod
    def _valid_urls(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            validation.UrlRule.parse(entry)
        return entries

    @field_validator("k8s_namespaces", "k8s_protected_namespaces")
    @classmethod
    def _valid_namespaces(cls, names: list[str]) -> list[str]:
        for name in names:
            if name != "*":
                try:
                    validation.k8s_label(name, what="namespace")
                except InvalidArgument as exc:
                    raise ValueError(str(exc)) from None
        return names


class Policy:
    """The configured policy, asked by the guard (permissions) and by tools (argument rules)."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()
        roles = {name: frozenset(perms) for name, perms in DEFAULT_ROLES.items()}
        roles.update({name: frozenset(perms) for name, perms in self.settings.roles.items()})
        self._roles: dict[str, frozenset[str]] = roles
        self._url_rules = [validation.UrlRule.parse(entry) for entry in self.settings.url_allowlist]
        self._denied = {_kind_key(k) for k in self.settings.k8s_denied_kinds}
        self._read_denied = {_kind_key(k) for k in self.settings.k8s_read_denied_kinds}

    # ------------------------------------------------------------------ roles and tiers

    @property
    def roles(self) -> frozenset[str]:
        """The names of every known role."""
        return frozenset(self._roles)

    def permissions(self, role: str) -> frozenset[str]:
        """Every concrete permission `role` holds (patterns expanded); empty for an unknown role."""
        granted = self._roles.get(role, frozenset())
        return frozenset(p for p in PERMISSIONS if _grants(granted, p))

    def allows(self, role: str, permission: str) -> bool:
        """Whether `role` holds `permission`."""
        return _grants(self._roles.get(role, frozenset()), permission)

    def require(self, identity: Identity, permission: str) -> None:
        """Raise `PermissionDenied` naming the permission and the role unless the identity holds it."""
        if not self.allows(identity.role, permission):
            raise PermissionDenied(
                f"permission {permission!r} is required and role {identity.role!r} does not have it; "
                "ask an operator for a role that grants it"
            )

    def tier_for(self, server: str) -> Tier:
        """The highest tool tier registered for `server` (READ unless configured)."""
        return self.settings.tiers.get(server, Tier.READ)

    def registers(self, server: str, tier: Tier) -> bool:
        """Whether a tool of `tier` is registered for `server`."""
        return tier <= self.tier_for(server)

    # ------------------------------------------------------------------ argument rules

    def check_namespace(self, namespace: str, *, write: bool) -> str:
        """Require an allowed namespace; protected namespaces are readable, never writable."""
        ns = validation.k8s_label(namespace, what="namespace")
        allowed = self.settings.k8s_namespaces
        if "*" not in allowed and ns not in allowed:
            raise PermissionDenied(
                f"namespace {ns!r} is not allowed by policy (allowed: {', '.join(allowed) or 'none'})"
            )
        if write and ns in self.settings.k8s_protected_namespaces:
            raise PermissionDenied(f"namespace {ns!r} is protected: it can be read but never changed")
        return ns

    def check_context(self, name: str | None) -> str | None:
        """Require an allowed kubeconfig context; `None` (the current context) is always allowed."""
        if name is None:
            return None
        validation.no_nul(name, what="context")
        allowed = self.settings.k8s_contexts
        if "*" not in allowed and name not in allowed:
            raise PermissionDenied(
                f"Kubernetes context {name[:80]!r} is not allowed by policy; omit it to use the current "
                f"context (allowed: {', '.join(allowed) or 'only the current context'})"
            )
        return name

    def check_kind(self, kind: str, *, write: bool, identity: Identity) -> str:
        """Refuse the denied kinds (RBAC, webhooks, CRDs, Secret writes, ...) unless the role is admin."""
        validation.no_nul(kind, what="kind")
        if not kind.isascii() or not _KIND.fullmatch(kind):
            raise InvalidArgument(f"kind {kind[:80]!r} is not a Kubernetes kind (e.g. 'Deployment')")
        key = _kind_key(kind)
        denied = key in self._denied if write else key in self._read_denied
        if denied and identity.role != "admin":
            action = "changed" if write else "read"
            raise PermissionDenied(f"objects of kind {kind!r} can only be {action} by the admin role")
        return kind

    def check_scan_path(self, path: str | Path) -> Path:
        """Require a path inside `scan_roots` (symlinks resolved); returns it resolved."""
        if not self.settings.scan_roots:
            raise PermissionDenied("scanning is not allowed: configure [policy] scan_roots")
        return validation.path_within(path, self.settings.scan_roots, what="scan path")

    def check_mount(self, path: str | Path) -> Path:
        """Require a host path inside `docker_mount_roots`; none are allowed by default."""
        if not self.settings.docker_mount_roots:
            raise PermissionDenied("host mounts are not allowed: configure [policy] docker_mount_roots")
        return validation.path_within(path, self.settings.docker_mount_roots, what="mount source")

    def check_url(self, url: str) -> str:
        """Require a URL admitted by `url_allowlist` and the SSRF rules (host not resolved)."""
        return validation.check_url(url, self._url_rules)

    async def check_url_resolved(self, url: str) -> str:
        """`check_url`, then resolve the host and check every address it points at."""
        return await validation.check_url_resolved(url, self._url_rules)


def _grants(granted: Iterable[str], permission: str) -> bool:
    server = permission.partition(":")[0]
    return any(p == permission or p == "*" or p == f"{server}:*" for p in granted)
