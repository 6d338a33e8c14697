"""docker_start / docker_restart / docker_pull / docker_image_remove / networks / volumes through a real
MCP client against the real dockerd: ownership by ledger, registries by allowlist."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.integration.deployment.docker_engine import DockerEngine
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def config(
    engine: DockerEngine, tmp_path: Path, *, role: str = "operator", tier: str = "write"
) -> dict[str, Any]:
    return {
        "role": role,
        "audit": {"path": str(tmp_path / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {"tiers": {"deployment": tier}, "image_registries": ["registry.example.com"]},
        "deployment": {"docker_host": engine.host, "kubeconfig": str(tmp_path / "none")},
    }


async def test_lifecycle_networks_and_volumes(engine: DockerEngine, tmp_path: Path) -> None:
    name = f"t{secrets.token_hex(3)}"
    async with deployment_session(config(engine, tmp_path)) as client:
        run = data(await client.call_tool(
            "docker_run", {"image": engine.image, "command": ["sleep", "60"], "name": name}
        ))  # fmt: skip
        data(await client.call_tool("docker_stop", {"container": name, "timeout_s": 0}))
        started = data(await client.call_tool("docker_start", {"container": name}))
        restarted = data(await client.call_tool("docker_restart", {"container": name, "timeout_s": 0}))
        data(await client.call_tool("docker_remove", {"container": name, "force": True}))

        net = data(await client.call_tool("docker_network_create", {"name": f"{name}-net"}))
        nets = data(await client.call_tool("docker_networks", {}))
        vol = data(await client.call_tool("docker_volume_create", {"name": f"{name}-vol"}))
        vols = data(await client.call_tool("docker_volumes", {}))
        twice = await client.call_tool("docker_volume_create", {"name": f"{name}-vol"})
        foreign_net = await client.call_tool("docker_network_remove", {"name": "none"})
        foreign_image = await client.call_tool("docker_image_remove", {"image": engine.image})
        pulls = [
            await client.call_tool("docker_pull", {"image": image})
            for image in ("169.254.169.254:5000/x:1", "127.0.0.1:6379/x:1", "evil.example.org/x:1")
        ]
        data(await client.call_tool("docker_network_remove", {"name": f"{name}-net"}))
        data(await client.call_tool("docker_volume_remove", {"name": f"{name}-vol"}))
        after = data(await client.call_tool("docker_volumes", {}))

    assert run["status"] == "running"
    assert (started["action"], started["status"]) == ("started", "running")
    assert (restarted["action"], restarted["status"]) == ("restarted", "running")
    assert net["action"] == "created" and vol["action"] == "created"
    assert {n["name"]: n for n in rows(nets)}[f"{name}-net"]["managed"] is True
    assert {n["name"]: n for n in rows(nets)}[f"{name}-net"]["internal"] is True
    assert {v["name"]: v for v in rows(vols)}[f"{name}-vol"]["managed"] is True
    assert "already exists" in error_text(twice)
    assert "not created through this server" in error_text(foreign_net)
    assert "not created through this server" in error_text(foreign_image)
    for refused in pulls:
        assert "which the policy does not allow" in error_text(refused)
    assert f"{name}-vol" not in [v["name"] for v in rows(after)]
