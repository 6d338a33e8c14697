"""The `[deployment]` section of the suite configuration.

```toml
[deployment]
docker_host = "unix:///var/run/docker.sock"
kubeconfig = "/home/me/.kube/config"
plan_ttl_s = 600
plan_store = "memory"        # "redis": plans shared by every replica, in [redis]

[deployment.run_defaults]
memory = "256m"
cpus = 1.0
pids = 256

[deployment.helm]            # helm_* tools (the helm CLI, v4); charts from [policy] chart_repositories

[deployment.compose]         # compose_* tools (Docker Compose v2+)

[deployment.exec]            # k8s_exec limits; what it may run is [policy] k8s_exec_commands
timeout_s = 30

[deployment.impersonation]   # act as each HTTP caller at the cluster
enabled = true

[deployment.image_gate]      # nothing runs an image without a clean scan_image (shared/image_gate.py)
min_severity = "high"
key_file = "/etc/code-mcp/image-gate.key"   # the same file as [security_scan] gate_key_file
```

Who may do what (tiers, namespaces, contexts, kinds, host mounts, build roots, image registries,
chart repositories, exec commands, admission) is the shared `[policy]` section; this section only
says where the backends are and how long things may take.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from servers.deployment.impersonation import ImpersonationSettings
from shared.image_gate import ImageGateSettings

_MEMORY = re.compile(r"^[1-9][0-9]*[bkmg]$")


class RunDefaults(BaseModel):
    """Resource limits applied by `docker_run` when the call names none (and the ceilings it may ask for)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: str = Field(default="256m", description="Default memory limit, docker syntax (e.g. 256m, 1g)")
    max_memory: str = Field(default="2g", description="Largest memory limit a call may ask for")
    cpus: float = Field(default=1.0, gt=0, le=64, description="Default CPU limit in cores")
    max_cpus: float = Field(default=2.0, gt=0, le=64, description="Largest CPU limit a call may ask for")
    pids: int = Field(default=256, ge=8, le=65536, description="Default limit on processes in the container")
    max_pids: int = Field(default=4096, ge=8, le=65536, description="Largest pids limit a call may ask for")
    network_modes: tuple[str, ...] = Field(
        default=("none", "bridge"), description="Network modes a call may choose; the first is the default"
    )

    @field_validator("memory", "max_memory")
    @classmethod
    def _check_memory(cls, value: str) -> str:
        if not _MEMORY.match(value.lower()):
            raise ValueError(f"memory limit {value!r} must look like 256m or 1g")
        return value.lower()

    @field_validator("network_modes")
    @classmethod
    def _check_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("network_modes needs at least one mode, e.g. ['none']")
        for mode in value:
            if mode not in ("none", "bridge", "host"):
                raise ValueError(f"network mode {mode!r} is not one of none, bridge, host")
        return value


class HelmSettings(BaseModel):
    """`[deployment.helm]`: the helm CLI and where charts may come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    helm_path: Path | None = Field(
        default=None, description="The helm v4 binary; None = `helm` on PATH, else the suite's build cache"
    )
    timeout_s: float = Field(default=300.0, gt=0, le=3600, description="Longest helm command")
    chart_roots: list[Path] = Field(
        default_factory=list,
        description="Folders local charts (folders or .tgz) may come from; empty = the policy's scan_roots",
    )
    max_chart_bytes: int = Field(
        default=2_000_000, ge=10_000, le=50_000_000, description="Largest chart archive a plan holds"
    )
    max_chart_files: int = Field(default=2000, ge=10, le=100_000, description="Most files in one chart")


class ComposeSettings(BaseModel):
    """`[deployment.compose]`: the Docker Compose binary and where projects may come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compose_path: Path | None = Field(
        default=None,
        description="The docker-compose v2+ binary; None = `docker-compose` on PATH, else the build cache",
    )
    timeout_s: float = Field(default=300.0, gt=0, le=3600, description="Longest compose command")
    project_roots: list[Path] = Field(
        default_factory=list,
        description="Folders a Compose project may come from; empty = the policy's scan_roots",
    )
    max_services: int = Field(default=50, ge=1, le=1000, description="Most services in one project")


class ExecSettings(BaseModel):
    """`[deployment.exec]`: how long `k8s_exec` may run and how much output it keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(default=30.0, gt=0, le=600, description="Longest k8s_exec")
    max_output_chars: int = Field(default=64_000, ge=1000, le=10_000_000, description="Most output kept")


class DeploymentSettings(BaseModel):
    """Configuration of the deployment server; every limit has a safe default."""

    model_config = ConfigDict(extra="forbid")

    docker_host: str = Field(
        default="unix:///var/run/docker.sock", description="Docker Engine API address (unix:// or tcp://)"
    )
    docker_api_version: str = Field(
        default="1.41",
        pattern=r"^1\.[0-9]{2}$",
        description="Docker Engine API version to speak (1.41 = Docker 20.10)",
    )
    docker_timeout_s: float = Field(default=60.0, gt=0, le=600, description="Timeout of one Docker API call")
    build_timeout_s: float = Field(default=900.0, gt=0, le=7200, description="Timeout of one docker_build")
    build_roots: list[Path] = Field(
        default_factory=list,
        description="Folders a docker_build context may come from; empty = the policy's scan_roots",
    )
    run_defaults: RunDefaults = Field(default_factory=RunDefaults)
    kubeconfig: Path | None = Field(
        default=None, description="Kubeconfig file; None = $KUBECONFIG or ~/.kube/config, read at startup"
    )
    default_context: str | None = Field(
        default=None, description="Kubernetes context used when a call names none; None = the current one"
    )
    k8s_timeout_s: float = Field(default=30.0, gt=0, le=300, description="Timeout of one Kubernetes API call")
    rollout_timeout_s: float = Field(
        default=300.0, gt=0, le=3600, description="Longest k8s_rollout_status wait"
    )
    rollout_poll_s: float = Field(default=0.5, gt=0, le=30, description="Interval between rollout checks")
    plan_ttl_s: float = Field(
        default=600.0, gt=0, le=86400, description="How long a k8s_plan stays appliable"
    )
    plan_store: Literal["memory", "redis"] = Field(
        default="memory",
        description="Where plans wait for k8s_apply: 'memory' (this process) or 'redis' (the fleet's "
        "[redis], so any replica can apply a plan made on another)",
    )
    max_plans: int = Field(
        default=100, ge=1, le=10_000, description="Plans held at once (memory: in all; redis: per caller)"
    )
    max_manifest_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest manifest text k8s_plan reads"
    )
    max_objects_per_plan: int = Field(default=50, ge=1, le=1000, description="Objects one plan may hold")
    field_manager: str = Field(default="code-mcp", description="Server-side apply field manager name")
    log_tail_max: int = Field(default=5000, ge=1, le=100_000, description="Most log lines one call returns")
    ownership_file: Path | None = Field(
        default=None,
        description="Where the ledger of containers and images this server created (and for whom) is kept "
        "across restarts; unset = in memory (after a restart only an admin may stop what was made before)",
    )
    helm: HelmSettings = Field(default_factory=HelmSettings)
    compose: ComposeSettings = Field(default_factory=ComposeSettings)
    exec: ExecSettings = Field(default_factory=ExecSettings)
    impersonation: ImpersonationSettings = Field(default_factory=ImpersonationSettings)
    image_gate: ImageGateSettings = Field(default_factory=ImageGateSettings)
    drain_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="Longest k8s_drain wait for evicted pods to go"
    )
