"""The Docker tools' logic against a real dockerd: run, logs, stats, stop, remove, build, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.deployment.docker_build import DockerBuilds
from servers.deployment.docker_ops import MANAGED_LABEL, DockerOps
from servers.deployment.models import Mount, RunSpec
from shared.errors import InvalidArgument, NotFound, PermissionDenied
from tests.integration.deployment.docker_engine import DockerEngine

pytestmark = pytest.mark.integration


def _sleeper(engine: DockerEngine, **extra: object) -> RunSpec:
    return RunSpec.model_validate({"image": engine.image, "command": ["sleep", "60"], **extra})


def test_run_applies_the_hardened_defaults(docker: DockerOps, engine: DockerEngine) -> None:
    info = docker.run(
        _sleeper(engine, read_only=True, user="65534:65534", memory="64m", cpus=0.5, pids=32), owner="alice"
    )

    inspected = docker.inspect_container(info.id)
    hardening = inspected.hardening
    assert inspected.status == "running"
    assert hardening.privileged is False
    assert hardening.cap_drop == ["ALL"]
    assert hardening.cap_add == []
    assert "no-new-privileges" in hardening.security_opt
    assert hardening.read_only_rootfs is True
    assert hardening.user == "65534:65534"
    assert hardening.memory_bytes == 64 * 2**20
    assert hardening.nano_cpus == 500_000_000
    assert hardening.pids_limit == 32
    assert hardening.network_mode == "none"
    assert inspected.labels[MANAGED_LABEL] == "true"
    assert inspected.labels["code.owner"] == "alice"


def test_run_without_limits_gets_the_configured_ones(docker: DockerOps, engine: DockerEngine) -> None:
    info = docker.run(_sleeper(engine), owner="alice")

    assert info.hardening.memory_bytes == 256 * 2**20
    assert info.hardening.nano_cpus == 1_000_000_000
    assert info.hardening.pids_limit == 256
    assert info.hardening.read_only_rootfs is False


def test_the_container_really_cannot_write_its_read_only_root(
    docker: DockerOps, engine: DockerEngine
) -> None:
    spec = RunSpec(image=engine.image, command=["sh", "-c", "touch /bin/x 2>&1; echo rc=$?"], read_only=True)
    info = docker.run(spec, owner="alice")
    docker.client.api.wait(info.id, timeout=30)

    logs = docker.logs(info.id, tail=10)

    assert "rc=1" in logs.text
    assert "Read-only file system" in logs.text


def test_logs_return_the_tail_with_secrets_redacted(docker: DockerOps, engine: DockerEngine) -> None:
    script = "seq 1 50; echo password=hunter2-secret-value"
    info = docker.run(RunSpec(image=engine.image, command=["sh", "-c", script]), owner="alice")
    docker.client.api.wait(info.id, timeout=30)

    logs = docker.logs(info.id, tail=5)

    assert logs.lines == 5
    assert logs.text.startswith("47\n48\n49\n50\npassword=")
    assert "hunter2-secret-value" not in logs.text


def test_stats_report_memory_against_the_limit(docker: DockerOps, engine: DockerEngine) -> None:
    info = docker.run(_sleeper(engine, memory="48m"), owner="alice")

    stats = docker.stats(info.id)

    assert stats.memory_limit_bytes == 48 * 2**20
    assert 0 < stats.memory_bytes < stats.memory_limit_bytes
    assert stats.pids >= 1


def test_list_shows_running_and_managed_containers(docker: DockerOps, engine: DockerEngine) -> None:
    ours = docker.run(_sleeper(engine, name="ours"), owner="alice")
    theirs = docker.client.containers.run(
        engine.image, ["sleep", "60"], detach=True, name="theirs", network_mode="none"
    )

    every = {row.name: row for row in docker.list_containers()}
    managed = [row.name for row in docker.list_containers(managed_only=True)]

    assert every["ours"].managed and every["ours"].id == ours.id[:12]
    assert not every["theirs"].managed and every["theirs"].id == theirs.id[:12]
    assert managed == ["ours"]


def test_stop_and_remove_a_managed_container(docker: DockerOps, engine: DockerEngine) -> None:
    info = docker.run(_sleeper(engine), owner="alice")

    with pytest.raises(InvalidArgument, match="running"):
        docker.remove(info.id, caller="alice", admin=False)
    stopped = docker.stop(info.id, caller="alice", admin=False, timeout_s=1)
    removed = docker.remove(info.id, caller="alice", admin=False)

    assert stopped.status == "exited"
    assert removed.action == "removed"
    with pytest.raises(NotFound):
        docker.inspect_container(info.id)


def test_unmanaged_containers_are_only_changed_by_an_admin(docker: DockerOps, engine: DockerEngine) -> None:
    theirs = docker.client.containers.run(engine.image, ["sleep", "60"], detach=True, network_mode="none")

    with pytest.raises(PermissionDenied, match="not created through this server"):
        docker.stop(theirs.id, caller="alice", admin=False)
    with pytest.raises(PermissionDenied, match="not created through this server"):
        docker.remove(theirs.id, caller="alice", admin=False, force=True)
    assert docker.inspect_container(theirs.id).status == "running"

    docker.remove(theirs.id, caller="root", admin=True, force=True)
    with pytest.raises(NotFound):
        docker.inspect_container(theirs.id)


def test_a_forged_managed_label_proves_nothing(docker: DockerOps, engine: DockerEngine) -> None:
    """Any image (or anyone with the engine) can set code.managed=true: only the ledger counts."""
    forged = docker.client.containers.run(
        engine.image, ["sleep", "60"], detach=True, network_mode="none",
        labels={"code.managed": "true", "code.owner": "alice"},
    )  # fmt: skip
    assert docker.inspect_container(forged.id).managed is False
    assert docker.list_containers(managed_only=True) == []
    with pytest.raises(PermissionDenied, match="labels prove nothing"):
        docker.stop(forged.id, caller="alice", admin=False)
    assert docker.inspect_container(forged.id).status == "running"


def test_a_container_is_only_stopped_by_the_caller_who_started_it(
    docker: DockerOps, engine: DockerEngine
) -> None:
    info = docker.run(_sleeper(engine), owner="alice")
    with pytest.raises(PermissionDenied, match="created by another caller"):
        docker.stop(info.id, caller="mallory", admin=False, timeout_s=1)
    with pytest.raises(PermissionDenied, match="created by another caller"):
        docker.remove(info.id, caller="mallory", admin=False, force=True)
    assert docker.inspect_container(info.id).status == "running"
    assert docker.inspect_container(info.id).managed is True


def test_privileged_is_refused_and_nothing_is_created(docker: DockerOps, engine: DockerEngine) -> None:
    with pytest.raises(PermissionDenied, match="privileged"):
        docker.run(_sleeper(engine, privileged=True), owner="alice")

    assert docker.list_containers(include_stopped=True) == []


@pytest.mark.parametrize(
    "source", ["/etc", "/", "/var/run/docker.sock", "{root}/../escape", "{root}/data/../../x"]
)
def test_host_mounts_outside_the_roots_are_refused(
    docker: DockerOps, engine: DockerEngine, mount_root: Path, source: str
) -> None:
    spec = _sleeper(engine, mounts=[Mount(source=source.format(root=mount_root), target="/data")])

    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        docker.run(spec, owner="alice")

    assert docker.list_containers(include_stopped=True) == []


def test_a_mount_inside_the_roots_is_read_only_by_default(
    docker: DockerOps, engine: DockerEngine, mount_root: Path
) -> None:
    script = "cat /data/hello.txt; touch /data/new 2>&1; echo rc=$?"
    spec = RunSpec(
        image=engine.image,
        command=["sh", "-c", script],
        mounts=[Mount(source=str(mount_root / "data"), target="/data")],
    )
    info = docker.run(spec, owner="alice")
    docker.client.api.wait(info.id, timeout=30)

    logs = docker.logs(info.id)

    assert "hello from the host" in logs.text
    assert "rc=1" in logs.text
    assert not (mount_root / "data" / "new").exists()
    assert info.hardening.binds == [f"{mount_root / 'data'}:/data:ro"]


def test_build_reports_each_step_and_labels_the_image(
    docker: DockerOps, engine: DockerEngine, build_root: Path
) -> None:
    context = build_root / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f'FROM {engine.image}\nCOPY greeting.txt /greeting.txt\nCMD ["cat", "/greeting.txt"]\n'
    )
    (context / "greeting.txt").write_text("built here\n")
    seen: list[tuple[float, float | None, str]] = []

    built = DockerBuilds(docker).build(
        str(context),
        tag="app:test",
        owner="alice",
        progress=lambda done, total, text: seen.append((done, total, text)),
    )

    assert [done for done, _, _ in seen] == list(range(1, built.steps + 1))
    assert {total for _, total, _ in seen} == {built.steps}
    assert any("COPY greeting.txt" in text for _, _, text in seen)
    image = docker.client.images.get("app:test")
    assert image.labels[MANAGED_LABEL] == "true"
    info = docker.run(RunSpec(image="app:test"), owner="alice")
    docker.client.api.wait(info.id, timeout=30)
    assert docker.logs(info.id).text == "built here\n"


def test_build_outside_the_roots_is_refused(docker: DockerOps, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM busybox:local\n")

    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        DockerBuilds(docker).build(str(outside), tag="x:1", owner="alice")


def test_a_dockerfile_escaping_the_context_is_refused(docker: DockerOps, build_root: Path) -> None:
    context = build_root / "app"
    context.mkdir()
    (build_root / "Dockerfile").write_text("FROM busybox:local\n")

    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        DockerBuilds(docker).build(str(context), tag="x:1", dockerfile="../Dockerfile", owner="alice")


def test_a_failing_build_says_why(docker: DockerOps, engine: DockerEngine, build_root: Path) -> None:
    context = build_root / "bad"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {engine.image}\nRUN false\n")

    with pytest.raises(InvalidArgument, match="build of bad:1 failed"):
        DockerBuilds(docker).build(str(context), tag="bad:1", owner="alice")


def test_images_list_the_imported_busybox(docker: DockerOps, engine: DockerEngine) -> None:
    tags = [tag for image in docker.list_images() for tag in image.tags]

    assert engine.image in tags
