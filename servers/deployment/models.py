"""Inputs and outputs of the deployment tools; the descriptions are written for the model."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

ImageScans = Annotated[
    list[str] | None,
    Field(
        description="When [deployment.image_gate] requires a clean scan: the attestation of each image's "
        "scan_image on the security-scan server",
        max_length=64,
    ),
]

# --------------------------------------------------------------------------- Docker


class Mount(BaseModel):
    """A host folder bind-mounted into a container (only inside the policy's docker_mount_roots)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Absolute host path; must lie inside the allowed mount roots")
    target: str = Field(description="Absolute path inside the container, e.g. /data")
    read_only: bool = Field(default=True, description="Mount read-only (the default); false to allow writes")


class RunSpec(BaseModel):
    """What `docker_run` starts; the hardening (no privileges, no capabilities) is not negotiable."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(description="Image reference, e.g. busybox:local or registry:5000/app:v1")
    command: list[str] = Field(default_factory=list, description="Command and arguments (no shell parsing)")
    name: str | None = Field(default=None, description="Container name; letters, digits, '_', '.', '-'")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables")
    ports: dict[int, int] = Field(
        default_factory=dict, description="container port -> host port, published on 127.0.0.1 only"
    )
    memory: str | None = Field(
        default=None, description="Memory limit such as 128m or 1g; default from config"
    )
    cpus: float | None = Field(
        default=None, gt=0, description="CPU limit in cores, e.g. 0.5; default from config"
    )
    pids: int | None = Field(default=None, ge=8, description="Limit on processes; default from config")
    read_only: bool = Field(default=False, description="Mount the container's root filesystem read-only")
    user: str | None = Field(default=None, description="user or uid[:gid] to run as, e.g. 65534:65534")
    network: str | None = Field(
        default=None, description="Network mode (none, bridge, host) if the config allows"
    )
    mounts: list[Mount] = Field(default_factory=list, description="Host folders to mount (policy-checked)")
    workdir: str | None = Field(default=None, description="Working directory inside the container")
    privileged: bool = Field(
        default=False, description="Always refused when true: privileged mode is never used"
    )


class ContainerSummary(BaseModel):
    """One container, briefly."""

    id: str = Field(description="Short container id (12 hex digits)")
    name: str = Field(description="Container name")
    image: str = Field(description="Image the container was created from")
    status: str = Field(description="created, running, paused, restarting, exited or dead")
    managed: bool = Field(description="True when this suite started it (label code.managed=true)")
    created: str = Field(description="Creation time (RFC 3339)")


class Hardening(BaseModel):
    """The security settings a container really runs with, read back from the engine."""

    privileged: bool = Field(description="Privileged mode (always false for containers this suite starts)")
    cap_drop: list[str] = Field(description="Capabilities dropped")
    cap_add: list[str] = Field(description="Capabilities added")
    security_opt: list[str] = Field(description="Security options, e.g. no-new-privileges")
    read_only_rootfs: bool = Field(description="Root filesystem mounted read-only")
    user: str = Field(description="User the process runs as; empty = the image default")
    memory_bytes: int = Field(description="Memory limit in bytes; 0 = none")
    nano_cpus: int = Field(description="CPU limit in billionths of a core; 0 = none")
    pids_limit: int | None = Field(description="Limit on processes; null = none")
    network_mode: str = Field(description="Network mode")
    binds: list[str] = Field(description="Host paths mounted, as source:target:mode")


class ContainerInfo(BaseModel):
    """One container in detail (environment values are not shown)."""

    id: str = Field(description="Full container id")
    name: str = Field(description="Container name")
    image: str = Field(description="Image reference the container was created from")
    status: str = Field(description="State: created, running, exited, ...")
    exit_code: int | None = Field(description="Exit code once the container has stopped")
    started_at: str | None = Field(description="When it last started (RFC 3339)")
    command: list[str] = Field(description="Entrypoint and command")
    env_names: list[str] = Field(description="Names of the environment variables (values hidden)")
    labels: dict[str, str] = Field(description="Container labels")
    ports: dict[str, list[str]] = Field(description="Published ports: container port -> host address:port")
    managed: bool = Field(description="True when this suite started it")
    hardening: Hardening = Field(description="Security settings read back from the engine")


class ContainerLogs(BaseModel):
    """The end of a container's output (stdout and stderr interleaved), secrets redacted."""

    container: str = Field(description="Container id")
    text: str = Field(description="Log text")
    lines: int = Field(description="Lines returned")
    truncated: bool = Field(description="True when the text was cut to the character budget")


class ContainerStats(BaseModel):
    """A one-shot resource snapshot of a running container."""

    container: str = Field(description="Container id")
    cpu_percent: float = Field(description="CPU use over the sampling interval, percent of one core")
    memory_bytes: int = Field(description="Memory in use")
    memory_limit_bytes: int = Field(description="Memory limit the container runs under")
    pids: int = Field(description="Processes in the container")
    network_rx_bytes: int = Field(description="Bytes received on all interfaces")
    network_tx_bytes: int = Field(description="Bytes sent on all interfaces")


class ImageSummary(BaseModel):
    """One local image."""

    id: str = Field(description="Short image id")
    tags: list[str] = Field(description="Repository tags")
    size_bytes: int = Field(description="Size on disk")
    created: str = Field(description="Creation time (RFC 3339)")


class ContainerAction(BaseModel):
    """What a stop or remove did."""

    container: str = Field(description="Container id")
    action: Literal["started", "restarted", "stopped", "removed"] = Field(description="What was done")
    status: str = Field(description="State after the action ('removed' once gone)")


class ImageAction(BaseModel):
    """What a pull or an image removal did."""

    image: str = Field(description="Image reference")
    id: str = Field(description="Short image id")
    action: Literal["pulled", "removed"] = Field(description="What was done")


class NetworkSummary(BaseModel):
    """One Docker network."""

    id: str = Field(description="Short network id")
    name: str = Field(description="Network name")
    driver: str = Field(description="Driver, e.g. bridge, host, null")
    internal: bool = Field(description="True when the network has no route out of the host")
    managed: bool = Field(description="True when this server created it")


class VolumeSummary(BaseModel):
    """One Docker volume."""

    name: str = Field(description="Volume name")
    driver: str = Field(description="Driver, e.g. local")
    managed: bool = Field(description="True when this server created it")


class ResourceAction(BaseModel):
    """What creating or removing a network or volume did."""

    kind: Literal["network", "volume"] = Field(description="What was changed")
    name: str = Field(description="Its name")
    id: str = Field(description="Short id (a volume's id is its name)")
    action: Literal["created", "removed"] = Field(description="What was done")


class BuiltImage(BaseModel):
    """The result of a docker_build."""

    id: str = Field(description="Image id")
    tag: str = Field(description="Tag given to the image")
    steps: int = Field(description="Dockerfile steps run")
    log_tail: str = Field(description="Last lines of the build output")


# --------------------------------------------------------------------------- Kubernetes


class KubeContext(BaseModel):
    """One kubeconfig context the policy allows."""

    name: str = Field(description="Context name; pass it as `context` to any k8s tool")
    cluster: str = Field(description="Cluster the context points at")
    namespace: str | None = Field(description="Default namespace of the context")
    current: bool = Field(description="True for the context used when a call names none")


class ObjectSummary(BaseModel):
    """One Kubernetes object, briefly: what `kubectl get` shows for its kind."""

    default_columns: ClassVar[tuple[str, ...]] = ("name", "status", "ready", "restarts", "age", "node")

    name: str = Field(description="Object name")
    status: str | None = Field(
        description="A short state where the kind has one: a pod's phase, or why a container is not "
        "ready (CrashLoopBackOff, ImagePullBackOff, ...); a node's Ready/NotReady"
    )
    ready: str | None = Field(
        default=None, description="Ready/desired: a pod's containers, a workload's replicas"
    )
    restarts: int | None = Field(default=None, description="A pod's container restarts, in all")
    age: str | None = Field(default=None, description="Time since creation, e.g. 5m, 3h, 12d")
    node: str | None = Field(default=None, description="The node a pod runs on")
    namespace: str | None = Field(description="Namespace; null for cluster-scoped kinds")
    kind: str = Field(description="Kind, e.g. Deployment")
    created: str | None = Field(description="Creation time (RFC 3339)")
    labels: dict[str, str] = Field(description="Labels")


class KubeObject(BaseModel):
    """One object as the API returns it, minus managedFields; Secret values are redacted."""

    kind: str = Field(description="Kind")
    name: str = Field(description="Name")
    namespace: str | None = Field(description="Namespace; null for cluster-scoped kinds")
    resource_version: str = Field(description="resourceVersion the object was read at")
    object: dict[str, Any] = Field(description="The object (apiVersion, kind, metadata, spec, status)")


class KubeEvent(BaseModel):
    """One event."""

    type: str = Field(description="Normal or Warning")
    reason: str = Field(description="Short machine reason, e.g. ScalingReplicaSet")
    message: str = Field(description="What happened")
    object: str = Field(description="Kind/name the event is about")
    count: int = Field(description="How many times it happened")
    last_seen: str | None = Field(description="When it last happened (RFC 3339)")


class PodLogs(BaseModel):
    """The end of a pod container's log, secrets redacted."""

    pod: str = Field(description="Pod name")
    container: str | None = Field(description="Container name, when given")
    text: str = Field(description="Log text")
    lines: int = Field(description="Lines returned")
    truncated: bool = Field(description="True when the text was cut to the character budget")


class RolloutStatus(BaseModel):
    """Where a Deployment's rollout stands."""

    deployment: str = Field(description="Deployment name")
    namespace: str = Field(description="Namespace")
    complete: bool = Field(description="True when every replica runs the newest template and is available")
    replicas: int = Field(description="Desired replicas")
    updated: int = Field(description="Replicas running the newest template")
    ready: int = Field(description="Ready replicas")
    available: int = Field(description="Available replicas")
    revision: int | None = Field(description="Current revision number")
    message: str = Field(description="What is happening, in words")


class PlannedChange(BaseModel):
    """What a plan will do to one object."""

    kind: str = Field(description="Kind")
    name: str = Field(description="Name")
    namespace: str | None = Field(description="Namespace; null for cluster-scoped kinds")
    action: Literal["create", "update", "unchanged"] = Field(description="What applying will do")
    live_resource_version: str | None = Field(
        description="resourceVersion of the live object; null if absent"
    )
    diff: str = Field(
        description="Unified diff live -> result of a server-side dry-run (Secret values redacted)"
    )


class Plan(BaseModel):
    """A reviewed change. Pass `plan_id` to k8s_apply to apply exactly this, before `expires_at`."""

    plan_id: str = Field(description="Pass to k8s_apply")
    sha256: str = Field(description="Hash of exactly the objects that will be applied")
    context: str = Field(description="Kubernetes context the plan is for")
    expires_at: str = Field(description="After this time (RFC 3339) the plan is refused; plan again")
    changes: list[PlannedChange] = Field(description="One entry per object, in apply order")
    diff_truncated: bool = Field(default=False, description="True when diffs were cut to the budget")


class AppliedObject(BaseModel):
    """One object applied."""

    kind: str = Field(description="Kind")
    name: str = Field(description="Name")
    namespace: str | None = Field(description="Namespace")
    resource_version: str = Field(description="resourceVersion after the apply")


class ApplyResult(BaseModel):
    """The outcome of k8s_apply."""

    plan_id: str = Field(description="The plan applied")
    sha256: str = Field(description="Hash of what was applied (equals the plan's)")
    applied: list[AppliedObject] = Field(description="Objects applied, in order")


class ScaleResult(BaseModel):
    """The outcome of k8s_scale."""

    kind: str = Field(description="Kind scaled")
    name: str = Field(description="Name")
    namespace: str = Field(description="Namespace")
    previous_replicas: int = Field(description="Replicas before")
    replicas: int = Field(description="Replicas asked for now")


class RolloutAction(BaseModel):
    """The outcome of k8s_rollout_restart or k8s_rollback."""

    deployment: str = Field(description="Deployment name")
    namespace: str = Field(description="Namespace")
    action: Literal["restarted", "rolled_back"] = Field(description="What was done")
    revision: int | None = Field(default=None, description="Revision rolled back to")
    message: str = Field(description="What happens next; watch with k8s_rollout_status")


class DeletedObject(BaseModel):
    """The outcome of k8s_delete."""

    kind: str = Field(description="Kind")
    name: str = Field(description="Name")
    namespace: str | None = Field(description="Namespace")
    status: str = Field(description="deleted, or deleting while finalizers run")
