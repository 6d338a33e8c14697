"""The `kubectl get` columns of k8s_list: status, ready, restarts, age and node, per kind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from servers.deployment.k8s_views import age, summary_columns

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def pod(*statuses: dict[str, Any], node: str | None = "node-1") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "web-1", "creationTimestamp": "2026-11-29T11:00:00Z"},
        "spec": {"nodeName": node, "containers": [{"name": f"c{i}"} for i in range(len(statuses))]},
        "status": {"phase": "Running", "containerStatuses": list(statuses)},
    }


def test_a_running_pod_shows_phase_ready_restarts_age_and_node() -> None:
    ready = {"ready": True, "restartCount": 2, "state": {"running": {}}}
    assert summary_columns(pod(ready, ready), now=NOW) == {
        "status": "Running", "ready": "2/2", "restarts": 4, "age": "3d", "node": "node-1",
    }  # fmt: skip


def test_a_crashing_pod_says_why_like_kubectl() -> None:
    crashing = {"ready": False, "restartCount": 7, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    fine = {"ready": True, "restartCount": 0, "state": {"running": {}}}
    columns = summary_columns(pod(fine, crashing), now=NOW)
    assert (columns["status"], columns["ready"], columns["restarts"]) == ("CrashLoopBackOff", "1/2", 7)


def test_a_workload_shows_its_ready_replicas_and_no_pod_columns() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"creationTimestamp": "2026-12-02T11:15:00Z"},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 2},
    }
    assert summary_columns(deployment, now=NOW) == {
        "status": None, "ready": "2/3", "restarts": None, "age": "45m", "node": None,
    }  # fmt: skip


def test_age_is_kubectls_short_form_and_tolerates_bad_input() -> None:
    assert age("2026-12-02T11:59:30Z", now=NOW) == "30s"
    assert age("2026-12-02T07:00:00Z", now=NOW) == "5h"
    assert age("2026-12-03T00:00:00Z", now=NOW) == "0s"  # a clock skew never goes negative
    assert age("yesterday", now=NOW) is None and age(None, now=NOW) is None
