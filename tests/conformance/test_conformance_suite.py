"""The protocol's own conformance suite (npm `@modelcontextprotocol/conformance`, server scenarios)
against each server over streamable HTTP, alone and mounted in `serve suite`.

The suite's server scenarios drive a URL, so stdio and SSE are out of its reach (they are covered by
the SDK clients in test_protocol_eras.py and test_ts_sdk_client.py). Many scenarios call the reference
"everything" server's test tools, resources and prompts (`test_simple_text`, `test://static-text`,
…), which a real server does not have: NOT_APPLICABLE says why each is not counted. Every scenario
that applies must pass; every scenario the suite runs must be classified here.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from servers.cli import resolve
from shared.config import load_config
from shared.runner import Mounted, build_http_app, mcp_path
from shared.runtime import Runtime
from tests.conformance.targets import SERVER_NAMES, node_env, node_tool, suite_config
from tests.support.connect import Connector, serve_app
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

TIMEOUT_S = 180.0
_RUN_STAMP = re.compile(r"-\d{4}-\d{2}-\d{2}T[\dZ-]+$")  # results/<scenario>-<timestamp>/

# Scenarios that test what our servers do: each must pass.
APPLICABLE = (
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "completion-complete",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
)

_EVERYTHING_TOOL = "calls a test tool of the reference 'everything' server"
NOT_APPLICABLE: dict[str, str] = {
    "logging-set-level": "our servers do not declare the `logging` capability; -32601 is the right answer",
    # The next two "pass" against any server: the check accepts the unknown-tool error it gets back.
    "tools-call-simple-text": f"{_EVERYTHING_TOOL} (test_simple_text)",
    "tools-call-error": f"{_EVERYTHING_TOOL} (test_error_handling)",
    "tools-call-image": f"{_EVERYTHING_TOOL} (test_image_content)",
    "tools-call-audio": f"{_EVERYTHING_TOOL} (test_audio_content)",
    "tools-call-embedded-resource": f"{_EVERYTHING_TOOL} (test_embedded_resource)",
    "tools-call-mixed-content": f"{_EVERYTHING_TOOL} (test_multiple_content_types)",
    "tools-call-with-logging": f"{_EVERYTHING_TOOL} (test_tool_with_logging)",
    "tools-call-with-progress": f"{_EVERYTHING_TOOL} (test_tool_with_progress)",
    "tools-call-sampling": f"{_EVERYTHING_TOOL} (test_sampling); our tools never sample",
    "tools-call-elicitation": f"{_EVERYTHING_TOOL} (test_elicitation); ours ask only to confirm a write",
    "elicitation-sep1034-defaults": f"{_EVERYTHING_TOOL}; ours ask only to confirm a write",
    "elicitation-sep1330-enums": f"{_EVERYTHING_TOOL}; ours ask only to confirm a write",
    "resources-read-text": "reads the reference server's test:// resources; ours are scan://, plan://, …",
    "resources-read-binary": "reads the reference server's test:// resources; ours are scan://, plan://, …",
    "resources-templates-read": "reads the reference server's test:// template; ours are scan://, plan://, …",
    "resources-subscribe": "2025 resources/subscribe to a reference test:// resource; ours (alerts://) "
    "is subscribable over 2026-07-28 subscriptions/listen only",
    "resources-unsubscribe": "2025 resources/unsubscribe from a reference test:// resource; ours "
    "(alerts://) is subscribable over 2026-07-28 subscriptions/listen only",
    "prompts-get-simple": "gets the reference server's test_* prompts by name; ours are runbooks",
    "prompts-get-with-args": "gets the reference server's test_* prompts by name; ours are runbooks",
    "prompts-get-embedded-resource": "gets the reference server's test_* prompts by name; ours are runbooks",
    "prompts-get-with-image": "gets the reference server's test_* prompts by name; ours are runbooks",
}


async def run_suite(url: str, out: Path) -> dict[str, list[dict[str, object]]]:
    """Run the active server scenarios against `url`; returns each scenario's checks."""
    cli = node_tool("conformance")
    with anyio.fail_after(TIMEOUT_S):
        proc = await anyio.run_process(
            [str(cli), "server", "--url", url, "-o", str(out)], env=node_env(), check=False
        )
    results = read_results(out)
    assert results, f"the conformance suite produced no results:\n{proc.stdout.decode()[-3000:]}"
    return results


