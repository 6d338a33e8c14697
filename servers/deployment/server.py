"""The deployment MCP server: Docker and Kubernetes toolsets on one kit. Wiring only.

Tools: Docker containers and images (`docker_*`, `docker_tools.py`) and Kubernetes workloads
(`k8s_*`, `k8s_tools.py`). Reads are registered by default; writes (`deployment` tier `write`) and
`k8s_delete` (tier `admin`) only when `[policy.tiers] deployment` allows them. Every Kubernetes
change goes plan → review → apply, or is a narrow verb (scale, restart, rollback) checked against
the namespace, context and kind policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

from servers.deployment.docker_ops import DockerOps
from servers.deployment.docker_tools import docker_tools
from servers.deployment.k8s_client import KubeConnections
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.k8s_tools import k8s_tools
from servers.deployment.plan_ops import PlanOps
from servers.deployment.plan_store_redis import plan_store
from servers.deployment.settings import DeploymentSettings
from shared.runtime import Runtime
from shared.settings import SuiteConfig
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


def build_server(
    config: SuiteConfig,
    *,
    runtime: Runtime | None = None,
    docker: DockerOps | None = None,
    kube: KubeOps | None = None,
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
    if kube is None:
        connections = KubeConnections(
            settings.kubeconfig, settings.default_context, timeout_s=settings.k8s_timeout_s
        )
        kube = KubeOps(connections, settings, kit.policy)
    kube_ops = kube
    store = plan_store(config, settings)
    docker_tools(kit, docker_ops)
    k8s_tools(kit, kube_ops, PlanOps(kube_ops, store))
    return kit.server
