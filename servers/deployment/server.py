"""The deployment MCP server: wiring only. The logic lives in docker_ops, k8s_ops and plan_ops.

Tools: Docker containers and images (`docker_*`) and Kubernetes workloads (`k8s_*`). Reads are
registered by default; writes (`deployment.write` tier) and `k8s_delete` (admin tier) only when
`[policy.tiers] deployment` allows them. Every Kubernetes change goes plan → review → apply, or is a
narrow verb (scale, restart, rollback) checked against the namespace, context and kind policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from servers.deployment.docker_ops import DockerOps
from servers.deployment.k8s_client import KubeConnections
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.models import (
    ApplyResult,
    BuiltImage,
    ContainerAction,
    ContainerInfo,
    ContainerLogs,
    ContainerStats,
    ContainerSummary,
    DeletedObject,
    ImageSummary,
    KubeContext,
    KubeEvent,
    KubeObject,
    Mount,
    ObjectSummary,
    Plan,
    PodLogs,
    RolloutAction,
    RolloutStatus,
    RunSpec,
    ScaleResult,
)
from servers.deployment.plan_ops import PlanOps
from servers.deployment.plan_store_redis import plan_store
from servers.deployment.settings import DeploymentSettings
from shared.auth import current_identity
from shared.config import SuiteConfig
from shared.output import Page, paginate, redact_data
from shared.policy import Tier
from shared.runtime import Runtime
from shared.toolkit import ServerKit

INSTRUCTIONS = """See what runs, change it safely, watch the change and undo it.
Docker: docker_list_containers, docker_inspect_container, docker_container_logs, docker_container_stats,
docker_list_images; docker_run starts hardened containers (no privileges, all capabilities dropped,
limits) labelled code.managed; docker_stop / docker_remove only touch those; docker_build builds from an
allowed folder. Kubernetes: k8s_contexts, k8s_list, k8s_get, k8s_events, k8s_logs, k8s_rollout_status.
To change objects: k8s_plan(manifests) shows a server-side dry-run diff and returns a plan_id; show the
diff to the user, then k8s_apply(plan_id) applies exactly that plan (refused if it expired or the live
objects changed: plan again). k8s_scale, k8s_rollout_restart and k8s_rollback change a workload
directly; follow them with k8s_rollout_status. Namespaces, contexts and kinds are limited by policy."""

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

Cursor = Annotated[str | None, Field(description="next_cursor of the previous page, to continue")]
Limit = Annotated[int | None, Field(description="Most items on this page", ge=1, le=500)]
ContainerRef = Annotated[
    str, Field(description="Container id (or its first 12 hex digits) or name", max_length=128)
]
Namespace = Annotated[str, Field(description="Namespace (must be allowed by policy)", max_length=63)]
KubeContextName = Annotated[
    str | None,
    Field(description="kubeconfig context (see k8s_contexts); omit for the current one", max_length=253),
]
Kind = Annotated[
    str,
    Field(
        description="Kind, e.g. Deployment, Pod, Service, ConfigMap (plural and short names work)",
        max_length=100,
    ),
]
Name = Annotated[str, Field(description="Object name", max_length=253)]
Tail = Annotated[int, Field(description="How many of the last lines to return", ge=1, le=100_000)]
SinceS = Annotated[int | None, Field(description="Only lines from the last N seconds", ge=1)]


def _clean(result: M) -> M:
    """The result with secrets (tokens, passwords, keys) found in any string redacted."""
    return type(result).model_validate(redact_data(result.model_dump(mode="python")))


def build_server(
    config: SuiteConfig,
    *,
    runtime: Runtime | None = None,
    docker: DockerOps | None = None,
    kube: KubeOps | None = None,
    **_backends: Any,
) -> MCPServer[Any]:
    """The deployment server.

    Args:
        config: the suite configuration; `[deployment]` says where Docker and the kubeconfig are.
        runtime: shared by every server of one process.
        docker: the Docker backend (default: a client for `deployment.docker_host`).
        kube: the Kubernetes backend (default: the kubeconfig's contexts).
    """
    settings = config.section("deployment", DeploymentSettings)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            docker_ops.close()
            kube_ops.close()
            store.close()

    kit = ServerKit("deployment", config, runtime, instructions=INSTRUCTIONS, lifespan=lifespan)
    docker_ops = docker if docker is not None else DockerOps.connect(settings, kit.policy)
    kube_ops = (
        kube
        if kube is not None
        else KubeOps(
            KubeConnections(settings.kubeconfig, settings.default_context, timeout_s=settings.k8s_timeout_s),
            settings,
            kit.policy,
        )
    )
    store = plan_store(config, settings)
    plans = PlanOps(kube_ops, store)

    def page(items: Sequence[T], cursor: str | None, limit: int | None, scope: str) -> Page[T]:
        return paginate(items, cursor=cursor, limit=limit, budget=kit.budget, scope=scope)

    async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), abandon_on_cancel=True)

    def is_admin() -> bool:
        return kit.policy.allows(current_identity().role, "deployment:admin")

    def read(name: str, title: str) -> Callable[[F], F]:
        return kit.tool(name=name, title=title, permission="deployment:read", tier=Tier.READ, open_world=True)

    def write(
        name: str, title: str, *, destructive: bool | None = None, idempotent: bool | None = None
    ) -> Callable[[F], F]:
        return kit.tool(
            name=name,
            title=title,
            permission="deployment:write",
            tier=Tier.WRITE,
            open_world=True,
            destructive=destructive,
            idempotent=idempotent,
        )

    # ------------------------------------------------------------------ Docker reads

    @read("docker_list_containers", "List Docker containers")
    async def docker_list_containers(
        include_stopped: Annotated[bool, Field(description="Also list stopped containers")] = False,
        managed_only: Annotated[bool, Field(description="Only containers this suite started")] = False,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[ContainerSummary]:
        """List containers (running ones by default) with their state and whether this suite manages them."""
        rows = await blocking(
            docker_ops.list_containers, include_stopped=include_stopped, managed_only=managed_only
        )
        return page(rows, cursor, limit, f"containers|{include_stopped}|{managed_only}")

    @read("docker_inspect_container", "Inspect a Docker container")
    async def docker_inspect_container(container: ContainerRef) -> ContainerInfo:
        """Show one container: image, state, command, labels, published ports and the security settings
        it really runs with (environment values are hidden)."""
        return _clean(await blocking(docker_ops.inspect_container, container))

    @read("docker_container_logs", "Read a Docker container's logs")
    async def docker_container_logs(
        container: ContainerRef, tail: Tail = 200, since_s: SinceS = None
    ) -> ContainerLogs:
        """The last lines of a container's stdout and stderr, secrets redacted, cut to the output budget."""
        return await blocking(
            docker_ops.logs, container, tail=tail, since_s=since_s, max_chars=kit.budget.max_chars
        )

    @read("docker_container_stats", "Docker container resource usage")
    async def docker_container_stats(container: ContainerRef) -> ContainerStats:
        """A one-shot snapshot of a running container's CPU, memory (against its limit), processes and
        network."""
        return await blocking(docker_ops.stats, container)

    @read("docker_list_images", "List Docker images")
    async def docker_list_images(cursor: Cursor = None, limit: Limit = None) -> Page[ImageSummary]:
        """List local images with their tags and sizes."""
        return page(await blocking(docker_ops.list_images), cursor, limit, "images")

    # ------------------------------------------------------------------ Docker writes

    @write("docker_run", "Run a hardened Docker container", destructive=False, idempotent=False)
    async def docker_run(
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
    ) -> ContainerInfo:
        """Start a container detached, hardened: never privileged, all capabilities dropped,
        no-new-privileges, memory/CPU/pids limits, network 'none' unless another allowed mode is asked
        for, host mounts only inside the allowed roots, labelled code.managed. Returns what the engine
        really applied."""
        spec = RunSpec(
            image=image,
            command=command or [],
            name=name,
            env=env or {},
            ports=ports or {},
            memory=memory,
            cpus=cpus,
            pids=pids,
            read_only=read_only,
            user=user,
            network=network,
            mounts=mounts or [],
            workdir=workdir,
            privileged=privileged,
        )
        owner = current_identity().subject
        return _clean(await blocking(docker_ops.run, spec, owner=owner))

    @write("docker_stop", "Stop a Docker container", idempotent=True)
    async def docker_stop(
        container: ContainerRef,
        timeout_s: Annotated[int, Field(description="Seconds to wait before killing", ge=0, le=300)] = 10,
    ) -> ContainerAction:
        """Stop a container this suite started (admins may stop any)."""
        return await blocking(docker_ops.stop, container, admin=is_admin(), timeout_s=timeout_s)

    @write("docker_remove", "Remove a Docker container")
    async def docker_remove(
        container: ContainerRef,
        force: Annotated[bool, Field(description="Kill it first if it is running")] = False,
    ) -> ContainerAction:
        """Remove a container this suite started (admins may remove any). A running one needs force=true."""
        return await blocking(docker_ops.remove, container, admin=is_admin(), force=force)

    @write("docker_build", "Build a Docker image", destructive=False, idempotent=False)
    async def docker_build(
        context: Annotated[
            str, Field(description="Folder with the build context (inside the allowed roots)")
        ],
        tag: Annotated[str, Field(description="Tag for the image, e.g. app:1.2", max_length=256)],
        ctx: Context,
        dockerfile: Annotated[str, Field(description="Dockerfile path inside the context")] = "Dockerfile",
    ) -> BuiltImage:
        """Build an image from a folder inside the allowed roots, without network access, reporting each
        Dockerfile step as progress."""
        owner = current_identity().subject

        def progress(done: float, total: float | None, message: str) -> None:
            anyio.from_thread.run(partial(ctx.report_progress, done, total, message))

        return await blocking(
            docker_ops.build, context, tag=tag, dockerfile=dockerfile, owner=owner, progress=progress
        )

    # ------------------------------------------------------------------ Kubernetes reads

    @read("k8s_contexts", "List Kubernetes contexts")
    async def k8s_contexts() -> Page[KubeContext]:
        """The kubeconfig contexts the policy allows; pass one as `context` to the other k8s tools."""
        return page(await blocking(kube_ops.contexts), None, None, "contexts")

    @read("k8s_list", "List Kubernetes objects")
    async def k8s_list(
        kind: Kind,
        namespace: Namespace = "default",
        label_selector: Annotated[str, Field(description="e.g. app=web,tier!=db", max_length=1024)] = "",
        context: KubeContextName = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[ObjectSummary]:
        """List objects of one kind in a namespace (cluster-scoped kinds ignore it), with a short status."""
        rows = await blocking(
            kube_ops.list_objects,
            kind,
            identity=current_identity(),
            namespace=namespace,
            label_selector=label_selector,
            context=context,
        )
        return page(rows, cursor, limit, f"k8s_list|{context}|{kind}|{namespace}|{label_selector}")

    @read("k8s_get", "Get a Kubernetes object")
    async def k8s_get(
        kind: Kind, name: Name, namespace: Namespace = "default", context: KubeContextName = None
    ) -> KubeObject:
        """One object in full, without managedFields; Secret values are replaced by their length and hash."""
        obj = await blocking(
            kube_ops.get_object, kind, name, identity=current_identity(), namespace=namespace, context=context
        )
        return _clean(obj)

    @read("k8s_events", "List Kubernetes events")
    async def k8s_events(
        namespace: Namespace = "default",
        kind: Annotated[str | None, Field(description="Only events about this kind", max_length=100)] = None,
        name: Annotated[
            str | None, Field(description="Only events about the object of this name", max_length=253)
        ] = None,
        context: KubeContextName = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[KubeEvent]:
        """Events in a namespace, newest first, optionally about one object (why a pod is Pending, ...)."""
        rows = await blocking(kube_ops.events, namespace=namespace, kind=kind, name=name, context=context)
        return page(rows, cursor, limit, f"k8s_events|{context}|{namespace}|{kind}|{name}")

    @read("k8s_logs", "Read a pod's logs")
    async def k8s_logs(
        pod: Annotated[str, Field(description="Pod name", max_length=253)],
        namespace: Namespace = "default",
        container: Annotated[str | None, Field(description="Container, when the pod has several")] = None,
        tail: Tail = 200,
        since_s: SinceS = None,
        context: KubeContextName = None,
    ) -> PodLogs:
        """The last lines of a pod container's log, secrets redacted, cut to the output budget."""
        return await blocking(
            kube_ops.logs,
            pod,
            namespace=namespace,
            container=container,
            tail=tail,
            since_s=since_s,
            max_chars=kit.budget.max_chars,
            context=context,
        )

    @read("k8s_rollout_status", "Watch a Deployment rollout")
    async def k8s_rollout_status(
        deployment: Annotated[str, Field(description="Deployment name", max_length=253)],
        ctx: Context,
        namespace: Namespace = "default",
        timeout_s: Annotated[
            float, Field(description="Longest wait in seconds (capped by config)", gt=0)
        ] = 120,
        context: KubeContextName = None,
    ) -> RolloutStatus:
        """Wait until a Deployment's rollout completes, fails or times out, reporting progress
        (updated replicas of desired) as it goes. Returns where the rollout stands."""

        async def report(state: RolloutStatus) -> None:
            await ctx.report_progress(state.updated, state.replicas or None, state.message)

        return await kube_ops.wait_rollout(
            deployment, namespace=namespace, timeout_s=timeout_s, context=context, progress=report
        )

    # ------------------------------------------------------------------ Kubernetes changes

    @write("k8s_plan", "Plan a Kubernetes change (dry-run + diff)", destructive=False, idempotent=False)
    async def k8s_plan(
        manifests: Annotated[str, Field(description="YAML or JSON manifests, several separated by ---")],
        namespace: Annotated[
            str, Field(description="Namespace for objects that name none", max_length=63)
        ] = "default",
        context: KubeContextName = None,
        force_conflicts: Annotated[
            bool, Field(description="Take over fields another manager owns (server-side apply force)")
        ] = False,
    ) -> Plan:
        """Validate manifests against the policy, run a server-side dry-run of each object and diff it
        against the live object. Nothing changes. Returns a plan_id bound to a hash of exactly what will be
        applied; show the diff to the user, then call k8s_apply(plan_id) before it expires."""
        return await blocking(
            plans.plan,
            manifests,
            identity=current_identity(),
            namespace=namespace,
            context=context,
            force_conflicts=force_conflicts,
            max_diff_chars=kit.budget.max_chars,
        )

    @write("k8s_apply", "Apply a reviewed Kubernetes plan")
    async def k8s_apply(
        plan_id: Annotated[str, Field(description="plan_id from k8s_plan", max_length=64)],
    ) -> ApplyResult:
        """Apply exactly what k8s_plan planned (server-side apply). Refused when the plan expired, was
        already used, or any live object changed since (resourceVersion): then plan again."""
        return await blocking(plans.apply, plan_id, identity=current_identity())

    @write("k8s_scale", "Scale a Kubernetes workload", idempotent=True)
    async def k8s_scale(
        name: Name,
        replicas: Annotated[int, Field(description="Desired replicas", ge=0, le=1000)],
        kind: Annotated[str, Field(description="Deployment, StatefulSet or ReplicaSet")] = "Deployment",
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> ScaleResult:
        """Set the replica count of a Deployment, StatefulSet or ReplicaSet."""
        return await blocking(
            kube_ops.scale,
            kind,
            name,
            replicas,
            identity=current_identity(),
            namespace=namespace,
            context=context,
        )

    @write("k8s_rollout_restart", "Restart a Deployment's pods")
    async def k8s_rollout_restart(
        deployment: Annotated[str, Field(description="Deployment name", max_length=253)],
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> RolloutAction:
        """Replace every pod of a Deployment with a rolling update (like kubectl rollout restart)."""
        return await blocking(
            kube_ops.rollout_restart,
            deployment,
            identity=current_identity(),
            namespace=namespace,
            context=context,
        )

    @write("k8s_rollback", "Roll a Deployment back")
    async def k8s_rollback(
        deployment: Annotated[str, Field(description="Deployment name", max_length=253)],
        revision: Annotated[
            int | None, Field(description="Revision to return to; omit for the previous one", ge=1)
        ] = None,
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> RolloutAction:
        """Restore the pod template of an earlier revision (the previous one by default) from its
        ReplicaSet."""
        return await blocking(
            kube_ops.rollback,
            deployment,
            identity=current_identity(),
            revision=revision,
            namespace=namespace,
            context=context,
        )

    @kit.tool(
        name="k8s_delete",
        title="Delete a Kubernetes object",
        permission="deployment:admin",
        tier=Tier.ADMIN,
        open_world=True,
        idempotent=False,
    )
    async def k8s_delete(
        kind: Kind, name: Name, namespace: Namespace = "default", context: KubeContextName = None
    ) -> DeletedObject:
        """Delete one object (admin only). Protected namespaces are never touched."""
        return await blocking(
            kube_ops.delete, kind, name, identity=current_identity(), namespace=namespace, context=context
        )

    return kit.server
