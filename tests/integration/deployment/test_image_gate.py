"""The cross-server image gate end to end: the security-scan server's scan_image signs what it found
on the real dockerd, the deployment server (sharing only the key file) runs an image only with a
clean, recent attestation of exactly that image — for docker_run, compose_plan/compose_up and
k8s_plan. Both servers are reached through real MCP clients; neither imports the other."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from servers.security_scan.server import build_server as build_scanner
from shared import image_gate
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.integration.deployment.docker_engine import DockerEngine
from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import data, deployment_session, error_text
from tests.integration.deployment.test_compose_server import compose_binary
from tests.integration.scale.image_build import build
from tests.integration.security_scan.osv_server import build_export

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
DIGEST = "sha256:" + "d" * 64


@pytest.fixture(scope="module")
def images(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`gate:clean` (unprivileged, nothing planted) and `gate:leaky` (a token in its ENV: high)."""
    client = docker.DockerClient(base_url=engine.host, version="1.41", timeout=120)
    try:
        for tag, extra in (
            ("gate:clean", "USER 65534\n"),
            ("gate:leaky", f"USER 65534\nENV GITHUB_TOKEN={TOKEN}\n"),
        ):
            context = tmp_path_factory.mktemp("gate")
            (context / "Dockerfile").write_text(f"FROM {engine.image}\n{extra}")
            build(client, path=context, tag=tag, dockerfile="Dockerfile", args={})
        return {tag: str(client.api.inspect_image(tag)["Id"]) for tag in ("gate:clean", "gate:leaky")}
    finally:
        client.close()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "gate.key"
    image_gate.new_key(path)
    return path


@pytest.fixture
async def scanner(engine: DockerEngine, key_file: Path, tmp_path: Path) -> AsyncIterator[Client]:
    suite = SuiteConfig.model_validate(
        {
            "audit": {"path": str(tmp_path / "scan-audit.jsonl")},
            "security_scan": {
                "docker_host": engine.host,
                "gate_key_file": str(key_file),
                "cache_dir": str(tmp_path / "scan-cache"),
                "osv_export_dir": str(build_export(tmp_path / "osv")),
            },
        }
    )
    runtime = Runtime.from_config(suite)
    try:
        async with Client(build_scanner(suite, runtime=runtime)) as client:
            yield client
    finally:
        await runtime.aclose()


def gated(engine: DockerEngine, key_file: Path, tmp_path: Path, **deployment: Any) -> dict[str, Any]:
    (tmp_path / "projects").mkdir(exist_ok=True)
    return {
        "role": "operator",
        "audit": {"path": str(tmp_path / f"audit-{secrets.token_hex(3)}.jsonl")},
        "policy": {"tiers": {"deployment": "write"}, "scan_roots": [str(tmp_path / "projects")],
                   "k8s_namespaces": ["*"]},
        "deployment": {
            "docker_host": engine.host,
            "kubeconfig": str(tmp_path / "none"),
            "image_gate": {"min_severity": "high", "key_file": str(key_file)},
            **deployment,
        },
    }  # fmt: skip


async def attestation(scanner: Client, image: str) -> str:
    scan = data(await scanner.call_tool("scan_image", {"image": image}))
    assert scan["complete"], scan["problems"]
    assert isinstance(scan["attestation"], str)
    return str(scan["attestation"])


def run_args(image: str, scans: list[str] | None) -> dict[str, Any]:
    return {"image": image, "command": ["sleep", "30"], "image_scans": scans}


async def test_docker_run_needs_a_clean_scan_of_exactly_this_image(
    engine: DockerEngine, images: dict[str, str], scanner: Client, key_file: Path, tmp_path: Path
) -> None:
    clean = await attestation(scanner, "gate:clean")
    leaky = await attestation(scanner, "gate:leaky")
    async with deployment_session(gated(engine, key_file, tmp_path)) as client:
        refused = error_text(await client.call_tool("docker_run", run_args("gate:clean", None)))
        assert "no image scan was given" in refused and "scan_image" in refused
        ran = data(await client.call_tool("docker_run", run_args("gate:clean", [clean])))
        assert ran["image"] in ("gate:clean", images["gate:clean"])

        refused = error_text(await client.call_tool("docker_run", run_args("gate:leaky", [leaky])))
        assert "findings at or above high: 2 high" in refused  # its ENV, and its history
        refused = error_text(await client.call_tool("docker_run", run_args("gate:leaky", [clean])))
        assert f"not of {images['gate:leaky']}" in refused

        # The model cannot write an attestation, nor edit one.
        payload, signature = clean.split(".")
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        body["image_id"] = images["gate:leaky"]
        forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=") + "." + signature
        refused = error_text(await client.call_tool("docker_run", run_args("gate:leaky", [forged])))
        assert "signature does not match" in refused

        # A re-tag cannot smuggle another image under a scanned name.
        client_api = docker.DockerClient(base_url=engine.host, version="1.41")
        try:
            client_api.api.tag(images["gate:leaky"], "gate", "retagged")
            client_api.api.tag(images["gate:clean"], "gate", "moving")
            await client.call_tool("docker_run", run_args("gate:moving", [clean]))  # the clean one: fine
            client_api.api.tag(images["gate:leaky"], "gate", "moving", force=True)
            refused = error_text(await client.call_tool("docker_run", run_args("gate:moving", [clean])))
            assert "not of" in refused
        finally:
            client_api.close()


