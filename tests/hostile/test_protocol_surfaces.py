"""Attacks on what the protocol adds beside tools: getting a change past the person's confirmation
without a genuine yes, and reading another caller's scans or plans through resources, prompts and
completions. Real MCP sessions, the real control plane and scanners.

What confirmation cannot stop, by design: a client that declares elicitation and answers for the
person itself (docs/readme/confirmation.md). What it must stop is everything else — a forged or
replayed `requestState`, an answer carried to another plan, an answer nobody was asked for, a
malformed yes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes import client as k8s
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitResult, InputRequiredResult, PromptReference, ResourceTemplateReference

from shared.auth import hash_api_key
from tests.hostile.conftest import Attempt
from tests.integration.deployment.k8s_cluster import KubeCluster
from tests.integration.deployment.sessions import deployment_session
from tests.integration.deployment.test_k8s_server import config, deployment_yaml
from tests.integration.security_scan.test_sarif_export import _plant
from tests.support.connect import Connector

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

YES = ElicitResult(action="accept", content={"confirm": True})


async def _plan(client: Client, namespace: str, name: str) -> str:
    result = await client.call_tool(
        "k8s_plan", {"manifests": deployment_yaml(name=name), "namespace": namespace}
    )
    assert not result.is_error, result.content
    return str((result.structured_content or {})["plan_id"])


async def _round(client: Client, plan_id: str, responses: Any = None, state: str | None = None) -> Any:
    return await client.session.call_tool(
        "k8s_apply",
        {"plan_id": plan_id},
        input_responses=responses,
        request_state=state,
        allow_input_required=True,
    )


async def _never_asked(context: Any, params: Any) -> ElicitResult:
    raise AssertionError("the rounds are driven by hand: the client's handler must not be called")


def _flip(token: str, at: int) -> str:
    raw = bytearray(token.encode())
    raw[at] = ord("A") if raw[at] != ord("A") else ord("B")
    return raw.decode()


async def test_no_change_passes_the_confirmation_without_a_genuine_yes(
    cluster: KubeCluster, namespace: str, tmp_path: Path, api: k8s.ApiClient, attempt: Attempt
) -> None:
    apps = k8s.AppsV1Api(api)
    conf = config(cluster, tmp_path, confirm={"default": "always"})
    async with deployment_session(conf, mode="auto", elicitation_callback=_never_asked) as client:
        assert client.protocol_version == "2026-07-28"
        plan_a, plan_b = await _plan(client, namespace, "alpha"), await _plan(client, namespace, "beta")
        first = await _round(client, plan_a)
        assert isinstance(first, InputRequiredResult) and first.request_state
        key = next(iter(first.input_requests or {}))
        state = first.request_state

        with attempt("confirmation", "an answer sent before any question was asked"):
            again = await _round(client, plan_a, {key: YES})
            assert isinstance(again, InputRequiredResult)

        forged = {
            "one character changed mid-token": _flip(state, len(state) // 2),
            "last character changed": _flip(state, len(state) - 1),
            "truncated": state[:-8],
            "another key's seal": "v1." + base64.urlsafe_b64encode(b"x" * 60).decode().rstrip("="),
            "empty": "",
            "plaintext JSON": json.dumps(
                {"v": 3, "outcomes": {key: {"action": "accept", "data": {"confirm": True}}}}
            ),
        }
        for what, bad in forged.items():
            with attempt("confirmation", f"forged requestState: {what}"):
                try:
                    outcome = await _round(client, plan_a, {key: YES}, bad)
                except MCPError:
                    continue
                assert isinstance(outcome, InputRequiredResult) or outcome.is_error, what

        carried = "plan A's sealed state and answer used for plan B"
        with attempt("confirmation", carried), pytest.raises(MCPError):
            await _round(client, plan_b, {key: YES}, state)

        for what, content in {
            "confirm given as a string": {"confirm": "yes"},
            "confirm missing": {},
            "confirm false": {"confirm": False},
        }.items():
            with attempt("confirmation", f"a malformed yes: {what}"):
                outcome = await _round(
                    client, plan_a, {key: ElicitResult(action="accept", content=content)}, state
                )
                assert not isinstance(outcome, InputRequiredResult) and outcome.is_error, what

        for name in ("alpha", "beta"):
            with pytest.raises(k8s.ApiException):
                apps.read_namespaced_deployment(name, namespace)  # nothing reached the cluster

        fresh = await _plan(client, namespace, "gamma")
        asked = await _round(client, fresh)
        done = await _round(client, fresh, {key: YES}, asked.request_state)
        assert not isinstance(done, InputRequiredResult) and not done.is_error  # the genuine yes works
        with attempt("confirmation", "the confirmed round replayed to apply the plan twice"):
            replay = await _round(client, fresh, {key: YES}, asked.request_state)
            assert not isinstance(replay, InputRequiredResult) and replay.is_error


API_KEYS = {
    "alice": "cmk_alice_key_0123456789",
    "bob": "cmk_bob_key_0123456789abc",
    "mallory": "cmk_mallory_9876543210",
}
ROLES = {"mallory": "watcher"}


async def test_resources_prompts_and_completions_never_show_another_callers_work(
    tmp_path: Path, shared_cache: Path, scanners_installed: None, attempt: Attempt
) -> None:
    project = _plant(tmp_path)
    conf: dict[str, Any] = {
        "policy": {"scan_roots": [str(tmp_path)], "roles": {"watcher": ["monitoring:read"]}},
        "security_scan": {"cache_dir": str(shared_cache)},
        "limits": {"identity": {"rate": 1000, "burst": 1000}},
        "auth": {
            "api_keys": [
                {"id": who, "sha256": hash_api_key(key), "role": ROLES.get(who, "viewer")}
                for who, key in API_KEYS.items()
            ]
        },
    }
    connector = Connector("http", tmp_path)
    async with (
        connector.serve("security-scan", conf) as served,
        connector.client(served, "security-scan", token=API_KEYS["alice"]) as alice,
        connector.client(served, "security-scan", token=API_KEYS["bob"]) as bob,
        connector.client(served, "security-scan", token=API_KEYS["mallory"]) as mallory,
    ):
        with anyio.fail_after(300):
            scanned = await alice.call_tool("scan_path", {"path": str(project), "scanners": ["bandit"]})
        scan_id = str((scanned.structured_content or {})["scan_id"])
        assert (await alice.read_resource(f"scan://{scan_id}/sarif")).contents  # the owner reads it

        for what, uri in {
            "SARIF": f"scan://{scan_id}/sarif",
            "SBOM": f"scan://{scan_id}/sbom",
        }.items():
            with attempt("surfaces", f"another caller's scan {what} read by id"):
                with pytest.raises(MCPError) as refused:
                    await bob.read_resource(uri)
                assert "no scan" in str(refused.value)
        with attempt("surfaces", "another caller's scan ids offered as completions"):
            ref = ResourceTemplateReference(type="ref/resource", uri="scan://{scan_id}/sarif")
            offered = await bob.complete(ref, {"name": "scan_id", "value": ""})
            assert offered.completion.values == []
        for what, call in {
            "resource read": lambda: mallory.read_resource(f"scan://{scan_id}/sarif"),
            "prompt get": lambda: mallory.get_prompt("security_review", {"path": "."}),
            "completion": lambda: mallory.complete(
                PromptReference(type="ref/prompt", name="security_review"), {"name": "path", "value": "/"}
            ),
        }.items():
            with attempt("surfaces", f"a role without scan:run: {what}"):
                with pytest.raises(MCPError) as denied:
                    await call()
                assert "needs permission 'scan:run'" in str(denied.value)
        for uri in (f"scan://{scan_id}/sarif", f"scan://{scan_id}/sbom", "alerts://local"):
            with attempt("surfaces", f"a listen stream to learn when {uri} changes"), pytest.raises(MCPError):
                async with bob.listen(resource_subscriptions=[uri]):
                    pass  # nothing on this server is watched: every listen for resources is refused
        for uri in (
            f"scan://{scan_id}/../../etc/passwd",
            "scan://%2e%2e/sarif",
            f"scan://{scan_id}/sarif?x=1",
        ):
            with attempt("surfaces", f"a URI outside the templates: {uri}"), pytest.raises(MCPError):
                await alice.read_resource(uri)
