"""The deployment server: Docker, Compose, Kubernetes and Helm toolsets on one kit. Wiring only.

Tools: Docker containers, images, networks and volumes (`docker_*`, `docker_tools.py`), Compose
projects (`compose_*`, `compose_tools.py`), Kubernetes workloads and nodes (`k8s_*`, `k8s_tools.py`,
`node_tools.py`) and Helm releases (`helm_*`, `helm_tools.py`). Reads are registered by default;
writes (`deployment` tier `write`) and the admin tools (`k8s_delete`, `k8s_exec`, node maintenance)
only when `[policy.tiers] deployment` allows them. Every change to a cluster or a project goes plan
→ review → apply, or is a narrow verb checked against the policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.apps import Apps
from mcp.server.mcpserver import MCPServer

from servers.deployment.compose_cli import ComposeCli
from servers.deployment.compose_ops import ComposeOps
from servers.deployment.compose_tools import compose_tools
from servers.deployment.deployment_surfaces import deployment_surfaces
from servers.deployment.docker_ops import DockerOps
from servers.deployment.docker_tools import docker_tools
from servers.deployment.helm_charts import ChartSources
from servers.deployment.helm_cli import HelmCli, find_program
from servers.deployment.helm_ops import HelmOps
from servers.deployment.helm_tools import helm_tools
from servers.deployment.k8s_client import KubeConnections
from servers.deployment.k8s_nodes import NodeOps
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.k8s_tools import k8s_tools
from servers.deployment.node_tools import node_tools
from servers.deployment.plan_ops import PlanOps
from servers.deployment.plan_store_redis import plan_store
from servers.deployment.settings import DeploymentSettings
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.toolkit import ServerKit

HELM_VERSION = "v4.3.2"
COMPOSE_VERSION = "v5.6.0"

INSTRUCTIONS = """See what runs, change it safely, watch the change and undo it.
Docker: docker_list_containers, docker_inspect_container, docker_container_logs, docker_container_stats,
docker_list_images, docker_networks, docker_volumes; docker_run starts hardened containers (no
privileges, all capabilities dropped, limits); docker_start / docker_restart / docker_stop / docker_remove
only touch containers you started here; docker_pull pulls from allowed registries; docker_build builds
from an allowed folder. Compose: compose_config shows the resolved project; compose_plan(project_dir)
checks every service like docker_run and returns a plan_id; compose_up(plan_id) runs exactly that;
compose_ps, compose_logs, compose_down. Kubernetes: k8s_contexts, k8s_list, k8s_get, k8s_describe,
k8s_events, k8s_logs, k8s_rollout_status. To change objects: k8s_plan(manifests) shows a server-side
dry-run diff and returns a plan_id; show the diff to the user, then k8s_apply(plan_id). Helm: helm_list,
helm_status, helm_history, helm_values; helm_plan(chart, release) renders and checks the chart and
returns a plan_id for helm_apply; helm_rollback(release, revision) plans a rollback the same way.
Plans expire and are used once: when refused, plan again. Namespaces, contexts, kinds, registries and
folders are limited by policy."""


def build_server(
    config: SuiteConfig,
    *,
    runtime: Runtime | None = None,
    docker: DockerOps | None = None,
    kube: KubeOps | None = None,
) -> MCPServer[Any]:
    """The deployment server.

    Args:
        config: the suite configuration; `[deployment]` says where Docker, the kubeconfig, helm and
            compose are.
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
            helm.close()
            compose.close()
            nodes.close()

    kit = ServerKit(
        "deployment", config, runtime, instructions=INSTRUCTIONS, lifespan=lifespan, extensions=[Apps()]
    )
    docker_ops = docker if docker is not None else DockerOps.connect(settings, kit.policy)
    if kube is None:
        connections = KubeConnections(
            settings.kubeconfig, settings.default_context, timeout_s=settings.k8s_timeout_s
        )
        kube = KubeOps(connections, settings, kit.policy)
    kube_ops = kube
    store = plan_store(config, settings)
    helm_store, compose_store, drain_store = (
        plan_store(config, settings, k) for k in ("helm", "compose", "drain")
    )
    helm_binary = find_program(settings.helm.helm_path, "helm", ("helm", HELM_VERSION, "bin", "helm"))
    helm = HelmOps(
        HelmCli(helm_binary, timeout_s=settings.helm.timeout_s),
        kube_ops,
        helm_store,
    )
    compose_binary = find_program(
        settings.compose.compose_path, "docker-compose", ("compose", COMPOSE_VERSION, "bin", "docker-compose")
    )
    compose = ComposeOps(
        ComposeCli(compose_binary, docker_host=settings.docker_host, timeout_s=settings.compose.timeout_s),
        docker_ops,
        compose_store,
        list(kit.policy.settings.scan_roots),
    )
    nodes = NodeOps(kube_ops, drain_store)
    docker_tools(kit, docker_ops)
    compose_tools(kit, compose)
    k8s_tools(kit, kube_ops, PlanOps(kube_ops, store))
    node_tools(kit, kube_ops, nodes)
    policy = kit.policy.settings
    helm_tools(
        kit, helm, ChartSources(settings.helm, list(policy.scan_roots), list(policy.chart_repositories))
    )
    stores = {"k8s": store, "helm": helm_store, "compose": compose_store, "drain": drain_store}
    deployment_surfaces(kit, kube_ops, stores)
    return kit.server
