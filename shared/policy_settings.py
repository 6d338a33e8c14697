"""`[policy]`: roles, tiers and the argument rules, as validated data (pydantic only).

The behaviour that reads them is `shared.policy.Policy`; the defaults refuse: every server runs at
the read tier, no Kubernetes context but the current one, no scan root, no host mount, no URL, no
registry, and the kinds in `k8s_denied_kinds` are for the admin role only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import validation
from shared.admission import AdmissionSettings
from shared.errors import InvalidArgument

__all__ = [
    "DEFAULT_DENIED_KINDS",
    "DEFAULT_PROTECTED_NAMESPACES",
    "DEFAULT_READ_DENIED_KINDS",
    "DEFAULT_ROLES",
    "PERMISSIONS",
    "ConfirmMode",
    "ConfirmSettings",
    "PolicySettings",
    "Tier",
    "tier_of_permission",
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


def tier_of_permission(permission: str) -> Tier:
    """The tier a tool needing `permission` belongs to: `…:write` → WRITE, `…:admin` → ADMIN, else READ."""
    action = permission.rpartition(":")[2]
    return Tier.ADMIN if action == "admin" else Tier.WRITE if action == "write" else Tier.READ


#: Every permission a CODE server checks. `<server>:*` and `*` are patterns over these.
PERMISSIONS: Final = frozenset(
    {
        "deployment:read",
        "deployment:write",
        "deployment:admin",
        "experts:ask",
        "scan:run",
        "monitoring:read",
        "monitoring:write",
        "monitoring:admin",
    }
)

_READS: Final = sorted(p for p in PERMISSIONS if p.endswith(":read"))

DEFAULT_ROLES: Final[Mapping[str, tuple[str, ...]]] = {
    "viewer": (*_READS, "experts:ask", "scan:run"),
    "operator": (*_READS, "experts:ask", "scan:run", "deployment:write", "monitoring:write"),
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

_REGISTRY: Final = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")
_TOOL_PATTERN: Final = re.compile(r"[a-z0-9_*?]{1,64}")
_PROGRAM: Final = re.compile(r"/?[A-Za-z0-9._+][A-Za-z0-9._+-]*(/[A-Za-z0-9._+-]+)*")
_INTERPRETER: Final = re.compile(r"(python|perl|ruby|php|lua|node|java|deno|bun|pwsh|osascript)[0-9.]*")
# Programs whose arguments are a program of their own: never in the exec allowlist.
_LAUNCHERS: Final = frozenset(
    {
        "sh", "bash", "dash", "zsh", "ash", "ksh", "csh", "tcsh", "fish", "busybox", "env", "xargs", "nice",
        "nohup", "timeout", "sudo", "su", "doas", "chroot", "nsenter", "setsid", "stdbuf", "find", "awk",
        "gawk", "sed", "script", "watch", "flock", "strace", "gdb", "vi", "vim", "less", "more", "tclsh",
        "ionice", "taskset", "unshare", "runuser", "pkexec", "expect", "make", "tar", "git", "ssh", "scp",
    }
)  # fmt: skip
_PERMISSION: Final = re.compile(r"\*|[a-z][a-z0-9_]*:(\*|[a-z][a-z0-9_]*)")


ConfirmMode = Literal["always", "destructive", "never"]
"""When a write asks the person first: every write, destructive ones only, or none."""


class ConfirmSettings(BaseModel):
    """`[policy.confirm]`: which changes the person confirms (MCP elicitation) before they run.

    The mode of a call is the strictest of its tool's entry and its namespace's entry; `default`
    when neither names it. A client without elicitation is refused a change that needs confirming.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: ConfirmMode = Field(
        default="never",
        description="Mode for a write no entry below names: 'always', 'destructive' (deletes, "
        "replacements, scale to 0, …) or 'never'.",
    )
    tools: dict[str, ConfirmMode] = Field(
        default_factory=dict,
        description="Mode per tool (names or shell patterns such as 'k8s_*').",
    )
    namespaces: dict[str, ConfirmMode] = Field(
        default_factory=dict,
        description="Mode per Kubernetes namespace (names or shell patterns such as 'prod-*').",
    )


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
    image_registries: list[str] = Field(
        default_factory=list,
        description="Registries images may be pulled from ('docker.io', 'registry.example.com:5000', "
        "'*.example.com'); empty = no pulls at all, only images already on the engine.",
    )
    admission: AdmissionSettings = Field(
        default_factory=AdmissionSettings,
        description="What every object a write tool sends to a cluster must pass: Pod Security Standards "
        "levels, Secret references, service accounts, cluster-scoped kinds.",
    )
    chart_repositories: list[str] = Field(
        default_factory=list,
        description="Chart repositories (http(s) URL prefixes, the url_allowlist grammar) and OCI registries "
        "('oci://host[:port]/path') Helm charts may be fetched from; empty = local charts only.",
    )
    k8s_exec_commands: list[str] = Field(
        default_factory=list,
        description="Programs (argv[0], a bare name or an absolute path) k8s_exec may run; empty = none. "
        "Shells, interpreters and launchers are refused: their arguments are a program of their own.",
    )
    confirm: ConfirmSettings = Field(
        default_factory=ConfirmSettings,
        description="Which changes the person confirms through the client (elicitation) before they run.",
    )
    tools_enabled: list[str] = Field(
        default_factory=list,
        description="Only these tools are registered (names or shell patterns such as 'k8s_*'), "
        "within the tiers; empty = every tool of the tier.",
    )
    tools_disabled: list[str] = Field(
        default_factory=list,
        description="Tools never registered (names or shell patterns), whatever the tier.",
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

    @field_validator("image_registries")
    @classmethod
    def _valid_registries(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if not _REGISTRY.fullmatch(entry):
                raise ValueError(
                    f"image registry {entry!r} must be a host[:port] such as 'docker.io', "
                    "'registry.example.com:5000' or '*.example.com'"
                )
        return entries

    @field_validator("chart_repositories")
    @classmethod
    def _valid_chart_sources(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            validation.UrlRule.parse(
                "https://" + entry.removeprefix("oci://") if entry.startswith("oci://") else entry
            )
        return entries

    @field_validator("k8s_exec_commands")
    @classmethod
    def _plain_programs(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if not _PROGRAM.fullmatch(entry):
                raise ValueError(f"exec command {entry!r} must be a program name or absolute path")
            base = entry.rsplit("/", 1)[-1]
            if base in _LAUNCHERS or _INTERPRETER.fullmatch(base):
                raise ValueError(
                    f"exec command {entry!r} runs other programs from its arguments (a shell, an interpreter "
                    "or a launcher): it would turn the allowlist into 'anything'"
                )
        return entries

    @field_validator("tools_enabled", "tools_disabled")
    @classmethod
    def _valid_tool_patterns(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if not _TOOL_PATTERN.fullmatch(entry):
                raise ValueError(f"tool pattern {entry!r} must be a tool name, optionally with '*' or '?'")
        return entries

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