async def test_compose_up_runs_only_the_images_that_were_scanned(
    engine: DockerEngine, images: dict[str, str], scanner: Client, key_file: Path, tmp_path: Path
) -> None:
    clean = await attestation(scanner, "gate:clean")
    folder = tmp_path / "projects" / "gated"
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text(
        'services:\n  web:\n    image: gate:compose\n    command: ["sleep", "30"]\n    network_mode: none\n'
    )
    api = docker.DockerClient(base_url=engine.host, version="1.41")
    config = gated(engine, key_file, tmp_path, compose={"compose_path": str(compose_binary())})
    try:
        api.api.tag(images["gate:clean"], "gate", "compose", force=True)
        async with deployment_session(config) as client:
            refused = error_text(await client.call_tool("compose_plan", {"project_dir": str(folder)}))
            assert "no image scan was given" in refused
            plan = data(
                await client.call_tool("compose_plan", {"project_dir": str(folder), "image_scans": [clean]})
            )
            api.api.tag(images["gate:leaky"], "gate", "compose", force=True)  # swapped after the plan
            refused = error_text(await client.call_tool("compose_up", {"plan_id": plan["plan_id"]}))
            assert "not the image that was scanned" in refused
            assert not api.api.containers(all=True, filters={"label": "com.docker.compose.project=gated"})
    finally:
        api.close()


SAFE = """        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          runAsNonRoot: true
          runAsUser: 10001
          seccompProfile: {type: RuntimeDefault}
"""


def deployment(image: str, *, init_image: str | None = None) -> str:
    init = ""
    if init_image is not None:
        init = f"      initContainers:\n      - name: init\n        image: {init_image}\n{SAFE}"
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: gated}}
spec:
  selector: {{matchLabels: {{app: gated}}}}
  template:
    metadata: {{labels: {{app: gated}}}}
    spec:
{init}      containers:
      - name: app
        image: {image}
{SAFE}"""


async def test_k8s_plan_needs_pinned_images_each_vouched_for(
    cluster: KubeCluster, engine: DockerEngine, key_file: Path, namespace: str, tmp_path: Path
) -> None:
    # No registry runs here, so no scanned image has a registry digest: this test signs the
    # attestation itself with the shared key, standing in for scan_image of a pushed image.
    key = image_gate.load_key(key_file)
    pinned = f"registry.example/app@{DIGEST}"
    vouched = image_gate.issue(
        key, image_gate.Attestation("sha256:" + "e" * 64, (pinned,), {"low": 3}, True, time.time())
    )
    config = gated(engine, key_file, tmp_path, kubeconfig=str(cluster.kubeconfig))

    async def plan(manifests: str, scans: list[str] | None) -> Any:
        args = {"manifests": manifests, "namespace": namespace, "image_scans": scans}
        return await client.call_tool("k8s_plan", args)

    async with deployment_session(config) as client:
        refused = error_text(await plan(deployment("registry.example/app:1.0"), [vouched]))
        assert "not pinned by digest" in refused
        refused = error_text(await plan(deployment(pinned), None))
        assert "no image scan was given" in refused
        # The same content under another name is the same image.
        assert data(await plan(deployment(f"mirror.example/app@{DIGEST}"), [vouched]))["plan_id"]
        # Every container counts, init containers too.
        other = "registry.example/tool@sha256:" + "f" * 64
        refused = error_text(await plan(deployment(pinned, init_image=other), [vouched]))
        assert "does not cover" in refused and "tool@" in refused
