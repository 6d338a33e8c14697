"""Who may do what: roles → permissions, tool tiers per server, and the argument rules.

`Policy` is the behaviour over `[policy]` (`shared.policy_settings.PolicySettings`). Refuse by
default: write and admin tools are not registered unless `[policy.tiers]` raises the server's tier;
no Kubernetes context but the current one, no scan root, no host mount, no URL and no image
registry are allowed until configured; protected namespaces are readable but never writable; the
kinds in `k8s_denied_kinds` (RBAC, webhooks, CRDs, ...) are for the admin role only.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from shared import validation
from shared.admission import Admission, refusal_message
from shared.errors import InvalidArgument, PermissionDenied
from shared.identity import Identity
from shared.policy_settings import DEFAULT_ROLES, PERMISSIONS, PolicySettings, Tier

__all__ = ["Policy", "image_registry"]


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
        self.admission = Admission(self.settings.admission)

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

    def registers(self, server: str, tier: Tier, tool: str | None = None) -> bool:
        """Whether a tool of `tier` (named `tool`) is registered for `server`.

        The tier comes first; then `tools_disabled` removes tools and a non-empty `tools_enabled`
        keeps only the tools it names (both take names or shell patterns such as `k8s_*`).
        """
        if tier > self.tier_for(server):
            return False
        if tool is None:
            return True
        if any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.settings.tools_disabled):
            return False
        enabled = self.settings.tools_enabled
        return not enabled or any(fnmatch.fnmatchcase(tool, pattern) for pattern in enabled)

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

    def admit(
        self, obj: Mapping[str, Any], *, namespace: str | None, namespaced: bool, identity: Identity
    ) -> None:
        """Refuse an object a write tool would send (`PermissionDenied` naming every violation).

        The admission rules of `[policy.admission]`: Pod Security Standards on every pod template,
        Secret references for roles that may not read Secrets, service accounts, cluster-scoped
        kinds. Asked at plan time and again at apply time, for the caller of each.
        """
        is_admin = identity.role == "admin"
        may_read_secrets = is_admin or _kind_key("Secret") not in self._read_denied
        violations = self.admission.check(
            obj,
            namespace=namespace,
            namespaced=namespaced,
            is_admin=is_admin,
            may_read_secrets=may_read_secrets,
        )
        if violations:
            raise PermissionDenied(refusal_message(violations))

    def check_scan_path(self, path: str | Path) -> Path:
        """Require a path inside `scan_roots` (symlinks resolved); returns it resolved."""
        if not self.settings.scan_roots:
            raise PermissionDenied(
                "scanning is not allowed: start the server with --root DIR or configure [policy] scan_roots"
            )
        return validation.path_within(path, self.settings.scan_roots, what="scan path")

    def check_mount(self, path: str | Path) -> Path:
        """Require a host path inside `docker_mount_roots`; none are allowed by default."""
        if not self.settings.docker_mount_roots:
            raise PermissionDenied("host mounts are not allowed: configure [policy] docker_mount_roots")
        return validation.path_within(path, self.settings.docker_mount_roots, what="mount source")

    def check_image_pull(self, image: str) -> str:
        """Require an image reference whose registry is in `image_registries` (a pull may follow).

        The registry is read the way the Docker engine reads it: the first path component when it
        holds a `.` or `:` or is `localhost`, else Docker Hub (`docker.io`).
        """
        ref = validation.image_ref(image)
        registry = image_registry(ref)
        allowed = self.settings.image_registries
        if not any(_registry_matches(registry, entry) for entry in allowed):
            raise PermissionDenied(
                f"image {ref[:120]!r} would be pulled from registry {registry!r}, which the policy does not "
                f"allow (allowed: {', '.join(allowed) or 'none: only images already on the engine'})"
            )
        return ref

    def check_url(self, url: str) -> str:
        """Require a URL admitted by `url_allowlist` and the SSRF rules (host not resolved)."""
        return validation.check_url(url, self._url_rules)

    async def resolve_url(self, url: str) -> validation.ResolvedUrl:
        """`check_url`, then resolve the host once; connect to the addresses returned."""
        return await validation.resolve_url(url, self._url_rules)

    async def check_url_resolved(self, url: str) -> str:
        """`check_url`, then resolve the host and check every address it points at."""
        return await validation.check_url_resolved(url, self._url_rules)


def image_registry(ref: str) -> str:
    """The registry host[:port] an image reference names (`docker.io` when it names none)."""
    first, slash, _ = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def _registry_matches(registry: str, entry: str) -> bool:
    if entry.startswith("*."):
        host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
        return host.endswith(entry[1:]) and host != entry[2:]
    return registry == entry or (
        entry == "docker.io" and registry in ("index.docker.io", "registry-1.docker.io")
    )


def _grants(granted: Iterable[str], permission: str) -> bool:
    server = permission.partition(":")[0]
    return any(p == permission or p == "*" or p == f"{server}:*" for p in granted)
