"""Docker domain logic: list, inspect, logs, stats, hardened run, stop/remove, build.

Blocking calls to the `docker` client; the server runs them through `anyio.to_thread`. Every
input is validated here, at the boundary, before it reaches the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import docker
import docker.errors
import requests.exceptions

from servers.deployment.build_inputs import build_inputs
from servers.deployment.models import (
    BuiltImage,
    ContainerAction,
    ContainerInfo,
    ContainerLogs,
    ContainerStats,
    ContainerSummary,
    Hardening,
    ImageSummary,
    RunSpec,
)
from servers.deployment.ownership import OwnershipLedger
from servers.deployment.settings import DeploymentSettings
from shared.errors import InvalidArgument, NotFound, PermissionDenied, UpstreamUnavailable
from shared.output import clip, redact
from shared.validation import image_ref, no_nul, path_within

MANAGED_LABEL = "code.managed"
OWNER_LABEL = "code.owner"

_CONTAINER_REF = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
_USER = re.compile(r"^[a-z_0-9][a-z0-9_.-]{0,31}(:[a-z_0-9][a-z0-9_.-]{0,31})?$")
_MEMORY = re.compile(r"^([1-9][0-9]*)([bkmg])$")
_STEP = re.compile(r"^Step (\d+)/(\d+) :")
_UNITS = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30}

ProgressCallback = Callable[[float, float | None, str], None]


class DockerPolicy(Protocol):
    """The part of `shared.policy.Policy` the Docker tools use."""

    def check_mount(self, path: str) -> Path: ...

    def check_scan_path(self, path: str) -> Path: ...

    def check_image_pull(self, image: str) -> str: ...

    def check_url(self, url: str) -> str: ...


def memory_bytes(value: str) -> int:
    """`256m` -> 268435456; `InvalidArgument` for anything else."""
    match = _MEMORY.match(value.strip().lower())
    if match is None:
        raise InvalidArgument(f"memory limit {value!r} must look like 64m, 512m or 1g")
    return int(match[1]) * _UNITS[match[2]]


def container_ref(value: str) -> str:
    """A container id or name."""
    no_nul(value, what="container")
    if not _CONTAINER_REF.match(value):
        raise InvalidArgument(f"container {value[:80]!r} is not a container id or name; list them first")
    return value


@contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """Translate the docker client's exceptions into tool errors, in one place."""
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
        client: docker.DockerClient,
        settings: DeploymentSettings,
        policy: DockerPolicy,
        ledger: OwnershipLedger | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.policy = policy
        self.ledger = ledger if ledger is not None else OwnershipLedger(settings.ownership_file)

    @classmethod
    def connect(cls, settings: DeploymentSettings, policy: DockerPolicy) -> DockerOps:
        """A client for `settings.docker_host` (no call is made until a tool runs)."""
        client = docker.DockerClient(
            base_url=settings.docker_host,
            version=settings.docker_api_version,
            timeout=int(settings.docker_timeout_s),
        )
        return cls(client, settings, policy)

    def close(self) -> None:
        self.client.close()

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
        text = redact(raw.decode("utf-8", errors="replace"))
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

    def _run_kwargs(self, spec: RunSpec, owner: str) -> dict[str, Any]:
        """The engine arguments for `spec`, hardened; refuses what the policy does not allow."""
        defaults = self.settings.run_defaults
        if spec.privileged:
            raise PermissionDenied(
                "privileged containers are never started by this server; drop `privileged`"
            )
        image = image_ref(spec.image)
        command = [no_nul(arg, what="command argument") for arg in spec.command]
        for key, value in spec.env.items():
            if not _ENV_NAME.match(key):
                raise InvalidArgument(
                    f"environment variable name {key[:60]!r} must match [A-Za-z_][A-Za-z0-9_]*"
                )
            no_nul(value, what=f"value of {key}")
        name = container_ref(spec.name) if spec.name is not None else None
        memory = memory_bytes(spec.memory or defaults.memory)
        if memory > memory_bytes(defaults.max_memory) or memory < 6 * 2**20:
            raise InvalidArgument(f"memory must be between 6m and {defaults.max_memory}")
        cpus = spec.cpus if spec.cpus is not None else defaults.cpus
        if cpus > defaults.max_cpus:
            raise InvalidArgument(f"cpus must be at most {defaults.max_cpus}")
        pids = spec.pids if spec.pids is not None else defaults.pids
        if pids > defaults.max_pids:
            raise InvalidArgument(f"pids must be at most {defaults.max_pids}")
        network = spec.network or defaults.network_modes[0]
        if network not in defaults.network_modes:
            raise PermissionDenied(
                f"network mode {network!r} is not allowed; use one of {', '.join(defaults.network_modes)}"
            )
        if spec.user is not None and not _USER.match(spec.user):
            raise InvalidArgument("user must be a name or uid, optionally :group or :gid, e.g. 65534:65534")
        ports: dict[str, tuple[str, int]] = {}
        for container_port, host_port in spec.ports.items():
            if not (0 < container_port < 65536 and 1024 <= host_port < 65536):
                raise InvalidArgument("ports map a container port (1-65535) to a host port (1024-65535)")
            ports[f"{container_port}/tcp"] = ("127.0.0.1", host_port)
        if ports and network in ("none", "host"):
            raise InvalidArgument(f"ports cannot be published with network mode {network!r}; use 'bridge'")
        volumes: dict[str, dict[str, str]] = {}
        for mount in spec.mounts:
            source = self.policy.check_mount(mount.source)
            target = no_nul(mount.target, what="mount target")
            if not target.startswith("/") or ".." in Path(target).parts or ":" in target:
                raise InvalidArgument(f"mount target {target!r} must be an absolute path without '..' or ':'")
            volumes[str(source)] = {"bind": target, "mode": "ro" if mount.read_only else "rw"}
        if spec.workdir is not None and not no_nul(spec.workdir, what="workdir").startswith("/"):
            raise InvalidArgument("workdir must be an absolute path")
        return {
            "image": image,
            "command": command or None,
            "name": name,
            "environment": dict(spec.env),
            "ports": ports,
            "volumes": volumes,
            "user": spec.user,
            "working_dir": spec.workdir,
            "network_mode": network,
            "labels": {MANAGED_LABEL: "true", OWNER_LABEL: owner[:63]},
            "privileged": False,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mem_limit": memory,
            "memswap_limit": memory,
            "nano_cpus": int(cpus * 1e9),
            "pids_limit": pids,
            "read_only": spec.read_only,
            "init": False,
            "detach": True,
        }

    def ensure_image(self, image: str) -> None:
        """Make sure `image` is on the engine: present already, or pulled from an allowed registry.

        The engine would pull a missing image by itself from wherever its name points (an attacker's
        registry, `169.254.169.254`, `127.0.0.1:6379`): the policy's registry allowlist decides first.
        """
        try:
            self.client.api.inspect_image(image)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise UpstreamUnavailable(f"inspect image {image}: {exc.explanation}") from exc
        self.policy.check_image_pull(image)
        with docker_errors(f"pull {image}"):
            self.client.api.pull(image)

    def run(self, spec: RunSpec, *, owner: str) -> ContainerInfo:
        """Start a container with the hardened defaults, recorded in the ledger as `owner`'s."""
        kwargs = self._run_kwargs(spec, owner)
        self.ensure_image(kwargs["image"])
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

    def _check_build_inputs(self, dockerfile: Path) -> None:
        """Refuse a build whose base images or `ADD` URLs the policy does not allow (checked first,
        because the engine fetches them itself, outside the build's network-less steps)."""
        try:
            text = dockerfile.read_text(errors="replace")
        except OSError as exc:
            raise InvalidArgument(f"the Dockerfile cannot be read: {exc.strerror}") from exc
        inputs = build_inputs(text)
        for url in inputs.urls:
            self.policy.check_url(url)
        for image in inputs.images:
            self.ensure_image(image_ref(image))

    def build_context(self, context: str) -> Path:
        """The build context folder, inside the build roots (or the policy's scan roots)."""
        if self.settings.build_roots:
            path = path_within(context, self.settings.build_roots, must_exist=True, what="build context")
        else:
            path = self.policy.check_scan_path(context)
        if not path.is_dir():
            raise InvalidArgument(f"build context {context!r} must be a folder")
        return path

    def build(
        self,
        context: str,
        *,
        tag: str,
        dockerfile: str = "Dockerfile",
        owner: str,
        progress: ProgressCallback | None = None,
    ) -> BuiltImage:
        """Build an image from a context folder, without network, reporting each Dockerfile step."""
        root = self.build_context(context)
        tag = image_ref(tag)
        dockerfile_path = path_within(dockerfile, [root], must_exist=True, what="dockerfile")
        if not dockerfile_path.is_file():
            raise InvalidArgument(f"dockerfile {dockerfile!r} must be a file inside the build context")
        self._check_build_inputs(dockerfile_path)
        lines: list[str] = []
        steps = 0
        image_id = ""
        with docker_errors(f"build {tag}"):
            stream = self.client.api.build(
                path=str(root),
                dockerfile=str(dockerfile_path.relative_to(root)),
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="none",
                labels={MANAGED_LABEL: "true", OWNER_LABEL: owner[:63]},
                decode=True,
                timeout=int(self.settings.build_timeout_s),
            )
            for chunk in stream:
                if "error" in chunk:
                    detail = redact(str(chunk.get("error", "")))[:2000]
                    raise InvalidArgument(f"build of {tag} failed: {detail}")
                text = str(chunk.get("stream", ""))
                if aux := chunk.get("aux"):
                    image_id = str(aux.get("ID", image_id))
                if not text.strip():
                    continue
                lines.extend(text.rstrip("\n").splitlines())
                if match := _STEP.match(text):
                    steps = int(match[1])
                    if progress is not None:
                        progress(float(steps), float(match[2]), text.strip()[:200])
        if not image_id:
            with docker_errors(f"inspect {tag}"):
                image_id = self.client.api.inspect_image(tag)["Id"]
        tail, _ = clip(redact("\n".join(lines[-40:])), 4000)
        self.ledger.record(image_id, owner)
        return BuiltImage(id=image_id, tag=tag, steps=steps, log_tail=tail)
