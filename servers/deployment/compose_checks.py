"""Each service of a resolved Compose model, checked with docker_run's hardening rules — and hardened.

Refused (each names the service and the field): `privileged`; `cap_add`; `devices` and
`device_cgroup_rules`; host (or another container's) `pid`, `ipc`, `uts`, `userns_mode`, `cgroup`;
a `network_mode` outside `run_defaults.network_modes` (a service on networks counts as `bridge`);
`security_opt` other than no-new-privileges (seccomp/apparmor unconfined, label disable, ...);
`sysctls`; `runtime`; `volumes_from`; bind mounts (and `file:` configs and secrets) outside the
policy's mount roots; volumes with a driver other than `local` or any driver options (a `local`
option can bind any host path) or `external`; `build:` (build with docker_build, then reference the
image); `env_file` outside the project folder; ports published on anything but loopback; limits
above the configured ceilings. Then every service gets what docker_run gives every container:
`cap_drop: [ALL]`, `no-new-privileges`, memory, CPU and pids limits (defaults where unset), ports on
127.0.0.1, and the `code.managed` / `code.owner` labels. Pure logic over the model's JSON.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Final

from servers.deployment.docker_hardening import (
    MANAGED_LABEL,
    OWNER_LABEL,
    HardeningPolicy,
    check_limits,
    check_mount_target,
    check_network,
)
from servers.deployment.settings import DeploymentSettings
from shared.errors import InvalidArgument, PermissionDenied
from shared.validation import image_ref, path_within

__all__ = ["PROJECT_NAME", "env_files", "harden_model"]

PROJECT_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_NAMESPACES: Final = ("pid", "ipc", "uts", "userns_mode", "cgroup")
_REFUSED: Final = {
    "privileged": "privileged mode is never used",
    "cap_add": "capabilities are never added (every container drops ALL)",
    "devices": "host devices are never passed into a container",
    "device_cgroup_rules": "device cgroup rules are never set",
    "sysctls": "kernel parameters (sysctls) are never set",
    "runtime": "the container runtime is never chosen by a project",
    "volumes_from": "volumes of other containers are never mounted",
    "build": "build: sections are refused; build the image with docker_build and reference it by name",
    "oom_kill_disable": "the OOM killer is never disabled",
    "cgroup_parent": "the cgroup parent is never chosen by a project",
}
_LOOPBACK: Final = ("127.0.0.1", "::1")


def _refuse(service: str, field: str, why: str) -> PermissionDenied:
    return PermissionDenied(f"compose service {service!r}: {field}: {why}; nothing was planned")


def env_files(model: dict[str, Any], project_dir: Path) -> None:
    """Refuse an `env_file` outside the project folder (checked before Compose reads any of them)."""
    for name, service in (model.get("services") or {}).items():
        for entry in service.get("env_file") or []:
            path = entry.get("path") if isinstance(entry, dict) else entry
            try:
                path_within(str(path), [project_dir], what="env_file")
            except InvalidArgument as exc:
                raise _refuse(name, "env_file", str(exc)) from None


def harden_model(
    model: dict[str, Any],
    *,
    settings: DeploymentSettings,
    policy: HardeningPolicy,
    owner: str,
    max_services: int,
) -> dict[str, Any]:
    """The model as it will run: every service checked, then hardened; `PermissionDenied` naming the
    first service and field that breaks a rule."""
    model = copy.deepcopy(model)
    services = model.get("services") or {}
    if not isinstance(services, dict) or not services:
        raise InvalidArgument("the Compose project defines no services")
    if len(services) > max_services:
        raise InvalidArgument(f"the project has more than {max_services} services")
    for name, volume in (model.get("volumes") or {}).items():
        volume = volume or {}
        if volume.get("external") or volume.get("driver_opts") or volume.get("driver", "local") != "local":
            raise PermissionDenied(
                f"compose volume {name!r}: only local volumes without driver options or external are allowed "
                "(a driver option can bind any host path)"
            )
    for kind in ("configs", "secrets"):
        for name, entry in (model.get(kind) or {}).items():
            if (entry or {}).get("file"):
                policy.check_mount(str(entry["file"]))
            elif (entry or {}).get("external"):
                raise PermissionDenied(f"compose {kind[:-1]} {name!r}: external {kind} are not allowed")
    for name, service in services.items():
        services[name] = _service(str(name), dict(service or {}), settings, policy, owner)
    return model


def _service(
    name: str, service: dict[str, Any], settings: DeploymentSettings, policy: HardeningPolicy, owner: str
) -> dict[str, Any]:
    for field, why in _REFUSED.items():
        if service.get(field):
            raise _refuse(name, field, why)
    for field in _NAMESPACES:
        value = service.get(field)
        if value:
            raise _refuse(
                name,
                field,
                f"{value!r}: the container never shares a namespace with the host or another container",
            )
    image = service.get("image")
    if not isinstance(image, str):
        raise _refuse(name, "image", "every service needs an image (build: is refused)")
    image_ref(image)
    mode = service.get("network_mode")
    if isinstance(mode, str) and (mode.startswith("container:") or mode.startswith("service:")):
        raise _refuse(name, "network_mode", f"{mode!r}: sharing another container's network is not allowed")
    try:
        check_network(settings, mode if isinstance(mode, str) else "bridge")
    except PermissionDenied as exc:
        raise _refuse(name, "network_mode", str(exc)) from None
    for option in service.get("security_opt") or []:
        if str(option).replace("=", ":") not in ("no-new-privileges:true", "no-new-privileges"):
            raise _refuse(name, "security_opt", f"{option!r}: only no-new-privileges is allowed")
    for volume in service.get("volumes") or []:
        kind = volume.get("type")
        if kind == "bind":
            source = policy.check_mount(str(volume.get("source", "")))
            volume["source"] = str(source)
        elif kind not in ("volume", "tmpfs"):
            raise _refuse(name, "volumes", f"mount type {kind!r} is not allowed")
        check_mount_target(str(volume.get("target", "")))
    for port in service.get("ports") or []:
        host_ip = port.get("host_ip")
        if host_ip not in (None, "", *_LOOPBACK):
            raise _refuse(name, "ports", f"ports are published on loopback only, not {host_ip!r}")
        port["host_ip"] = host_ip or "127.0.0.1"
    memory = service.get("mem_limit")
    try:
        size, cpus, pids = check_limits(
            settings,
            memory=f"{int(memory)}b" if isinstance(memory, int | float) else memory,
            cpus=float(service["cpus"]) if service.get("cpus") else None,
            pids=int(service["pids_limit"]) if service.get("pids_limit") else None,
        )
    except InvalidArgument as exc:
        raise _refuse(name, "limits", str(exc)) from None
    labels = dict(service.get("labels") or {})
    labels.update({MANAGED_LABEL: "true", OWNER_LABEL: owner[:63]})
    service.update(
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit=size,
        memswap_limit=size,
        cpus=cpus,
        pids_limit=pids,
        labels=labels,
    )
    service.pop("deploy", None)  # its resource limits would override the ones set here
    return service
