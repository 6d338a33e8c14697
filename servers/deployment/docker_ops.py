"""Docker domain logic: list, inspect, logs, stats; hardened run; start, restart, stop, remove; pull
and image removal. Builds are `docker_build.py`, networks and volumes `docker_resources.py`, the
hardening itself `docker_hardening.py`.

Blocking calls to the `docker` client; the kit runs the tools in worker threads. Every input is
validated here, at the boundary, before it reaches the engine; every change to something that
already exists asks the ownership ledger first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from servers.deployment.docker_hardening import (
    MANAGED_LABEL,
    OWNER_LABEL,
    container_ref,
    memory_bytes,
    run_kwargs,
)
from servers.deployment.models import (
    ContainerAction,
    ContainerInfo,
    ContainerLogs,
    ContainerStats,
    ContainerSummary,
    Hardening,
    ImageAction,
    ImageSummary,
    RunSpec,
)
from servers.deployment.settings import DeploymentSettings
from shared.errors import InvalidArgument, NotFound, UpstreamUnavailable
from shared.image_gate import ImageGate
from shared.output import clip
from shared.ownership import OwnershipLedger
from shared.redaction import redact_text
from shared.validation import image_ref

if TYPE_CHECKING:
    import docker

__all__ = [
    "MANAGED_LABEL",
    "OWNER_LABEL",
    "DockerOps",
    "DockerPolicy",
    "container_ref",
    "docker_errors",
    "memory_bytes",
]


class DockerPolicy(Protocol):
    """The part of `shared.policy.Policy` the Docker tools use."""

    def check_mount(self, path: str) -> Path: ...

    def check_scan_path(self, path: str) -> Path: ...

    def check_image_pull(self, image: str) -> str: ...

    def check_url(self, url: str) -> str: ...


@contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """Translate the docker client's exceptions into tool errors, in one place."""
    import docker.errors  # loaded already by the client that raised
    import requests.exceptions

    try:
        yield
    except docker.errors.NotFound as exc:
        raise NotFound(f"{what}: not found ({exc.explanation}); list what exists first") from exc
    except docker.errors.APIError as exc:
        code = exc.status_code or 500
        if 400 <= code < 500:
            raise InvalidArgument(f"{what}: the Docker engine refused it: {exc.explanation}") from exc
        raise UpstreamUnavailable(f"{what}: the Docker engine failed: {exc.explanation}") from exc
    except docker.errors.DockerException as exc:
        raise UpstreamUnavailable(f"{what}: Docker is unavailable: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise UpstreamUnavailable(
            f"{what}: cannot reach the Docker engine ({exc.__class__.__name__})"
        ) from exc


