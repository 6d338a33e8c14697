"""The pairs: one task, CODE's tool for it, each peer's equivalent tool, and what a complete answer holds.

A peer's tool is picked by name from the `list_tools` it answers at start-up (the first candidate it
has); a peer with none of the candidates sits the pair out, and the report says so. Every side of a
pair is called with the arguments a model would pass for the task — the same namespace, object,
PromQL and time window — and otherwise the tool's defaults.

Completeness is a list of facts read from the backends (every pod name, every container id, every
`up` series, …), each a pattern looked for in the text content and, separately, in the structured
content of the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .backends import Backends

RANGE_WINDOW = timedelta(minutes=1)
RANGE_STEP = "5s"  # 13 points per series; the stack scrapes every second

Arguments = Callable[[Backends, str], dict[str, Any]]


@dataclass(frozen=True)
class Way:
    """How one server does a pair: the tool names it may have for it (best first) and the arguments."""

    server: str
    candidates: tuple[str, ...]
    arguments: Arguments


@dataclass(frozen=True)
class Fact:
    """One thing a complete answer shows."""

    what: str
    pattern: re.Pattern[str]


def literal(text: str) -> Fact:
    return Fact(text, re.compile(re.escape(text)))


@dataclass(frozen=True)
class Pair:
    key: str
    title: str
    complete_means: str
    code: Way
    peers: tuple[Way, ...]
    facts: Callable[[Backends], tuple[Fact, ...]]


def _window() -> tuple[str, str]:
    end = datetime.now(UTC).replace(microsecond=0)
    return (end - RANGE_WINDOW).isoformat().replace("+00:00", "Z"), end.isoformat().replace("+00:00", "Z")


def _code_range(_: Backends, __: str) -> dict[str, Any]:
    start, end = _window()
    return {"expr": "up", "start": start, "end": end, "step": RANGE_STEP}


def _peer_range(_: Backends, __: str) -> dict[str, Any]:
    start, end = _window()
    return {"query": "up", "start": start, "end": end, "step": RANGE_STEP}


def _go_pods(b: Backends, tool: str) -> dict[str, Any]:
    if tool == "resources_list":
        return {"apiVersion": "v1", "kind": "Pod", "namespace": b.namespace}
    return {"namespace": b.namespace}


def _go_deployment(b: Backends, tool: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": b.deployment, "namespace": b.namespace}


def _deployment_facts(b: Backends) -> tuple[Fact, ...]:
    replicas = re.compile(rf"replicas[\"']?\s*[:=]\s*{b.replicas}\b", re.IGNORECASE)
    return literal(b.deployment), literal(b.image), Fact(f"replicas: {b.replicas}", replicas)


def _alert_facts(b: Backends) -> tuple[Fact, ...]:
    names = sorted({a.alertname for a in b.alerts})
    shards = sorted({a.shard for a in b.alerts if a.shard})
    return tuple(literal(text) for text in (*names, *shards))


def _helm_facts(b: Backends) -> tuple[Fact, ...]:
    return literal(b.release), literal("0.1.0"), Fact("deployed", re.compile("deployed", re.IGNORECASE))


PAIRS: tuple[Pair, ...] = (
    Pair(
        key="pods",
        title="list 50 pods",
        complete_means="every pod name",
        code=Way("code:deployment", ("k8s_list",), lambda b, _: {"kind": "Pod", "namespace": b.namespace}),
        peers=(
            Way("peer:k8s-go", ("pods_list_in_namespace", "resources_list"), _go_pods),
            Way(
                "peer:k8s-node",
                ("kubectl_get",),
                lambda b, _: {"resourceType": "pods", "namespace": b.namespace},
            ),
        ),
        facts=lambda b: tuple(literal(name) for name in b.pod_names),
    ),
    Pair(
        key="deployment",
        title="get one Deployment",
        complete_means="its name, image and replicas",
        code=Way(
            "code:deployment",
            ("k8s_get",),
            lambda b, _: {"kind": "Deployment", "name": b.deployment, "namespace": b.namespace},
        ),
        peers=(
            Way("peer:k8s-go", ("resources_get",), _go_deployment),
            Way(
                "peer:k8s-node",
                ("kubectl_get",),
                lambda b, _: {"resourceType": "deployments", "name": b.deployment, "namespace": b.namespace},
            ),
        ),
        facts=_deployment_facts,
    ),
    Pair(
        key="prom_instant",
        title="Prometheus instant query `up`",
        complete_means="every `up` series (its instance)",
        code=Way("code:monitoring", ("prom_query",), lambda b, _: {"expr": "up"}),
        peers=(Way("peer:prometheus", ("execute_query", "query"), lambda b, _: {"query": "up"}),),
        facts=lambda b: tuple(literal(i) for i in b.up_instances),
    ),
    Pair(
        key="prom_range",
        title=f"Prometheus range query `up` ({RANGE_WINDOW.seconds}s, step {RANGE_STEP})",
        complete_means="every `up` series (its instance)",
        code=Way("code:monitoring", ("prom_query_range",), _code_range),
        peers=(Way("peer:prometheus", ("execute_range_query", "query_range"), _peer_range),),
        facts=lambda b: tuple(literal(i) for i in b.up_instances),
    ),
    Pair(
        key="containers",
        title="list 10 containers",
        complete_means="every container id (12 hex digits)",
        code=Way("code:deployment", ("docker_list_containers",), lambda b, _: {}),
        peers=(Way("peer:docker", ("list_containers", "docker_list_containers"), lambda b, _: {}),),
        facts=lambda b: tuple(literal(i) for i in b.container_ids),
    ),
    Pair(
        key="alerts",
        title="Alertmanager alerts",
        complete_means="every alert name and shard label",
        code=Way("code:monitoring", ("am_alerts",), lambda b, _: {}),
        peers=(Way("peer:alertmanager", ("get_alerts", "list_alerts"), lambda b, _: {}),),
        facts=_alert_facts,
    ),
    Pair(
        key="helm",
        title="Helm list",
        complete_means="the release's name, chart version and status",
        code=Way("code:deployment", ("helm_list",), lambda b, _: {"namespace": b.namespace}),
        peers=(
            Way("peer:k8s-go", ("helm_list",), lambda b, _: {"namespace": b.namespace}),
            Way("peer:k8s-node", ("helm_list", "list_helm_releases", "helm_list_releases"), lambda b, _: {}),
        ),
        facts=_helm_facts,
    ),
)


def first_call(server: str) -> tuple[Pair, Way] | None:
    """The first pair a server takes part in (the call its cold start ends with)."""
    for pair in PAIRS:
        for way in (pair.code, *pair.peers):
            if way.server == server:
                return pair, way
    return None
