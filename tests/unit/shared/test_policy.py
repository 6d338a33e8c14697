"""Roles, tiers and argument rules: what each role may do, and hostile arguments refused."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pydantic import ValidationError

from shared.errors import InvalidArgument, PermissionDenied
from shared.identity import Identity
from shared.policy import Policy
from shared.policy_settings import DEFAULT_ROLES, PERMISSIONS, PolicySettings, Tier

VIEWER = Identity("alice", "viewer", "local")
OPERATOR = Identity("bob", "operator", "api_key")
ADMIN = Identity("root", "admin", "jwt")


# --------------------------------------------------------------------------- tiers


def test_tiers_are_ordered_read_write_admin() -> None:
    assert Tier.READ < Tier.WRITE < Tier.ADMIN
    assert Tier.ADMIN > Tier.WRITE >= Tier.WRITE > Tier.READ
    assert Tier.READ <= Tier.READ
    assert sorted([Tier.ADMIN, Tier.READ, Tier.WRITE]) == [Tier.READ, Tier.WRITE, Tier.ADMIN]
    assert max(Tier) is Tier.ADMIN
    assert Tier("write") is Tier.WRITE


def test_tiers_compare_by_rank_with_their_strings_too() -> None:
    # alphabetical str ordering ("admin" < "read") must never leak into tier decisions
    assert Tier.READ < "admin"
    assert "admin" > Tier.READ  # noqa: SIM300 - the reflected comparison is the point
    assert Tier.ADMIN >= "write"
    assert not Tier.WRITE <= "read"


@pytest.mark.parametrize("other", ["root", "", 1, None])
def test_tiers_refuse_to_compare_with_non_tiers(other: object) -> None:
    with pytest.raises(TypeError, match="compares only"):
        _ = Tier.READ < other  # noqa: SIM300
    with pytest.raises(TypeError):
        _ = Tier.READ <= other  # noqa: SIM300
    with pytest.raises(TypeError):
        _ = Tier.READ > other  # noqa: SIM300
    with pytest.raises(TypeError):
        _ = Tier.READ >= other  # noqa: SIM300


def test_tools_above_the_configured_tier_are_not_registered() -> None:
    policy = Policy(PolicySettings(tiers={"deployment": Tier.WRITE}))
    assert policy.tier_for("deployment") is Tier.WRITE
    assert policy.registers("deployment", Tier.WRITE)
    assert not policy.registers("deployment", Tier.ADMIN)
    # every other server stays read-only by default
    assert policy.tier_for("monitoring") is Tier.READ
    assert policy.registers("monitoring", Tier.READ)
    assert not policy.registers("monitoring", Tier.WRITE)


# --------------------------------------------------------------------------- roles


def test_default_roles_grant_what_the_design_says() -> None:
    policy = Policy()
    reads = {p for p in PERMISSIONS if p.endswith(":read")}
    assert policy.permissions("viewer") == frozenset(reads | {"experts:ask", "scan:run"})
    assert policy.permissions("operator") == policy.permissions("viewer") | {
        "deployment:write",
        "monitoring:write",
    }
    assert policy.permissions("admin") == PERMISSIONS
    assert not {"deployment:admin", "monitoring:admin"} & policy.permissions("operator")
    assert policy.roles == frozenset(DEFAULT_ROLES)


@pytest.mark.parametrize(
    ("identity", "permission", "allowed"),
    [
        (VIEWER, "deployment:read", True),
        (VIEWER, "monitoring:read", True),
        (VIEWER, "experts:ask", True),
        (VIEWER, "scan:run", True),
        (VIEWER, "deployment:write", False),
        (VIEWER, "deployment:admin", False),
        (OPERATOR, "deployment:write", True),
        (OPERATOR, "deployment:admin", False),
        (ADMIN, "deployment:admin", True),
        (Identity("x", "nobody", "jwt"), "monitoring:read", False),
        (Identity("x", "", "anonymous"), "monitoring:read", False),
        (Identity("x", "*", "jwt"), "monitoring:read", False),
        (Identity("x", "Admin", "jwt"), "deployment:admin", False),
    ],
)
def test_require_checks_the_role(identity: Identity, permission: str, allowed: bool) -> None:
    policy = Policy()
    assert policy.allows(identity.role, permission) is allowed
    if allowed:
        policy.require(identity, permission)
    else:
        with pytest.raises(PermissionDenied) as refused:
            policy.require(identity, permission)
        # the message names the permission and the role so the model can say what is missing
        assert repr(permission) in str(refused.value)
        assert repr(identity.role) in str(refused.value)


def test_configured_roles_add_and_replace() -> None:
    policy = Policy(
        PolicySettings(roles={"auditor": ["monitoring:read"], "deployer": ["deployment:*"], "viewer": []})
    )
    assert policy.permissions("auditor") == {"monitoring:read"}
    assert policy.permissions("deployer") == {"deployment:read", "deployment:write", "deployment:admin"}
    assert policy.permissions("viewer") == frozenset()
    assert policy.permissions("unknown") == frozenset()


@pytest.mark.parametrize(
    ("roles", "reason"),
    [
        ({"x": ["deployment:destroy"]}, "unknown permission"),
        ({"x": ["DEPLOYMENT:read"]}, "must look like"),
        ({"x": ["deployment"]}, "must look like"),
        ({"x": ["**"]}, "must look like"),
        ({"Bad Role": ["scan:run"]}, "role name"),
    ],
)
def test_configured_roles_are_validated(roles: dict[str, list[str]], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        PolicySettings(roles=roles)


# --------------------------------------------------------------------------- namespaces / contexts


def test_namespaces_default_to_default_only() -> None:
    policy = Policy()
    assert policy.check_namespace("default", write=True) == "default"
    with pytest.raises(PermissionDenied, match="not allowed by policy"):
        policy.check_namespace("prod", write=False)


@pytest.mark.parametrize("ns", ["kube-system", "kube-public", "kube-node-lease"])
def test_protected_namespaces_are_readable_never_writable(ns: str) -> None:
    policy = Policy(PolicySettings(k8s_namespaces=["*"]))
    assert policy.check_namespace(ns, write=False) == ns
    with pytest.raises(PermissionDenied, match="protected"):
        policy.check_namespace(ns, write=True)


@pytest.mark.parametrize(
    "ns", ["", "../default", "default\x00", "Default", "kube_system", "kube\u2010system", "*", "a" * 64, "-n"]
)
def test_hostile_namespaces_are_invalid(ns: str) -> None:
    policy = Policy(PolicySettings(k8s_namespaces=["*"]))
    with pytest.raises(InvalidArgument):
        policy.check_namespace(ns, write=False)


def test_namespace_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="RFC 1123"):
        PolicySettings(k8s_namespaces=["Prod"])


def test_contexts_default_to_the_current_one_only() -> None:
    policy = Policy()
    assert policy.check_context(None) is None
    with pytest.raises(PermissionDenied, match="only the current context"):
        policy.check_context("prod-cluster")
    policy = Policy(PolicySettings(k8s_contexts=["kind-dev"]))
    assert policy.check_context("kind-dev") == "kind-dev"
    with pytest.raises(PermissionDenied, match="kind-dev"):
        policy.check_context("kind-dev\u200b")
    with pytest.raises(InvalidArgument, match="NUL"):
        policy.check_context("kind-dev\x00")
    assert Policy(PolicySettings(k8s_contexts=["*"])).check_context("any") == "any"


# --------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    "kind",
    [
        "ClusterRoleBinding",
        "clusterrolebindings",
        "ClusterRoleBinding.rbac.authorization.k8s.io",
        "rolebinding",
        "Role",
        "roles",
        "Secret",
        "secrets",
        "secrets.v1",
        "CustomResourceDefinition",
        "crd",
        "crds",
        "MutatingWebhookConfiguration",
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        "PodSecurityPolicy",
        "podsecuritypolicies",
        "psp",
        "ServiceAccount",
        "sa",
        "Namespace",
        "ns",
        "Node",
        "APIService",
        "apiservices",
        "CertificateSigningRequest",
        "csr",
        "StorageClass",
        "storageclasses",
    ],
)
def test_denied_kinds_are_for_admin_only(kind: str) -> None:
    policy = Policy()
    with pytest.raises(PermissionDenied, match="admin role"):
        policy.check_kind(kind, write=True, identity=OPERATOR)
    assert policy.check_kind(kind, write=True, identity=ADMIN) == kind


@pytest.mark.parametrize("kind", ["Secret", "secrets", "Secrets", "SECRET", "secret.v1"])
def test_secrets_are_not_even_readable_below_admin(kind: str) -> None:
    policy = Policy()
    with pytest.raises(PermissionDenied, match="only be read"):
        policy.check_kind(kind, write=False, identity=VIEWER)
    assert policy.check_kind(kind, write=False, identity=ADMIN) == kind


@pytest.mark.parametrize("kind", ["Deployment", "deployments", "ConfigMap", "Service", "Ingress", "Pod"])
def test_ordinary_kinds_pass(kind: str) -> None:
    policy = Policy()
    assert policy.check_kind(kind, write=True, identity=OPERATOR) == kind
    assert policy.check_kind(kind, write=False, identity=VIEWER) == kind


@pytest.mark.parametrize("kind", ["ClusterRole", "Role"])
def test_rbac_is_readable_below_admin(kind: str) -> None:
    assert Policy().check_kind(kind, write=False, identity=VIEWER) == kind


@pytest.mark.parametrize(
    "kind", ["\u0405ecret", "Secret\x00", "", "1Secret", "Sec ret", "Secret;rm", "-Secret"]
)
def test_hostile_kinds_are_invalid(kind: str) -> None:
    # "\u0405ecret" starts with a Cyrillic capital Dze: a look-alike must not slip past the deny list
    with pytest.raises(InvalidArgument):
        Policy().check_kind(kind, write=True, identity=OPERATOR)


def test_denied_kinds_are_configurable() -> None:
    policy = Policy(PolicySettings(k8s_denied_kinds=["ConfigMap"], k8s_read_denied_kinds=[]))
    with pytest.raises(PermissionDenied):
        policy.check_kind("configmaps", write=True, identity=OPERATOR)
    assert policy.check_kind("Secret", write=False, identity=VIEWER) == "Secret"
    assert policy.check_kind("ClusterRoleBinding", write=True, identity=OPERATOR) == "ClusterRoleBinding"


# --------------------------------------------------------------------------- paths


def test_scans_and_mounts_are_refused_until_configured(tmp_path: Path) -> None:
    policy = Policy()
    with pytest.raises(PermissionDenied, match="scan_roots"):
        policy.check_scan_path(tmp_path)
    with pytest.raises(PermissionDenied, match="docker_mount_roots"):
        policy.check_mount(tmp_path)


def test_scan_paths_and_mounts_stay_inside_their_roots(tmp_path: Path) -> None:
    scans, mounts, outside = tmp_path / "src", tmp_path / "data", tmp_path / "etc"
    for folder in (scans, mounts, outside):
        folder.mkdir()
    (scans / "escape").symlink_to(outside)
    policy = Policy(PolicySettings(scan_roots=[scans], docker_mount_roots=[mounts]))
    assert policy.check_scan_path("pkg") == (scans / "pkg").resolve()
    assert policy.check_mount(str(mounts)) == mounts.resolve()
    for hostile in ("../etc", "escape", "/etc", "escape/../../etc", "pkg\x00"):
        with pytest.raises(InvalidArgument):
            policy.check_scan_path(hostile)
    for hostile in (str(scans), "/", "/var/run/docker.sock", "../data/../etc"):
        with pytest.raises(InvalidArgument):
            policy.check_mount(hostile)


# --------------------------------------------------------------------------- URLs


def test_urls_are_refused_until_allowlisted() -> None:
    with pytest.raises(InvalidArgument, match="url_allowlist"):
        Policy().check_url("https://example.com/")


def test_url_allowlist_and_ssrf_rules_apply() -> None:
    policy = Policy(PolicySettings(url_allowlist=["http://127.0.0.1:9090", "https://*"]))
    assert policy.check_url("http://127.0.0.1:9090/api/v1/query") == "http://127.0.0.1:9090/api/v1/query"
    assert policy.check_url("https://example.com/") == "https://example.com/"
    for hostile in (
        "http://169.254.169.254/",
        "http://0x7f.1:9090/",
        "http://2130706433:9090/",
        "http://[::ffff:127.0.0.1]:9090/",
        "https://127.0.0.1/",
        "file:///etc/passwd",
        "http://a@127.0.0.1:9090/",
    ):
        with pytest.raises(InvalidArgument):
            policy.check_url(hostile)


@pytest.mark.anyio
async def test_resolved_url_check_follows_the_name() -> None:
    policy = Policy(PolicySettings(url_allowlist=["https://*", "http://localhost:9090"]))
    with anyio.fail_after(30):
        assert await policy.check_url_resolved("http://localhost:9090/x") == "http://localhost:9090/x"
        with pytest.raises(InvalidArgument, match="loopback"):
            await policy.check_url_resolved("https://localhost/")


def test_url_allowlist_entries_are_validated() -> None:
    with pytest.raises(ValidationError, match="metadata"):
        PolicySettings(url_allowlist=["http://169.254.169.254"])
