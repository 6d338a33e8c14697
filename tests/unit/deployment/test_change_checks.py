"""Refusal paths of the Helm, Compose, exec and impersonation checks, with hostile input."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from servers.deployment.compose_checks import env_files, harden_model
from servers.deployment.helm_charts import ChartSources, archive_from_bytes
from servers.deployment.helm_cli import HelmCli, KubeTarget
from servers.deployment.impersonation import Impersonation, ImpersonationSettings, impersonation_for
from servers.deployment.k8s_exec import check_command
from servers.deployment.settings import DeploymentSettings, HelmSettings
from shared.errors import InvalidArgument, PermissionDenied
from shared.identity import Identity
from shared.policy import Policy
from shared.policy_settings import PolicySettings

# --------------------------------------------------------------------------- compose


def service(**fields: Any) -> dict[str, Any]:
    return {"name": "proj", "services": {"web": {"image": "busybox:local", "network_mode": "none", **fields}}}


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    (tmp_path / "data").mkdir()
    return Policy(PolicySettings(docker_mount_roots=[tmp_path / "data"]))


def harden(model: dict[str, Any], policy: Policy) -> dict[str, Any]:
    return harden_model(model, settings=DeploymentSettings(), policy=policy, owner="alice", max_services=10)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"privileged": True}, "privileged"),
        ({"pid": "host"}, "pid"),
        ({"ipc": "host"}, "ipc"),
        ({"network_mode": "host"}, "network mode 'host' is not allowed"),
        ({"network_mode": "container:other"}, "sharing another container"),
        ({"cap_add": ["SYS_ADMIN"]}, "cap_add"),
        ({"devices": [{"source": "/dev/mem", "target": "/dev/mem"}]}, "devices"),
        ({"security_opt": ["seccomp=unconfined"]}, "security_opt"),
        ({"security_opt": ["apparmor:unconfined"]}, "security_opt"),
        ({"build": {"context": "https://github.com/evil/repo.git"}}, "build"),
        ({"volumes": [{"type": "bind", "source": "/", "target": "/host"}]}, "outside the allowed roots"),
        ({"volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]}, "outside"),
        ({"ports": [{"target": 80, "published": "8080", "host_ip": "0.0.0.0"}]}, "loopback"),
        ({"mem_limit": 64 * 2**30}, "memory must be between"),
        ({"sysctls": {"net.ipv4.ip_forward": "1"}}, "sysctls"),
        ({"volumes_from": ["other"]}, "volumes_from"),
        ({"runtime": "runc-unconfined"}, "runtime"),
    ],
)
def test_hostile_compose_services_are_refused(policy: Policy, fields: dict[str, Any], message: str) -> None:
    with pytest.raises((PermissionDenied, InvalidArgument), match=message):
        harden(service(**fields), policy)


def test_a_driver_option_volume_cannot_bind_the_host(policy: Policy) -> None:
    model = service()
    model["volumes"] = {
        "etc": {"driver": "local", "driver_opts": {"type": "none", "o": "bind", "device": "/etc"}}
    }

    with pytest.raises(PermissionDenied, match="driver options"):
        harden(model, policy)


def test_every_service_is_hardened_like_docker_run(policy: Policy, tmp_path: Path) -> None:
    bind = {"type": "bind", "source": str(tmp_path / "data"), "target": "/data"}
    hardened = harden(service(volumes=[bind], ports=[{"target": 80, "published": "8080"}]), policy)[
        "services"
    ]["web"]

    assert hardened["cap_drop"] == ["ALL"]
    assert hardened["security_opt"] == ["no-new-privileges:true"]
    assert hardened["mem_limit"] == hardened["memswap_limit"] == 256 * 2**20
    assert hardened["pids_limit"] == 256
    assert hardened["labels"]["code.managed"] == "true" and hardened["labels"]["code.owner"] == "alice"
    assert hardened["ports"][0]["host_ip"] == "127.0.0.1"


def test_an_env_file_outside_the_project_is_refused_before_it_is_read(tmp_path: Path) -> None:
    model = service(env_file=[{"path": "/etc/shadow", "required": True}])

    with pytest.raises(PermissionDenied, match="env_file"):
        env_files(model, tmp_path)


# --------------------------------------------------------------------------- helm


@pytest.mark.parametrize(
    "args",
    [
        ["template", "--post-renderer=/bin/sh"],
        ["upgrade", "x", "-f/etc/passwd"],
        ["upgrade", "--kubeconfig=/tmp/other"],
        ["status", "\u2212\u2212debug"],
        ["status", "a\nb"],
    ],
)
def test_helm_arguments_cannot_smuggle_options(args: list[str]) -> None:
    cli = HelmCli(Path("/bin/false"), timeout_s=5)
    try:
        with pytest.raises(InvalidArgument):
            cli.run(args, what="test")
    finally:
        cli.close()


def test_the_cluster_flags_name_the_impersonated_caller() -> None:
    target = KubeTarget(Path("/k"), "ctx", "ns", Impersonation("code:alice", ("team-a",)))

    assert target.flags() == [
        "--kubeconfig",
        "/k",
        "--kube-context",
        "ctx",
        "--namespace",
        "ns",
        "--kube-as-user",
        "code:alice",
        "--kube-as-group",
        "team-a",
    ]


def chart_tgz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return out.getvalue()


CHART_YAML = b"apiVersion: v2\nname: web\nversion: 0.1.0\n"


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"web/Chart.yaml": CHART_YAML, "../evil": b"x"}, None, "escapes"),
        ({"web/Chart.yaml": CHART_YAML, "/etc/cron.d/x": b"x"}, None, "escapes"),
        ({"web/Chart.yaml": CHART_YAML}, {"web/templates/x.yaml": "/etc/shadow"}, "link"),
        ({"web/values.yaml": b"a: 1"}, None, "no <chart>/Chart.yaml"),
    ],
)
def test_hostile_chart_archives_are_refused(
    members: dict[str, bytes], links: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        archive_from_bytes(chart_tgz(members, links), source="test", settings=HelmSettings())


def test_a_chart_archive_names_its_crds() -> None:
    crd = b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    crd += b"metadata: {name: x.example.com}\n"
    archive = archive_from_bytes(
        chart_tgz({"web/Chart.yaml": CHART_YAML, "web/crds/x.yaml": crd}), source="t", settings=HelmSettings()
    )

    assert (archive.name, archive.version) == ("web", "0.1.0")
    assert [c["kind"] for c in archive.crds] == ["CustomResourceDefinition"]


def test_local_charts_outside_the_roots_or_through_links_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "charts"
    (root / "web" / "templates").mkdir(parents=True)
    (root / "web" / "Chart.yaml").write_bytes(CHART_YAML)
    (root / "web" / "templates" / "leak.yaml").symlink_to("/etc/passwd")
    (root / "escape").symlink_to("/etc")
    sources = ChartSources(HelmSettings(chart_roots=[root]), [], [])

    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        sources.local(str(root / ".." / ".." / "etc"))
    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        sources.local(str(root / "escape"))
    with pytest.raises(InvalidArgument, match="symbolic link"):
        sources.local(str(root / "web"))
    with pytest.raises(InvalidArgument, match="dash"):
        sources.local("--post-renderer=/bin/sh")


def test_a_packed_chart_folder_has_a_stable_digest(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Chart.yaml").write_bytes(CHART_YAML)
    sources = ChartSources(HelmSettings(chart_roots=[tmp_path]), [], [])

    assert sources.local(str(tmp_path / "web")).digest == sources.local(str(tmp_path / "web")).digest


@pytest.mark.parametrize(
    "reference",
    ["oci://169.254.169.254/charts/x", "oci://127.0.0.1:6379/charts/x", "oci://evil.example.com/charts/x"],
)
def test_oci_registries_outside_the_allowlist_are_refused(reference: str) -> None:
    sources = ChartSources(HelmSettings(), [], ["oci://registry.example.com/charts"])

    with pytest.raises(PermissionDenied, match="chart source refused"):
        sources.check_oci(reference)


# --------------------------------------------------------------------------- exec


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["sh", "-c", "cat /etc/shadow"], "not in the exec allowlist"),
        (["/bin/cat", "/etc/hostname"], "not in the exec allowlist"),
        (["cat\x00", "x"], "NUL"),
        ([], "at least the program"),
    ],
)
def test_exec_runs_only_allowlisted_programs(command: list[str], message: str) -> None:
    with pytest.raises((PermissionDenied, InvalidArgument), match=message):
        check_command(command, ["cat", "date"])


@pytest.mark.parametrize(
    "program",
    ["sh", "/bin/bash", "python3", "env", "xargs", "busybox", "find", "node", "tar", "/usr/bin/ssh"],
)
def test_shells_and_launchers_cannot_be_allowlisted(program: str) -> None:
    with pytest.raises(ValueError, match="runs other programs"):
        PolicySettings(k8s_exec_commands=[program])


# --------------------------------------------------------------------------- impersonation


def ident(
    subject: str, *, method: str = "jwt", role: str = "operator", scopes: frozenset[str] = frozenset()
) -> Identity:
    return Identity(subject=subject, role=role, method=method, scopes=scopes)  # type: ignore[arg-type]


def test_impersonation_is_off_by_default() -> None:
    assert impersonation_for(ident("alice"), ImpersonationSettings()) is None


def test_callers_map_to_prefixed_users_and_role_groups() -> None:
    settings = ImpersonationSettings(
        enabled=True,
        role_groups={"operator": ["ops"]},
        users={"key-1": "ci-bot"},
        scope_group_prefix="scope:",
    )

    assert impersonation_for(ident("alice", scopes=frozenset({"deploy"})), settings) == Impersonation(
        "code:alice", ("ops", "scope:deploy")
    )
    assert impersonation_for(ident("key-1", method="api_key"), settings) == Impersonation("ci-bot", ("ops",))
    assert impersonation_for(ident("me", method="local"), settings) is None


@pytest.mark.parametrize(
    "subject", ["alice\r\nImpersonate-Group: system:masters", "alice,system:masters", "a b", "x" * 300]
)
def test_spoofed_subjects_are_refused(subject: str) -> None:
    with pytest.raises(PermissionDenied, match="cannot be named"):
        impersonation_for(ident(subject), ImpersonationSettings(enabled=True))


def test_jwt_groups_become_prefixed_groups_and_cannot_reach_the_system_names() -> None:
    settings = ImpersonationSettings(enabled=True, group_prefix="oidc:")
    alice = Identity("alice", "operator", "jwt", groups=frozenset({"team-a", "sre"}))
    assert impersonation_for(alice, settings) == Impersonation("code:alice", ("oidc:sre", "oidc:team-a"))
    for hostile in ("team\nImpersonate-User: admin", "a,system:masters", "a b"):
        with pytest.raises(PermissionDenied, match="cannot be named"):
            impersonation_for(Identity("alice", "operator", "jwt", groups=frozenset({hostile})), settings)
    with pytest.raises(PermissionDenied, match="reserved"):
        impersonation_for(
            Identity("alice", "operator", "jwt", groups=frozenset({"system:masters"})),
            ImpersonationSettings(enabled=True, group_prefix=""),
        )
    with pytest.raises(ValueError, match="reserved"):
        ImpersonationSettings(enabled=True, group_prefix="system:")


def test_a_subject_cannot_reach_the_system_names() -> None:
    with pytest.raises(PermissionDenied, match="reserved"):
        impersonation_for(ident("system:admin"), ImpersonationSettings(enabled=True, user_prefix=""))
    with pytest.raises(ValueError, match="reserved"):
        ImpersonationSettings(enabled=True, user_prefix="system:")
