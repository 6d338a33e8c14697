"""The Compose tools through a real MCP client against the real dockerd, with Compose v5 built from its
module: plan → up (progress per service) → ps → logs → re-plan → down, and hostile projects refused."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.integration.deployment.docker_engine import DockerEngine
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.support.pages import rows
from tests.support.services import cache_dir, unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PROJECT = """services:
  web:
    image: busybox:local
    command: ["sh", "-c", "echo web says hello; sleep 300"]
    network_mode: none
  worker:
    image: busybox:local
    command: ["sleep", "300"]
    network_mode: none
"""


def compose_binary() -> Path:
    cache = cache_dir()
    binary = cache / "compose" / "v5.6.0" / "bin" / "docker-compose"
    if not binary.is_file():
        unavailable(f"docker compose v5.6.0 is not built ({binary}): run scripts/setup.d/65-helm-compose.sh")
    return binary


def config(engine: DockerEngine, tmp_path: Path, *, role: str = "operator") -> dict[str, Any]:
    return {
        "role": role,
        "audit": {"path": str(tmp_path / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {
            "tiers": {"deployment": "write"},
            "scan_roots": [str(tmp_path / "projects")],
            "docker_mount_roots": [str(tmp_path / "mounts")],
        },
        "deployment": {
            "docker_host": engine.host,
            "kubeconfig": str(tmp_path / "none"),
            "compose": {"compose_path": str(compose_binary())},
        },
    }


def project(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "projects" / name
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text(text)
    (tmp_path / "mounts").mkdir(exist_ok=True)
    return folder


async def test_plan_up_ps_logs_down(engine: DockerEngine, tmp_path: Path) -> None:
    folder = project(tmp_path, "shop", PROJECT)
    async with deployment_session(config(engine, tmp_path)) as client:
        model = data(await client.call_tool("compose_config", {"project_dir": str(folder)}))
        assert model["project"] == "shop" and model["services"] == ["web", "worker"]
        plan = data(await client.call_tool("compose_plan", {"project_dir": str(folder)}))
        assert [(c["service"], c["action"]) for c in plan["changes"]] == [
            ("web", "create"),
            ("worker", "create"),
        ]
        assert plan["model"]["services"]["web"]["cap_drop"] == ["ALL"]
        assert plan["model"]["services"]["web"]["mem_limit"] == 256 * 2**20

        (folder / "compose.yaml").write_text(
            PROJECT.replace("busybox:local", "evil:1")
        )  # changed after the plan
        updates: list[str | None] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            updates.append(message)

        up = data(
            await client.call_tool("compose_up", {"plan_id": plan["plan_id"]}, progress_callback=on_progress)
        )
        assert up["services"] == ["web", "worker"] and up["sha256"] == plan["sha256"]
        assert sorted(u or "" for u in updates) == ["shop-web-1 started", "shop-worker-1 started"]
        ps = data(await client.call_tool("compose_ps", {"project": "shop"}))
        assert {(c["service"], c["state"], c["image"]) for c in rows(ps)} == {
            ("web", "running", "busybox:local"),
            ("worker", "running", "busybox:local"),
        }
        logs = data(await client.call_tool("compose_logs", {"project": "shop", "service": "web"}))
        assert "web says hello" in logs["text"]

        (folder / "compose.yaml").write_text(PROJECT)
        again = data(await client.call_tool("compose_plan", {"project_dir": str(folder)}))
        assert [c["action"] for c in again["changes"]] == ["unchanged", "unchanged"]
        used = await client.call_tool("compose_up", {"plan_id": plan["plan_id"]})
        assert "already applied" in error_text(used)
        down = data(await client.call_tool("compose_down", {"project": "shop"}))
        assert down["removed"] == ["shop-web-1", "shop-worker-1"]
        foreign = await client.call_tool("compose_down", {"project": "someone-elses"})
        assert "not created through this server" in error_text(foreign)


HOSTILE = {
    "privileged": ("privileged: true", "privileged"),
    "pidhost": ("pid: host", "pid"),
    "rootbind": ("volumes: ['/:/host']", "outside the allowed roots"),
    "devices": ("devices: ['/dev/mem:/dev/mem']", "devices"),
    "build": ("build: {context: 'https://github.com/evil/repo.git'}", "build"),
    "capadd": ("cap_add: [SYS_ADMIN]", "cap_add"),
    "seccomp": ("security_opt: ['seccomp=unconfined']", "security_opt"),
    "metadata": ("image: 169.254.169.254:5000/x:1", "registry '169.254.169.254:5000'"),
    "redis": ("image: 127.0.0.1:6379/x:1", "registry '127.0.0.1:6379'"),
    "envfile": ("env_file: [/etc/shadow]", "env_file"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_projects_are_refused_at_plan_time(
    engine: DockerEngine, tmp_path: Path, case: str
) -> None:
    line, message = HOSTILE[case]
    image = "" if line.startswith("image:") else "    image: busybox:local\n"
    folder = project(tmp_path, case, f"services:\n  bad:\n{image}    network_mode: none\n    {line}\n")
    async with deployment_session(config(engine, tmp_path)) as client:
        refused = await client.call_tool("compose_plan", {"project_dir": str(folder)})
        outside = await client.call_tool(
            "compose_plan", {"project_dir": str(tmp_path / "projects" / ".." / "..")}
        )

    assert message in error_text(refused)
    assert "outside the allowed roots" in error_text(outside)