def _iso(value: str | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


def _hardening(attrs: dict[str, Any]) -> Hardening:
    host = attrs.get("HostConfig") or {}
    return Hardening(
        privileged=bool(host.get("Privileged")),
        cap_drop=list(host.get("CapDrop") or []),
        cap_add=list(host.get("CapAdd") or []),
        security_opt=list(host.get("SecurityOpt") or []),
        read_only_rootfs=bool(host.get("ReadonlyRootfs")),
        user=str((attrs.get("Config") or {}).get("User") or ""),
        memory_bytes=int(host.get("Memory") or 0),
        nano_cpus=int(host.get("NanoCpus") or 0),
        pids_limit=host.get("PidsLimit"),
        network_mode=str(host.get("NetworkMode") or ""),
        binds=list(host.get("Binds") or []),
    )


class DockerOps:
    """The Docker tools' logic over one Docker Engine."""

    def __init__(
        self,
        client: docker.DockerClient | None,
        settings: DeploymentSettings,
        policy: DockerPolicy,
        ledger: OwnershipLedger | None = None,
    ) -> None:
        self._client = client
        self._connecting = threading.Lock()
        self.settings = settings
        self.policy = policy
        self.ledger = ledger if ledger is not None else OwnershipLedger(settings.ownership_file)
        self.image_gate = ImageGate(settings.image_gate)

    @classmethod
    def connect(cls, settings: DeploymentSettings, policy: DockerPolicy) -> DockerOps:
        """Docker at `settings.docker_host`, connected when a tool first needs it."""
        return cls(None, settings, policy)

    @property
    def client(self) -> docker.DockerClient:
        """The engine's client, made on first use (the docker package and requests load with it)."""
        with self._connecting:
            if self._client is None:
                import docker

                self._client = docker.DockerClient(
                    base_url=self.settings.docker_host,
                    version=self.settings.docker_api_version,
                    timeout=int(self.settings.docker_timeout_s),
                )
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # ------------------------------------------------------------------ reads

    def list_containers(
        self, *, include_stopped: bool = False, managed_only: bool = False
    ) -> list[ContainerSummary]:
        with docker_errors("list containers"):
            raw = self.client.api.containers(all=include_stopped)
        if managed_only:
            raw = [item for item in raw if self.ledger.managed(item["Id"])]
        rows = [
            ContainerSummary(
                id=item["Id"][:12],
                name=(item.get("Names") or ["/"])[0].lstrip("/"),
                image=item.get("Image", ""),
                status=item.get("State", ""),
                managed=self.ledger.managed(item["Id"]),
                created=_iso(item.get("Created")),
            )
            for item in raw
        ]
        return sorted(rows, key=lambda row: row.name)

    def _inspect(self, ref: str) -> dict[str, Any]:
        ref = container_ref(ref)
        with docker_errors(f"container {ref}"):
            attrs: dict[str, Any] = self.client.api.inspect_container(ref)
        return attrs

    def inspect_container(self, ref: str) -> ContainerInfo:
        attrs = self._inspect(ref)
        config = attrs.get("Config") or {}
        state = attrs.get("State") or {}
        labels = dict(config.get("Labels") or {})
        ports = {
            port: [f"{b.get('HostIp', '')}:{b.get('HostPort', '')}" for b in (bindings or [])]
            for port, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items()
        }
        status = str(state.get("Status", ""))
        return ContainerInfo(
            id=attrs["Id"],
            name=str(attrs.get("Name", "")).lstrip("/"),
            image=str(config.get("Image", "")),
            status=status,
            exit_code=state.get("ExitCode") if status in ("exited", "dead") else None,
            started_at=state.get("StartedAt"),
            command=[*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])],
            env_names=sorted(entry.partition("=")[0] for entry in config.get("Env") or []),
            labels=labels,
            ports=ports,
            managed=self.ledger.managed(attrs["Id"]),
            hardening=_hardening(attrs),
        )

    def logs(
        self, ref: str, *, tail: int = 200, since_s: int | None = None, max_chars: int = 20_000
    ) -> ContainerLogs:
        ref = container_ref(ref)
        if not 1 <= tail <= self.settings.log_tail_max:
            raise InvalidArgument(f"tail must be between 1 and {self.settings.log_tail_max} lines")
        if since_s is not None and since_s < 1:
            raise InvalidArgument("since_s must be a positive number of seconds")
        since = int(datetime.now(UTC).timestamp()) - since_s if since_s else None
        with docker_errors(f"logs of {ref}"):
            raw = self.client.api.logs(
                ref, stdout=True, stderr=True, tail=tail, since=since, timestamps=False
            )
        text = redact_text(raw.decode("utf-8", errors="replace"))
        text, cut = clip(text, max_chars)
        return ContainerLogs(container=ref, text=text, lines=text.count("\n"), truncated=cut)

    def stats(self, ref: str) -> ContainerStats:
        ref = container_ref(ref)
        with docker_errors(f"stats of {ref}"):
            raw: dict[str, Any] = self.client.api.stats(ref, stream=False)
        cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
        cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get(
            "total_usage", 0
        )
        system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
        online = cpu.get("online_cpus") or 1
        percent = (cpu_delta / system_delta) * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
        memory = raw.get("memory_stats") or {}
        mem_stats = memory.get("stats") or {}
        used = int(memory.get("usage", 0)) - int(mem_stats.get("inactive_file", mem_stats.get("cache", 0)))
        networks = (raw.get("networks") or {}).values()
        return ContainerStats(
            container=ref,
            cpu_percent=round(percent, 2),
            memory_bytes=max(used, 0),
            memory_limit_bytes=int(memory.get("limit", 0)),
            pids=int((raw.get("pids_stats") or {}).get("current", 0)),
            network_rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in networks),
            network_tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in networks),
        )

    def list_images(self) -> list[ImageSummary]:
        with docker_errors("list images"):
            raw = self.client.api.images()
        rows = [
            ImageSummary(
                id=item["Id"].removeprefix("sha256:")[:12],
                tags=[t for t in item.get("RepoTags") or [] if t != "<none>:<none>"],
                size_bytes=int(item.get("Size", 0)),
                created=_iso(item.get("Created")),
            )
            for item in raw
        ]
        return sorted(rows, key=lambda row: (row.tags[:1], row.id))

    # ------------------------------------------------------------------ writes

    def ensure_image(self, image: str) -> None:
        """Make sure `image` is on the engine: present already, or pulled from an allowed registry.

        The engine would pull a missing image by itself from wherever its name points (an attacker's
        registry, `169.254.169.254`, `127.0.0.1:6379`): the policy's registry allowlist decides first.
        """
        import docker.errors

        try:
            self.client.api.inspect_image(image)
            return
        except docker.errors.APIError as exc:  # not here (404), or a reference the engine cannot read (400)
            if not 400 <= (exc.status_code or 500) < 500:
                raise UpstreamUnavailable(f"inspect image {image}: {exc.explanation}") from exc
        self.policy.check_image_pull(image)
        with docker_errors(f"pull {image}"):
            self.client.api.pull(image)

    def _run_kwargs(self, spec: RunSpec, owner: str) -> dict[str, Any]:
        """The hardened engine arguments for `spec` (see `docker_hardening.run_kwargs`)."""
        return run_kwargs(spec, owner, self.settings, self.policy)

    def run(self, spec: RunSpec, *, owner: str, image_scans: list[str] | None = None) -> ContainerInfo:
        """Start a container with the hardened defaults, recorded in the ledger as `owner`'s.

        With the image gate on, the image the engine resolved must be vouched for by one of
        `image_scans`, and the container is created from that image id (a re-tag in between
        cannot swap it)."""
        kwargs = self._run_kwargs(spec, owner)
        self.ensure_image(kwargs["image"])
        if self.image_gate.enabled:
            kwargs["image"] = self.gated_image(kwargs["image"], image_scans)
        with docker_errors(f"run {kwargs['image']}"):
            container = self.client.containers.run(**kwargs)
        self.ledger.record(container.id, owner)
        return self.inspect_container(container.id)

    def _owned(self, ref: str, *, caller: str, admin: bool, verb: str) -> dict[str, Any]:
        attrs = self._inspect(ref)
        self.ledger.require(attrs["Id"], caller=caller, admin=admin, what="container", verb=verb, shown=ref)
        return attrs

    def stop(self, ref: str, *, caller: str, admin: bool, timeout_s: int = 10) -> ContainerAction:
        attrs = self._owned(ref, caller=caller, admin=admin, verb="stop")
        if not 0 <= timeout_s <= 300:
            raise InvalidArgument("timeout_s must be between 0 and 300 seconds")
        with docker_errors(f"stop {ref}"):
            self.client.api.stop(attrs["Id"], timeout=timeout_s)
            state = self.client.api.inspect_container(attrs["Id"])["State"]["Status"]
        return ContainerAction(container=attrs["Id"][:12], action="stopped", status=state)

    def remove(self, ref: str, *, caller: str, admin: bool, force: bool = False) -> ContainerAction:
        attrs = self._owned(ref, caller=caller, admin=admin, verb="remove")
        if (attrs.get("State") or {}).get("Running") and not force:
            raise InvalidArgument(f"container {ref!r} is running; stop it first or pass force=true")
        with docker_errors(f"remove {ref}"):
            self.client.api.remove_container(attrs["Id"], force=force)
        self.ledger.forget(attrs["Id"])
        return ContainerAction(container=attrs["Id"][:12], action="removed", status="removed")

    def start(self, ref: str, *, caller: str, admin: bool) -> ContainerAction:
        """Start a stopped container this caller created through the server (admins: any)."""
        attrs = self._owned(ref, caller=caller, admin=admin, verb="start")
        with docker_errors(f"start {ref}"):
            self.client.api.start(attrs["Id"])
            state = self.client.api.inspect_container(attrs["Id"])["State"]["Status"]
        return ContainerAction(container=attrs["Id"][:12], action="started", status=state)

    def restart(self, ref: str, *, caller: str, admin: bool, timeout_s: int = 10) -> ContainerAction:
        """Restart a container this caller created through the server (admins: any)."""
        attrs = self._owned(ref, caller=caller, admin=admin, verb="restart")
        if not 0 <= timeout_s <= 300:
            raise InvalidArgument("timeout_s must be between 0 and 300 seconds")
        with docker_errors(f"restart {ref}"):
            self.client.api.restart(attrs["Id"], timeout=timeout_s)
            state = self.client.api.inspect_container(attrs["Id"])["State"]["Status"]
        return ContainerAction(container=attrs["Id"][:12], action="restarted", status=state)

    # ------------------------------------------------------------------ images

    def gated_image(self, image: str, image_scans: list[str] | None) -> str:
        """The id of `image` on the engine, once the image gate has accepted it."""
        image_id = self.image_id(image)
        if image_id is None:
            raise NotFound(f"image {image[:120]!r} is not on the engine; pull it (docker_pull) and scan it")
        self.image_gate.require_engine_image(image_id, shown=image, tokens=image_scans)
        return image_id

    def image_id(self, image: str) -> str | None:
        import docker.errors

        try:
            return str(self.client.api.inspect_image(image)["Id"])
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            raise UpstreamUnavailable(f"inspect image {image}: {exc.explanation}") from exc

    def pull(self, image: str, *, owner: str) -> ImageAction:
        """Pull `image` from a registry the policy allows; a new image is recorded as `owner`'s."""
        ref = self.policy.check_image_pull(image_ref(image))
        before = self.image_id(ref)
        repository, tag = _split_tag(ref)
        with docker_errors(f"pull {ref}"):
            self.client.api.pull(repository, tag=tag)
        after = self.image_id(ref)
        if after is None:
            raise UpstreamUnavailable(f"pull {ref}: the engine reported no image after the pull")
        if after != before:
            self.ledger.record(after, owner)
        return ImageAction(image=ref, id=after.removeprefix("sha256:")[:12], action="pulled")

    def remove_image(self, image: str, *, caller: str, admin: bool, force: bool = False) -> ImageAction:
        """Remove an image this caller built or pulled through the server (admins: any)."""
        ref = image_ref(image)
        image_id = self.image_id(ref)
        if image_id is None:
            raise NotFound(f"image {ref!r}: not found; list images with docker_list_images")
        self.ledger.require(image_id, caller=caller, admin=admin, what="image", verb="remove", shown=ref)
        with docker_errors(f"remove image {ref}"):
            self.client.api.remove_image(ref, force=force, noprune=False)
        if self.image_id(image_id) is None:
            self.ledger.forget(image_id)
        return ImageAction(image=ref, id=image_id.removeprefix("sha256:")[:12], action="removed")


def _split_tag(ref: str) -> tuple[str, str | None]:
    """`registry:5000/app:v1` -> (`registry:5000/app`, `v1`); a digest stays with the name."""
    if "@" in ref:
        return ref, None
    name, colon, tag = ref.rpartition(":")
    if colon and "/" not in tag:
        return name, tag
    return ref, "latest"