def read_results(out: Path) -> dict[str, list[dict[str, object]]]:
    """The suite's results folder (`<scenario>-<timestamp>/checks.json`) -> each scenario's checks."""
    results: dict[str, list[dict[str, object]]] = {}
    for checks in sorted(out.glob("*/checks.json")):
        scenario = _RUN_STAMP.sub("", checks.parent.name.removeprefix("server-"))
        results[scenario] = json.loads(checks.read_text())
    return results


def verdicts(results: dict[str, list[dict[str, object]]]) -> dict[str, str]:
    """scenario -> PASS / FAIL (a check FAILURE) / N/A."""
    table: dict[str, str] = {}
    for scenario, checks in results.items():
        if scenario in NOT_APPLICABLE:
            table[scenario] = "N/A"
        else:
            failed = [c for c in checks if c.get("status") == "FAILURE"]
            table[scenario] = "FAIL" if failed else "PASS"
    return table


def assert_conformant(label: str, results: dict[str, list[dict[str, object]]]) -> None:
    unknown = sorted(set(results) - set(APPLICABLE) - set(NOT_APPLICABLE))
    assert not unknown, (
        f"{label}: new conformance scenarios to classify (APPLICABLE or NOT_APPLICABLE): {unknown}"
    )
    missing = sorted(set(APPLICABLE) - set(results))
    assert not missing, f"{label}: applicable scenarios did not run: {missing}"
    table = verdicts(results)
    failures = {
        s: [c for c in results[s] if c.get("status") == "FAILURE"] for s, v in table.items() if v == "FAIL"
    }
    assert not failures, f"{label}: failing scenarios:\n{json.dumps(failures, indent=2)[:6000]}"


@pytest.mark.parametrize("server", SERVER_NAMES)
async def test_conformance_suite_over_streamable_http(server: str, tmp_path: Path) -> None:
    async with Connector("http", tmp_path).serve(server, suite_config(tmp_path)) as served:
        assert served.url is not None
        results = await run_suite(served.url, tmp_path / "results")
    assert_conformant(server, results)


@asynccontextmanager
async def serve_suite(tmp_path: Path) -> AsyncIterator[str]:
    """All four servers in one HTTP app, as `code-mcp serve suite` builds it; yields the base URL."""
    config_data = suite_config(tmp_path)
    config_data["auth"] = {"allow_unauthenticated_loopback": True}
    config_file = Connector("http", tmp_path).write_config(config_data)
    runtime = Runtime.from_config(load_config(config_file))
    try:
        mounts = [
            Mounted(f"/{name}", resolve(name)[1](runtime.config, runtime=runtime)) for name in SERVER_NAMES
        ]
        port = free_port()
        app = build_http_app(mounts, runtime, transport="http", port=port)
        async with serve_app(app, port) as base_url:
            yield base_url
    finally:
        await runtime.aclose()


async def test_conformance_suite_against_serve_suite(tmp_path: Path) -> None:
    async with serve_suite(tmp_path) as base_url:
        results = {}
        for name in SERVER_NAMES:
            results[name] = await run_suite(base_url + mcp_path(f"/{name}", "http"), tmp_path / name)
    for name, result in results.items():
        assert_conformant(f"serve suite /{name}", result)


def test_a_failing_check_fails_the_verdict() -> None:
    results: dict[str, list[dict[str, object]]] = {
        "ping": [{"status": "FAILURE"}],
        "tools-list": [{"status": "SUCCESS"}],
        "tools-call-image": [{"status": "FAILURE"}],
    }
    assert verdicts(results) == {"ping": "FAIL", "tools-list": "PASS", "tools-call-image": "N/A"}
    with pytest.raises(AssertionError, match="did not run"):
        assert_conformant("x", results)
