"""Build the repository's Dockerfile for real in a test dockerd, with locally built base images.

No registry is reachable here, so both `FROM` images are stand-ins made on this machine:
- `python:3.11-slim-bookworm`: a Debian bookworm root filesystem from debootstrap (python3,
  python3-venv), made once by scripts/setup.d/55-base-image.sh and imported from its tarball;
- `rust:1.95-slim-bookworm`: that image plus Debian's Rust (rust-base.Dockerfile).
The Dockerfile is passed them as build arguments and built unchanged, with host networking so its
`apt-get` / `pip` / `cargo` steps reach the registries. The dockerd keeps its data under
$CODE_MCP_CACHE/dockerd-images, so a later run reuses unchanged layers (bases, scanners); the
suite's own layers are rebuilt whenever its sources change. A lock keeps two runs apart.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from tests.integration.deployment.docker_engine import docker_engine
from tests.support.services import cache_dir, unavailable

REPO = Path(__file__).resolve().parents[3]
RUST_BASE_DOCKERFILE = Path(__file__).with_name("rust-base.Dockerfile")
BUILD_TIMEOUT_S = 3600
SUITE_TAG = "code-mcp:test"


@dataclass(frozen=True)
class BuiltImage:
    client: docker.DockerClient
    tag: str
    log: str


def build(client: docker.DockerClient, *, path: Path, tag: str, dockerfile: str, args: dict[str, str]) -> str:
    """Run one build through the Engine API (legacy builder: what every engine speaks); its log."""
    lines: list[str] = []
    stream: Any = client.api.build(
        path=str(path),
        dockerfile=dockerfile,
        tag=tag,
        buildargs=args,
        network_mode="host",
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        timeout=BUILD_TIMEOUT_S,
    )
    for chunk in stream:
        if "error" in chunk:
            tail = "".join(lines[-60:])
            raise AssertionError(f"docker build of {tag} failed: {chunk['error']}\n{tail}")
        lines.append(str(chunk.get("stream", "")))
    return "".join(lines)


def import_base(client: docker.DockerClient, tarball: Path, recipe: str) -> str:
    """Import the debootstrap rootfs once per recipe; the tag names the recipe's hash."""
    tag = f"code-mcp-local/python:3.11-bookworm-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    if not client.images.list(name=tag):
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
    return tag


@contextmanager
def suite_image() -> Iterator[BuiltImage]:
    """The repository's Dockerfile built on the local stand-in bases, in a cached dockerd."""
    tarball = cache_dir() / "images" / "bookworm-python3.tar"
    recipe = tarball.with_name(tarball.name + ".recipe")
    if not (tarball.is_file() and recipe.is_file()):
        unavailable(f"no local base image at {tarball}: run scripts/setup.d/55-base-image.sh (as root)")
    root = cache_dir() / "dockerd-images"
    root.mkdir(parents=True, exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with docker_engine(root) as engine:
            client = docker.DockerClient(base_url=engine.host, version="1.41", timeout=BUILD_TIMEOUT_S)
            try:
                python_base = import_base(client, tarball, recipe.read_text())
                rust_base = python_base.replace("/python:3.11-", "/rust:")
                build(
                    client,
                    path=RUST_BASE_DOCKERFILE.parent,
                    tag=rust_base,
                    dockerfile=RUST_BASE_DOCKERFILE.name,
                    args={"BASE": python_base},
                )
                log = build(
                    client,
                    path=REPO,
                    tag=SUITE_TAG,
                    dockerfile="Dockerfile",
                    args={"RUST_IMAGE": rust_base, "PYTHON_IMAGE": python_base},
                )
                yield BuiltImage(client=client, tag=SUITE_TAG, log=log)
            finally:
                client.containers.prune()
                client.images.prune(filters={"dangling": True})
                client.close()
