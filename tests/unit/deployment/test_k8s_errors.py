"""The Kubernetes client's failures become tool errors the model can act on, in one place."""

from __future__ import annotations

import json

import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from servers.deployment.k8s_client import kube_errors
from servers.deployment.settings import DeploymentSettings
from shared.errors import InvalidArgument, NotFound, PermissionDenied, ToolFailure, UpstreamUnavailable


def api_error(status: int, message: str = "boom") -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message})
    return exc


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (404, NotFound, r"not found \(boom\)"),
        (403, PermissionDenied, "cluster.s RBAC forbids it"),
        (401, PermissionDenied, "refused the credentials"),
        (409, InvalidArgument, "conflict: boom"),
        (422, InvalidArgument, "rejected it: boom"),
        (500, UpstreamUnavailable, r"failed \(500\)"),
    ],
)
def test_api_errors_map_to_tool_errors(status: int, error: type[ToolFailure], text: str) -> None:
    with pytest.raises(error, match=text), kube_errors("get thing"):
        raise api_error(status)


def test_an_unreadable_body_still_gives_a_message() -> None:
    exc = ApiException(status=400, reason="Bad Request")
    exc.body = "<html>"

    with pytest.raises(InvalidArgument, match="Bad Request"), kube_errors("x"):
        raise exc


def test_connection_failures_are_upstream_unavailable() -> None:
    with pytest.raises(UpstreamUnavailable, match="cannot reach the API server"), kube_errors("x"):
        raise urllib3.exceptions.MaxRetryError(None, "/", "refused")  # type: ignore[arg-type]


def test_settings_have_safe_defaults() -> None:
    settings = DeploymentSettings()

    assert settings.run_defaults.network_modes[0] == "none"
    assert settings.plan_ttl_s == 600
    assert settings.field_manager == "code-mcp"
    with pytest.raises(ValueError):
        DeploymentSettings.model_validate({"unknown": 1})
    with pytest.raises(ValueError):
        DeploymentSettings.model_validate({"docker_api_version": "latest"})
