"""The Docker tools through a real MCP client session against a real dockerd."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from servers.deployment.server import build_server
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.integration.deployment.docker_engine import DockerEngine
from tests.support.connect import Connector
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

READ_TOOLS = {
    "docker_list_containers",
    "docker_inspect_container",
    "docker_container_logs",
    "docker_container_stats",
    "docker_list_images",
    "docker_networks",
    "docker_volumes",
    "compose_config",
    "compose_ps",
    "compose_logs",
    "helm_list",
    "helm_status",
    "helm_history",
    "helm_values",
    "k8s_describe",
    "k8s_contexts",
    "k8s_list",
    "k8s_get",
    "k8s_events",
    "k8s_logs",
    "k8s_rollout_status",
}
WRITE_TOOLS = {
    "docker_run",
    "docker_stop",
    "docker_remove",
    "docker_build",
    "docker_start",
    "docker_restart",
    "docker_pull",
    "docker_image_remove",
    "docker_network_create",
    "docker_network_remove",
    "docker_volume_create",
    "docker_volume_remove",
    "compose_plan",
    "compose_up",
    "compose_down",
    "helm_plan",
    "helm_apply",
    "helm_rollback",
    "helm_uninstall",
    "k8s_plan",
    "k8s_apply",
    "k8s_scale",
    "k8s_rollout_restart",
    "k8s_rollback",
}
ADMIN_TOOLS = {"k8s_delete", "k8s_exec", "k8s_cordon", "k8s_uncordon", "k8s_drain_plan", "k8s_drain"}


def suite_config(
    engine: DockerEngine, tmp_path: Path, *, tier: str = "write", role: str = "operator"
) -> dict[str, Any]:
    (tmp_path / "builds").mkdir(exist_ok=True)
    return {
        "role": role,
        "audit": {"path": str(tmp_path / "audit.jsonl")},
        "policy": {"tiers": {"deployment": tier}, "scan_roots": [str(tmp_path / "builds")]},
        "deployment": {"docker_host": engine.host, "kubeconfig": str(tmp_path / "no-kubeconfig")},
    }


Session = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def session(engine: DockerEngine, tmp_path: Path) -> Session:
    @asynccontextmanager
    async def open_session(**overrides: Any) -> AsyncIterator[Client]:
        config = SuiteConfig.model_validate(suite_config(engine, tmp_path, **overrides))
        runtime = Runtime.from_config(config)
        try:
            async with Client(build_server(config, runtime=runtime)) as client:
                yield client
        finally:
            await runtime.aclose()

    return open_session


@pytest.fixture(autouse=True)
def _clean_containers(engine: DockerEngine) -> Any:
    import docker

    yield
    client = docker.DockerClient(base_url=engine.host, version="1.41")
    for container in client.containers.list(all=True):
        container.remove(force=True)
    client.close()


async def test_each_tier_registers_exactly_its_tools(session: Session) -> None:
    async with session(tier="read") as client:
        read_only = {tool.name for tool in (await client.list_tools()).tools}
    async with session(tier="write") as client:
        write = {tool.name for tool in (await client.list_tools()).tools}
    async with session(tier="admin", role="admin") as client:
        tools = (await client.list_tools()).tools
        admin = {tool.name for tool in tools}

    assert read_only == READ_TOOLS
    assert write == READ_TOOLS | WRITE_TOOLS
    assert admin == READ_TOOLS | WRITE_TOOLS | ADMIN_TOOLS
    by_name = {tool.name: tool for tool in tools}
    for name in READ_TOOLS:
        assert by_name[name].annotations is not None and by_name[name].annotations.read_only_hint is True
        assert by_name[name].title
    assert by_name["docker_remove"].annotations is not None
    assert by_name["docker_remove"].annotations.destructive_hint is True
    assert by_name["k8s_delete"].annotations is not None
    assert by_name["k8s_delete"].annotations.destructive_hint is True


async def test_run_then_inspect_logs_stop_and_remove(session: Session, engine: DockerEngine) -> None:
    async with session() as client:
        run = await client.call_tool(
            "docker_run",
            {"image": engine.image, "command": ["sh", "-c", "echo ready; sleep 60"], "name": "web"},
        )
        assert not run.is_error, run.content
        started = run.structured_content
        assert started is not None
        assert started["hardening"]["cap_drop"] == ["ALL"] and started["hardening"]["privileged"] is False

        listed = await client.call_tool("docker_list_containers", {"managed_only": True})
        assert listed.structured_content is not None
        assert [c["name"] for c in rows(listed.structured_content)] == ["web"]

        with anyio.fail_after(20):
            while True:
                logs = await client.call_tool("docker_container_logs", {"container": "web"})
                assert logs.structured_content is not None
                if "ready" in logs.structured_content["text"]:
                    break
                await anyio.sleep(0.1)

        stats = await client.call_tool("docker_container_stats", {"container": "web"})
        assert (
            stats.structured_content is not None
            and stats.structured_content["memory_limit_bytes"] == 256 * 2**20
        )

        stopped = await client.call_tool("docker_stop", {"container": "web", "timeout_s": 1})
        removed = await client.call_tool("docker_remove", {"container": "web"})
        assert stopped.structured_content is not None and stopped.structured_content["status"] == "exited"
        assert removed.structured_content is not None and removed.structured_content["action"] == "removed"
        gone = await client.call_tool("docker_inspect_container", {"container": "web"})
        assert gone.is_error


async def test_every_write_is_audited(session: Session, engine: DockerEngine, tmp_path: Path) -> None:
    async with session() as client:
        await client.call_tool("docker_run", {"image": engine.image, "command": ["true"], "name": "audited"})
        await client.call_tool("docker_run", {"image": engine.image, "privileged": True})

    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    runs = [
        (line["tool"], line["outcome"], line["identity"]["role"])
        for line in lines
        if line["tool"] == "docker_run"
    ]
    assert runs[0] == ("docker_run", "ok", "operator")
    assert runs[1][1] != "ok"


async def test_refusals_reach_the_model_as_tool_errors(session: Session, engine: DockerEngine) -> None:
    import docker

    theirs = docker.DockerClient(base_url=engine.host, version="1.41").containers.run(
        engine.image, ["sleep", "60"], detach=True, network_mode="none", name="theirs"
    )
    async with session() as client:
        privileged = await client.call_tool("docker_run", {"image": engine.image, "privileged": True})
        host_mount = await client.call_tool(
            "docker_run", {"image": engine.image, "mounts": [{"source": "/etc", "target": "/host-etc"}]}
        )
        unmanaged = await client.call_tool("docker_remove", {"container": "theirs", "force": True})
        bad_name = await client.call_tool("docker_inspect_container", {"container": "--help"})

    assert privileged.is_error and "privileged" in str(privileged.content)
    assert host_mount.is_error and "host mounts are not allowed" in str(host_mount.content)
    assert unmanaged.is_error and "not created through this server" in str(unmanaged.content)
    assert bad_name.is_error and "not a container id or name" in str(bad_name.content)
    theirs.reload()
    assert theirs.status == "running"


async def test_an_admin_may_remove_an_unmanaged_container(session: Session, engine: DockerEngine) -> None:
    import docker

    theirs = docker.DockerClient(base_url=engine.host, version="1.41").containers.run(
        engine.image, ["sleep", "60"], detach=True, network_mode="none"
    )
    async with session(tier="admin", role="admin") as client:
        removed = await client.call_tool("docker_remove", {"container": theirs.id, "force": True})

    assert not removed.is_error, removed.content


async def test_write_tools_are_refused_to_a_viewer(session: Session, engine: DockerEngine) -> None:
    async with session(role="viewer") as client:
        run = await client.call_tool("docker_run", {"image": engine.image})

    assert run.is_error and "deployment:write" in str(run.content)


async def test_build_reports_progress_to_the_client(
    session: Session, engine: DockerEngine, tmp_path: Path
) -> None:
    context = tmp_path / "builds" / "app"
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text(f'FROM {engine.image}\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n')
    (context / "a.txt").write_text("a\n")
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with session() as client:
        built = await client.call_tool(
            "docker_build", {"context": str(context), "tag": "app:progress"}, progress_callback=on_progress
        )

    assert not built.is_error, built.content
    assert built.structured_content is not None
    steps = built.structured_content["steps"]
    assert [p for p, _, _ in updates] == list(range(1, steps + 1))
    assert any("COPY a.txt" in (m or "") for _, _, m in updates)


async def test_list_pages_with_a_cursor(session: Session, engine: DockerEngine) -> None:
    async with session() as client:
        for index in range(3):
            await client.call_tool(
                "docker_run", {"image": engine.image, "command": ["sleep", "60"], "name": f"c{index}"}
            )
        first = await client.call_tool("docker_list_containers", {"limit": 2})
        assert first.structured_content is not None
        cursor = first.structured_content["next_cursor"]
        second = await client.call_tool("docker_list_containers", {"limit": 2, "cursor": cursor})
        assert second.structured_content is not None

    names = [c["name"] for c in rows(first.structured_content) + rows(second.structured_content)]
    assert names == ["c0", "c1", "c2"]
    assert first.structured_content["truncated"] is True
    assert second.structured_content["next_cursor"] is None


async def test_every_transport_serves_the_docker_tools(
    connect: Connector, engine: DockerEngine, tmp_path: Path
) -> None:
    async with connect("deployment", suite_config(engine, tmp_path, tier="read", role="viewer")) as client:
        images = await client.call_tool("docker_list_images", {})

    assert not images.is_error, images.content
    assert images.structured_content is not None
    assert engine.image in [tag for image in rows(images.structured_content) for tag in image["tags"]]
