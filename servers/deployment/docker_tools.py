"""The deployment server's Docker toolset: wiring only; the logic is `docker_ops.DockerOps`.

Reads at the read tier; `docker_run`, `docker_stop`, `docker_remove` and `docker_build` at the write
tier. The Docker client blocks, so every tool is a plain `def` the kit runs in a worker thread.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.from_thread
from mcp.server.mcpserver import Context
from pydantic import Field

from servers.deployment.docker_build import DockerBuilds
from servers.deployment.docker_ops import DockerOps
from servers.deployment.docker_resources import DockerResources
from servers.deployment.models import (
    BuiltImage,
    ContainerAction,
    ContainerInfo,
    ContainerLogs,
    ContainerStats,
    ContainerSummary,
    ImageAction,
    ImageScans,
    ImageSummary,
    Mount,
    NetworkSummary,
    ResourceAction,
    RunSpec,
    VolumeSummary,
)
from shared.calls import current_identity
from shared.paging import Cursor, Limit, Page, page
from shared.toolkit import ServerKit

ContainerRef = Annotated[
    str, Field(description="Container id (or its first 12 hex digits) or name", max_length=128)
]
ImageRef = Annotated[
    str, Field(description="Image reference, e.g. registry.example.com/app:1.2", max_length=512)
]
ResourceName = Annotated[str, Field(description="Name (letters, digits, '_', '.', '-')", max_length=128)]
Tail = Annotated[int, Field(description="How many of the last lines to return", ge=1, le=100_000)]
SinceS = Annotated[int | None, Field(description="Only lines from the last N seconds", ge=1)]


def docker_tools(kit: ServerKit, docker: DockerOps) -> None:
    """Register the Docker tools on `kit`, driving `docker`."""
    reads = kit.toolset(permission="deployment:read", open_world=True)
    writes = kit.toolset(permission="deployment:write", open_world=True)
    builds = DockerBuilds(docker)
    resources = DockerResources(docker)

    def is_admin() -> bool:
        return kit.policy.allows(current_identity().role, "deployment:admin")

    @reads.tool("docker_list_containers", "List Docker containers")
    def docker_list_containers(
        include_stopped: Annotated[bool, Field(description="Also list stopped containers")] = False,
        managed_only: Annotated[bool, Field(description="Only containers this suite started")] = False,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[ContainerSummary]:
        """List containers (running ones by default) with their state and whether this suite manages them."""
        return page(docker.list_containers(include_stopped=include_stopped, managed_only=managed_only))

    @reads.tool("docker_inspect_container", "Inspect a Docker container")
    def docker_inspect_container(container: ContainerRef) -> ContainerInfo:
        """Show one container: image, state, command, labels, published ports and the security settings
        it really runs with (environment values are hidden)."""
        return docker.inspect_container(container)

    @reads.tool("docker_container_logs", "Read a Docker container's logs")
    def docker_container_logs(
        container: ContainerRef, tail: Tail = 200, since_s: SinceS = None
    ) -> ContainerLogs:
        """The last lines of a container's stdout and stderr, secrets redacted, cut to the output budget."""
        return docker.logs(container, tail=tail, since_s=since_s, max_chars=kit.budget.max_chars)

    @reads.tool("docker_container_stats", "Docker container resource usage")
    def docker_container_stats(container: ContainerRef) -> ContainerStats:
        """A one-shot snapshot of a running container's CPU, memory (against its limit), processes and
        network."""
        return docker.stats(container)

    @reads.tool("docker_list_images", "List Docker images")
    def docker_list_images(cursor: Cursor = None, limit: Limit = None) -> Page[ImageSummary]:
        """List local images with their tags and sizes."""
        return page(docker.list_images())

    @writes.tool("docker_run", "Run a hardened Docker container", destructive=False, idempotent=False)
    def docker_run(
        image: Annotated[str, Field(description="Image reference, e.g. busybox:local", max_length=512)],
        command: Annotated[
            list[str] | None, Field(description="Command and arguments, no shell parsing", max_length=256)
        ] = None,
        name: Annotated[str | None, Field(description="Container name", max_length=128)] = None,
        env: Annotated[dict[str, str] | None, Field(description="Environment variables")] = None,
        ports: Annotated[
            dict[int, int] | None, Field(description="container port -> host port, published on 127.0.0.1")
        ] = None,
        memory: Annotated[
            str | None, Field(description="Memory limit, e.g. 128m, 1g (default from config)")
        ] = None,
        cpus: Annotated[float | None, Field(description="CPU limit in cores, e.g. 0.5", gt=0)] = None,
        pids: Annotated[int | None, Field(description="Limit on processes", ge=8)] = None,
        read_only: Annotated[bool, Field(description="Read-only root filesystem")] = False,
        user: Annotated[str | None, Field(description="user or uid[:gid], e.g. 65534:65534")] = None,
        network: Annotated[
            str | None, Field(description="Network mode: none (default), bridge, host if allowed")
        ] = None,
        mounts: Annotated[
            list[Mount] | None, Field(description="Host folders to mount (policy-checked)")
        ] = None,
        workdir: Annotated[str | None, Field(description="Working directory inside the container")] = None,
        privileged: Annotated[
            bool, Field(description="Must stay false: privileged mode is always refused")
        ] = False,
        image_scans: ImageScans = None,
    ) -> ContainerInfo:
        """Start a container detached, hardened: never privileged, all capabilities dropped,
        no-new-privileges, memory/CPU/pids limits, network 'none' unless another allowed mode is asked
        for, host mounts only inside the allowed roots, labelled code.managed. With the image gate
        configured, the image needs a clean scan_image attestation in image_scans. Returns what the
        engine really applied."""
        spec = RunSpec(
            image=image, command=command or [], name=name, env=env or {}, ports=ports or {},
            memory=memory, cpus=cpus, pids=pids, read_only=read_only, user=user, network=network,
            mounts=mounts or [], workdir=workdir, privileged=privileged,
        )  # fmt: skip
        return docker.run(spec, owner=current_identity().subject, image_scans=image_scans)

    @writes.tool("docker_stop", "Stop a Docker container", idempotent=True)
    def docker_stop(
        container: ContainerRef,
        timeout_s: Annotated[int, Field(description="Seconds to wait before killing", ge=0, le=300)] = 10,
    ) -> ContainerAction:
        """Stop a container you started through this server (admins may stop any)."""
        return docker.stop(
            container, caller=current_identity().subject, admin=is_admin(), timeout_s=timeout_s
        )

    @writes.tool("docker_remove", "Remove a Docker container")
    def docker_remove(
        container: ContainerRef,
        force: Annotated[bool, Field(description="Kill it first if it is running")] = False,
    ) -> ContainerAction:
        """Remove a container you started through this server (admins may remove any). A running one needs
        force=true."""
        return docker.remove(container, caller=current_identity().subject, admin=is_admin(), force=force)

    @writes.tool("docker_build", "Build a Docker image", destructive=False, idempotent=False)
    def docker_build(
        context: Annotated[
            str, Field(description="Folder with the build context (inside the allowed roots)")
        ],
        tag: Annotated[str, Field(description="Tag for the image, e.g. app:1.2", max_length=256)],
        ctx: Context,
        dockerfile: Annotated[str, Field(description="Dockerfile path inside the context")] = "Dockerfile",
    ) -> BuiltImage:
        """Build an image from a folder inside the allowed roots, without network access, reporting each
        Dockerfile step as progress."""

        def progress(done: float, total: float | None, message: str) -> None:
            anyio.from_thread.run(partial(ctx.report_progress, done, total, message))

        owner = current_identity().subject
        return builds.build(context, tag=tag, dockerfile=dockerfile, owner=owner, progress=progress)

    @writes.tool("docker_start", "Start a Docker container", idempotent=True, destructive=False)
    def docker_start(container: ContainerRef) -> ContainerAction:
        """Start a stopped container you started through this server (admins may start any)."""
        return docker.start(container, caller=current_identity().subject, admin=is_admin())

    @writes.tool("docker_restart", "Restart a Docker container", idempotent=False)
    def docker_restart(
        container: ContainerRef,
        timeout_s: Annotated[int, Field(description="Seconds to wait before killing", ge=0, le=300)] = 10,
    ) -> ContainerAction:
        """Restart a container you started through this server (admins may restart any)."""
        return docker.restart(
            container, caller=current_identity().subject, admin=is_admin(), timeout_s=timeout_s
        )

    @writes.tool("docker_pull", "Pull a Docker image", destructive=False, idempotent=True)
    def docker_pull(image: ImageRef) -> ImageAction:
        """Pull an image from a registry the policy allows ([policy] image_registries); a new image is
        recorded as yours."""
        return docker.pull(image, owner=current_identity().subject)

    @writes.tool("docker_image_remove", "Remove a Docker image")
    def docker_image_remove(
        image: ImageRef, force: Annotated[bool, Field(description="Remove even if containers use it")] = False
    ) -> ImageAction:
        """Remove an image you built or pulled through this server (admins may remove any)."""
        return docker.remove_image(image, caller=current_identity().subject, admin=is_admin(), force=force)

    @reads.tool("docker_networks", "List Docker networks")
    def docker_networks(cursor: Cursor = None, limit: Limit = None) -> Page[NetworkSummary]:
        """Networks on the engine, and whether this server created them."""
        return page(resources.networks())

    @writes.tool("docker_network_create", "Create a Docker network", destructive=False, idempotent=False)
    def docker_network_create(
        name: ResourceName,
        internal: Annotated[bool, Field(description="No route out of the host (the default)")] = True,
    ) -> ResourceAction:
        """Create a bridge network recorded as yours (internal unless asked otherwise)."""
        return resources.create_network(name, owner=current_identity().subject, internal=internal)

    @writes.tool("docker_network_remove", "Remove a Docker network")
    def docker_network_remove(name: ResourceName) -> ResourceAction:
        """Remove a network you created through this server (admins may remove any)."""
        return resources.remove_network(name, caller=current_identity().subject, admin=is_admin())

    @reads.tool("docker_volumes", "List Docker volumes")
    def docker_volumes(cursor: Cursor = None, limit: Limit = None) -> Page[VolumeSummary]:
        """Volumes on the engine, and whether this server created them."""
        return page(resources.volumes())

    @writes.tool("docker_volume_create", "Create a Docker volume", destructive=False, idempotent=False)
    def docker_volume_create(name: ResourceName) -> ResourceAction:
        """Create a local volume (no driver options) recorded as yours."""
        return resources.create_volume(name, owner=current_identity().subject)

    @writes.tool("docker_volume_remove", "Remove a Docker volume")
    def docker_volume_remove(name: ResourceName) -> ResourceAction:
        """Remove a volume you created through this server (admins may remove any); its data is lost."""
        return resources.remove_volume(name, caller=current_identity().subject, admin=is_admin())
