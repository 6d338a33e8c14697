"""The Dockerfile, built and run for real in a test dockerd (base images made locally: see
image_build.py): the CLI inside the image, an offline scan by every scanner inside a locked-down
container, and the suite served over streamable HTTP with an API key."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import tomli_w
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.integration.scale.image_build import REPO, BuiltImage, suite_image
from tests.support.services import free_port

pytestmark = pytest.mark.anyio

# What deploy/deployment.yaml asks of the pod: non-root, read-only root, no capabilities.
LOCKED_DOWN: dict[str, Any] = {
    "user": "10001",
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "tmpfs": {"/tmp": "rw,size=512m"},
    "mem_limit": "2g",
}
BASE_ENV = {"HOME": "/tmp", "CODE_MCP_CACHE": "/tmp/code-mcp"}


@pytest.fixture(scope="module")
def image() -> Iterator[BuiltImage]:
    with suite_image() as built:
        yield built


def run(
    image: BuiltImage, command: list[str], env: dict[str, str] | None = None, **options: Any
) -> tuple[int, str, str]:
    """Run the image to completion; its exit status, stdout and stderr."""
    container = image.client.containers.run(
        image.tag, command, detach=True, environment={**BASE_ENV, **(env or {})}, **LOCKED_DOWN, **options
    )
    try:
        status = container.wait(timeout=900)["StatusCode"]
        out = container.logs(stdout=True, stderr=False).decode()
        err = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
    return status, out, err


def test_the_image_runs_code_mcp_as_a_non_root_user(image: BuiltImage) -> None:
    config = image.client.images.get(image.tag).attrs["Config"]
    assert config["User"] == "10001"
    assert config["Entrypoint"] == ["code-mcp"]
    assert "8000/tcp" in config["ExposedPorts"]


def test_code_mcp_tools_security_scan_lists_the_tools_of_this_checkout(image: BuiltImage) -> None:
    status, out, err = run(image, ["tools", "security-scan"], network_mode="none")
    assert status == 0, err
    inside = [tool["name"] for tool in json.loads(out)]
    host = subprocess.run(
        [sys.executable, "-m", "servers", "tools", "security-scan"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert inside == [tool["name"] for tool in json.loads(host.stdout)]
    assert "scan_path" in inside


def vulnerable_project(folder: Path) -> Path:
    """One finding (at least) for each scanner, readable by the container's user."""
    files = {
        "app.py": "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n\n\n"
        'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n',
        "Dockerfile": "FROM busybox:latest\nRUN echo hi\n",
        "deploy.sh": '#!/bin/sh\nrm -rf $1/*\necho "done"\n',
        "requirements.txt": "django==1.11.0\n",
    }
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    for name, text in files.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o644)
    return folder


def test_every_scanner_runs_offline_inside_the_locked_down_container(
    image: BuiltImage, tmp_path: Path
) -> None:
    project = vulnerable_project(tmp_path / "project")
    status, out, err = run(
        image,
        ["call", "security-scan", "scan_path", "path=/scan"],
        env={"CODE_MCP_POLICY__SCAN_ROOTS": '["/scan"]'},
        network_mode="none",
        volumes={str(project): {"bind": "/scan", "mode": "ro"}},
    )
    assert status == 0, err
    report = json.loads(out)
    scanners = {entry["name"]: entry for entry in report["scanners"]}
    assert set(scanners) == {
        "bandit",
        "semgrep",
        "detect-secrets",
        "checkov",
        "hadolint",
        "shellcheck",
        "dependencies",
        "licenses",
    }
    for name, entry in scanners.items():
        assert entry["status"] == "ran", (name, entry)
        # Without a licence policy the inventory is listed and nothing is a finding.
        assert entry["findings"] > 0 or name == "licenses", (name, entry)


def suite_config(folder: Path, key: str) -> Path:
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    config = {
        "auth": {
            "api_keys": [{"id": "ci", "sha256": hashlib.sha256(key.encode()).hexdigest(), "role": "viewer"}]
        },
        "logging": {"level": "WARNING"},
    }
    path = folder / "config.toml"
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o644)
    return path


async def test_the_suite_serves_streamable_http_with_an_api_key(image: BuiltImage, tmp_path: Path) -> None:
    key = "test-key-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:24]
    config = suite_config(tmp_path / "config", key)
    port = free_port()
    container = image.client.containers.run(
        image.tag,
        ["serve", "suite", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)],
        detach=True,
        environment={**BASE_ENV, "CODE_MCP_CONFIG": "/etc/code-mcp/config.toml"},
        network_mode="host",
        volumes={str(config.parent): {"bind": "/etc/code-mcp", "mode": "ro"}},
        **LOCKED_DOWN,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            with anyio.fail_after(120):
                while True:
                    container.reload()
                    assert container.status in {"created", "running"}, container.logs().decode()[-4000:]
                    try:
                        if (await http.get(base + "/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await anyio.sleep(0.2)
            refused = await http.post(
                base + "/security-scan/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
            )
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
        async with (
            httpx2.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {key}"}) as http2,
            Client(streamable_http_client(base + "/security-scan/mcp", http_client=http2)) as client,
        ):
            with anyio.fail_after(120):
                tools = {tool.name for tool in (await client.list_tools()).tools}
                result = await client.call_tool("scan_scanners_available", {})
        assert "scan_path" in tools
        assert not result.is_error, result
        assert result.structured_content is not None
        available = {row["name"]: row for row in result.structured_content["scanners"]}
        assert all(row["available"] for row in available.values()), available
        assert available["semgrep"]["path"] == "/opt/scanners/bin/semgrep"
    finally:
        container.remove(force=True)
