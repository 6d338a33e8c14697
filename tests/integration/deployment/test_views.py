"""The rollout view (MCP Apps), drawn from a real `k8s_rollout_status` in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client as k8s

from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import deployment_session
from tests.integration.deployment.test_k8s_server import config, deployment_yaml, plan_and_apply
from tests.support.browser import render_view, view_of, wire

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

DONE_GREEN = "#2e7d32"


async def test_the_rollout_view_shows_a_completed_rollout(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient
) -> None:
    async with deployment_session(config(cluster, tmp_path)) as client:
        html = await view_of(client, "k8s_rollout_status")
        await plan_and_apply(client, deployment_yaml(), namespace)
        args = {"deployment": "web", "namespace": namespace, "timeout_s": 90}
        result = await client.call_tool("k8s_rollout_status", args)
    assert not result.is_error, result.content
    status = result.structured_content or {}
    assert status["complete"] and status["replicas"] == 2
    waiting = render_view(html, None, tmp_path, name="rollout-waiting")
    drawn = render_view(html, wire(result), tmp_path, name="rollout-progress")
    assert 'class="rollout done"' in drawn.dom and f"{namespace}/web" in drawn.dom
    assert drawn.dom.count('data-count="2"') == 3 and drawn.dom.count("width:100%") == 3
    assert "updated: 2 of 2" in drawn.dom and "available: 2 of 2" in drawn.dom
    assert drawn.pixels_like(DONE_GREEN) > 500 and waiting.pixels_like(DONE_GREEN) == 0
