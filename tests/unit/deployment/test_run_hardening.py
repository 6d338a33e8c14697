"""docker_run's engine arguments: hardened always, hostile inputs refused before the engine sees them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from servers.deployment.docker_ops import DockerOps, container_ref, memory_bytes
from servers.deployment.models import Mount, RunSpec
from servers.deployment.settings import DeploymentSettings, RunDefaults
from shared.errors import InvalidArgument, PermissionDenied
from shared.policy import Policy
from shared.policy_settings import PolicySettings


@pytest.fixture
def ops(tmp_path: Path) -> DockerOps:
    (tmp_path / "data").mkdir()
    policy = Policy(PolicySettings(docker_mount_roots=[tmp_path]))
    # No call reaches this address: _run_kwargs only computes arguments.
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    return DockerOps(client, DeploymentSettings(), policy)


def kwargs(ops: DockerOps, **spec: Any) -> dict[str, Any]:
    return ops._run_kwargs(RunSpec.model_validate({"image": "busybox:local", **spec}), "alice")


def test_every_container_is_hardened_and_labelled(ops: DockerOps) -> None:
    args = kwargs(ops)

    assert args["privileged"] is False
    assert args["cap_drop"] == ["ALL"]
    assert args["security_opt"] == ["no-new-privileges"]
    assert args["mem_limit"] == args["memswap_limit"] == 256 * 2**20
    assert args["nano_cpus"] == 1_000_000_000
    assert args["pids_limit"] == 256
    assert args["network_mode"] == "none"
    assert args["labels"] == {"code.managed": "true", "code.owner": "alice"}
    assert args["volumes"] == {}
    assert "cap_add" not in args and "devices" not in args


def test_ports_are_published_on_loopback_only(ops: DockerOps) -> None:
    args = kwargs(ops, ports={80: 8080}, network="bridge")

    assert args["ports"] == {"80/tcp": ("127.0.0.1", 8080)}


def test_a_mount_inside_the_roots_is_read_only_unless_asked(ops: DockerOps, tmp_path: Path) -> None:
    ro = kwargs(ops, mounts=[Mount(source=str(tmp_path / "data"), target="/data")])
    rw = kwargs(ops, mounts=[Mount(source=str(tmp_path / "data"), target="/data", read_only=False)])

    assert ro["volumes"] == {str(tmp_path / "data"): {"bind": "/data", "mode": "ro"}}
    assert rw["volumes"][str(tmp_path / "data")]["mode"] == "rw"


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"privileged": True}, PermissionDenied, "privileged"),
        ({"network": "host"}, PermissionDenied, "network mode 'host' is not allowed"),
        ({"memory": "64g"}, InvalidArgument, "memory must be between"),
        ({"memory": "1k"}, InvalidArgument, "memory must be between"),
        ({"memory": "lots"}, InvalidArgument, "must look like"),
        ({"cpus": 16}, InvalidArgument, "cpus must be at most"),
        ({"pids": 100_000}, InvalidArgument, "pids must be at most"),
        ({"image": "Not An Image!"}, InvalidArgument, "image reference"),
        ({"image": "busybox\x00:latest"}, InvalidArgument, "NUL"),
        ({"command": ["sh", "-c", "a\x00b"]}, InvalidArgument, "NUL"),
        ({"env": {"BAD NAME": "x"}}, InvalidArgument, "environment variable name"),
        ({"env": {"LD_PRELOAD=x": "y"}}, InvalidArgument, "environment variable name"),
        ({"name": "--rm"}, InvalidArgument, "not a container id or name"),
        ({"name": "../etc"}, InvalidArgument, "not a container id or name"),
        ({"user": "root;id"}, InvalidArgument, "user must be"),
        ({"ports": {80: 22}}, InvalidArgument, "host port"),
        ({"ports": {80: 8080}}, InvalidArgument, "cannot be published with network mode 'none'"),
        ({"workdir": "relative"}, InvalidArgument, "absolute"),
    ],
)
def test_hostile_or_out_of_bounds_specs_are_refused(
    ops: DockerOps, spec: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        kwargs(ops, **spec)


@pytest.mark.parametrize(
    "source",
    ["/", "/etc", "/var/run/docker.sock", "{root}/../x", "{root}/data/../../etc", "rel/../../../etc"],
)
def test_mounts_outside_the_roots_are_refused(ops: DockerOps, tmp_path: Path, source: str) -> None:
    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        kwargs(ops, mounts=[Mount(source=source.format(root=tmp_path), target="/data")])


def test_a_symlink_out_of_the_roots_is_refused(ops: DockerOps, tmp_path: Path) -> None:
    (tmp_path / "escape").symlink_to("/etc")

    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        kwargs(ops, mounts=[Mount(source=str(tmp_path / "escape"), target="/data")])


@pytest.mark.parametrize("target", ["relative", "/data/../etc", "/a:/b"])
def test_bad_mount_targets_are_refused(ops: DockerOps, tmp_path: Path, target: str) -> None:
    with pytest.raises(InvalidArgument, match="mount target"):
        kwargs(ops, mounts=[Mount(source=str(tmp_path / "data"), target=target)])


def test_no_host_mount_at_all_without_configured_roots(tmp_path: Path) -> None:
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    ops = DockerOps(client, DeploymentSettings(), Policy(PolicySettings()))

    with pytest.raises(PermissionDenied, match="host mounts are not allowed"):
        kwargs(ops, mounts=[Mount(source=str(tmp_path), target="/data")])


def test_configured_defaults_and_ceilings_apply(tmp_path: Path) -> None:
    settings = DeploymentSettings(
        run_defaults=RunDefaults(
            memory="64m", max_memory="128m", cpus=0.25, pids=16, network_modes=("bridge",)
        )
    )
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    ops = DockerOps(client, settings, Policy(PolicySettings()))

    args = kwargs(ops)

    assert (args["mem_limit"], args["nano_cpus"], args["pids_limit"]) == (64 * 2**20, 250_000_000, 16)
    assert args["network_mode"] == "bridge"
    with pytest.raises(InvalidArgument):
        kwargs(ops, memory="256m")


@pytest.mark.parametrize(
    ("text", "size"), [("6m", 6 * 2**20), ("1g", 2**30), ("512K", 512 * 1024), ("100b", 100)]
)
def test_memory_sizes_parse(text: str, size: int) -> None:
    assert memory_bytes(text) == size


@pytest.mark.parametrize("ref", ["", "-f", "a b", "a/b", "x" * 200, "a\x00"])
def test_container_references_are_checked(ref: str) -> None:
    with pytest.raises(InvalidArgument):
        container_ref(ref)


@pytest.mark.parametrize("bad", [{"memory": "1tb"}, {"network_modes": ()}, {"network_modes": ("macvlan",)}])
def test_bad_run_defaults_are_configuration_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RunDefaults.model_validate(bad)
