"""The hardening every container this server starts gets, and the checks that refuse the rest.

`run_kwargs` turns a `RunSpec` into the Docker engine arguments for `docker_run`: never privileged,
all capabilities dropped, no-new-privileges, memory/CPU/pids limits inside the configured ceilings,
a network mode from the allowed ones, host mounts only inside the policy's mount roots. The same
primitives check each service of a Compose project (`compose_checks`). Pure logic: no client calls.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final, Protocol

from servers.deployment.models import RunSpec
from servers.deployment.settings import DeploymentSettings
from shared.errors import InvalidArgument, PermissionDenied
from shared.validation import image_ref, no_nul

__all__ = [
    "MANAGED_LABEL",
    "OWNER_LABEL",
    "HardeningPolicy",
    "check_mount_target",
    "container_ref",
    "env_name",
    "memory_bytes",
    "run_kwargs",
]

MANAGED_LABEL: Final = "code.managed"
OWNER_LABEL: Final = "code.owner"

_CONTAINER_REF: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
_USER: Final = re.compile(r"^[a-z_0-9][a-z0-9_.-]{0,31}(:[a-z_0-9][a-z0-9_.-]{0,31})?$")
_MEMORY: Final = re.compile(r"^([1-9][0-9]*)([bkmg])$")
_UNITS: Final = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
MIN_MEMORY: Final = 6 * 2**20


class HardeningPolicy(Protocol):
    """The part of `shared.policy.Policy` the hardening asks."""

    def check_mount(self, path: str) -> Path: ...


def memory_bytes(value: str) -> int:
    """`256m` -> 268435456; `InvalidArgument` for anything else."""
    match = _MEMORY.match(value.strip().lower())
    if match is None:
        raise InvalidArgument(f"memory limit {value!r} must look like 64m, 512m or 1g")
    return int(match[1]) * _UNITS[match[2]]


def container_ref(value: str, *, what: str = "container") -> str:
    """A container (or network, volume) id or name."""
    no_nul(value, what=what)
    if not _CONTAINER_REF.match(value):
        raise InvalidArgument(f"{what} {value[:80]!r} is not a {what} id or name; list them first")
    return value


def env_name(key: str) -> str:
    """An environment variable name (no `=`, no spaces)."""
    if not _ENV_NAME.match(key):
        raise InvalidArgument(f"environment variable name {key[:60]!r} must match [A-Za-z_][A-Za-z0-9_]*")
    return key


def check_mount_target(target: str) -> str:
    """An absolute path inside the container, without `..` or `:`."""
    no_nul(target, what="mount target")
    if not target.startswith("/") or ".." in Path(target).parts or ":" in target:
        raise InvalidArgument(f"mount target {target!r} must be an absolute path without '..' or ':'")
    return target


def check_limits(
    settings: DeploymentSettings, *, memory: str | None, cpus: float | None, pids: int | None
) -> tuple[int, float, int]:
    """Memory (bytes), CPUs and pids, defaulted and inside the configured ceilings."""
    defaults = settings.run_defaults
    size = memory_bytes(memory or defaults.memory)
    if size > memory_bytes(defaults.max_memory) or size < MIN_MEMORY:
        raise InvalidArgument(f"memory must be between 6m and {defaults.max_memory}")
    cores = cpus if cpus is not None else defaults.cpus
    if cores > defaults.max_cpus:
        raise InvalidArgument(f"cpus must be at most {defaults.max_cpus}")
    count = pids if pids is not None else defaults.pids
    if count > defaults.max_pids:
        raise InvalidArgument(f"pids must be at most {defaults.max_pids}")
    return size, cores, count


def check_network(settings: DeploymentSettings, network: str | None) -> str:
    """The network mode, defaulted, among `run_defaults.network_modes`."""
    modes = settings.run_defaults.network_modes
    mode = network or modes[0]
    if mode not in modes:
        raise PermissionDenied(f"network mode {mode!r} is not allowed; use one of {', '.join(modes)}")
    return mode


def run_kwargs(
    spec: RunSpec, owner: str, settings: DeploymentSettings, policy: HardeningPolicy
) -> dict[str, Any]:
    """The engine arguments for `spec`, hardened; refuses what the policy does not allow."""
    if spec.privileged:
        raise PermissionDenied("privileged containers are never started by this server; drop `privileged`")
    image = image_ref(spec.image)
    command = [no_nul(arg, what="command argument") for arg in spec.command]
    for key, value in spec.env.items():
        env_name(key)
        no_nul(value, what=f"value of {key}")
    name = container_ref(spec.name) if spec.name is not None else None
    memory, cpus, pids = check_limits(settings, memory=spec.memory, cpus=spec.cpus, pids=spec.pids)
    network = check_network(settings, spec.network)
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
        source = policy.check_mount(mount.source)
        target = check_mount_target(mount.target)
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
