"""Every tool of the four servers, every tier enabled: titles, annotations, names, schemas, snapshot."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.targets import DOMAIN_PREFIXES, SERVER_NAMES
from tests.conformance.tool_surface import REGENERATE, SNAPSHOT, current_surface, list_tools, render

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture(scope="module")
async def tools_by_server(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("surface")
    result: dict[str, list[dict[str, Any]]] = {}
    for server in SERVER_NAMES:
        folder = tmp / server
        folder.mkdir()
        result[server] = await list_tools(server, folder)
    return result


def problems_of(server: str, tool: dict[str, Any]) -> list[str]:
    """What is wrong with one tool's metadata (empty when nothing is)."""
    name = str(tool["name"])
    found: list[str] = []
    if len(name) > 64 or not SNAKE_CASE.fullmatch(name):
        found.append("name must be snake_case and at most 64 characters")
    if not name.startswith(DOMAIN_PREFIXES[server]):
        found.append(f"name must start with one of {DOMAIN_PREFIXES[server]}")
    if not str(tool.get("title") or "").strip():
        found.append("no title")
    if not str(tool.get("description") or "").strip():
        found.append("no description")
    annotations = tool.get("annotations") or {}
    hints = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
    if missing := [h for h in hints if not isinstance(annotations.get(h), bool)]:
        found.append(f"annotations without {missing}")
    if annotations.get("title") != tool.get("title"):
        found.append("annotations.title differs from the title")
    if annotations.get("readOnlyHint") is True and annotations.get("destructiveHint") is not False:
        found.append("a read-only tool must say destructiveHint=false")
    output = tool.get("outputSchema")
    if not isinstance(output, dict) or output.get("type") != "object":
        found.append("no output schema (structured results need one)")
    if (tool.get("inputSchema") or {}).get("type") != "object":
        found.append("input schema is not an object")
    return found


@pytest.mark.parametrize("server", SERVER_NAMES)
async def test_every_tool_has_title_annotations_prefixed_name_and_output_schema(
    server: str, tools_by_server: dict[str, list[dict[str, Any]]]
) -> None:
    tools = tools_by_server[server]
    assert tools, f"{server} lists no tools"
    report = {t["name"]: p for t in tools if (p := problems_of(server, t))}
    assert not report, f"{server}: {json.dumps(report, indent=2)}"
    names = [t["name"] for t in tools]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("server", SERVER_NAMES)
async def test_read_tier_tools_are_read_only_and_write_tools_are_not(
    server: str, tools_by_server: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Tools registered at the read tier say read-only, non-destructive; the rest say not read-only."""
    read_tier = {t["name"] for t in await list_tools(server, tmp_path, read_only=True)}
    everything = {t["name"]: t["annotations"] for t in tools_by_server[server]}
    assert read_tier <= set(everything)
    for name, hints in everything.items():
        if name in read_tier:
            assert (hints["readOnlyHint"], hints["destructiveHint"]) == (True, False), name
        else:
            assert hints["readOnlyHint"] is False, name
    if server == "deployment":
        writes = set(everything) - read_tier
        assert {"docker_run", "docker_stop", "k8s_apply", "k8s_delete", "k8s_scale"} <= writes
        assert everything["k8s_delete"]["destructiveHint"] is True


def test_hostile_names_and_missing_titles_are_reported() -> None:
    """The checker itself catches what it is meant to (a checker that cannot fail is a defect)."""
    good: dict[str, Any] = {
        "name": "prom_query",
        "title": "Query",
        "description": "d",
        "annotations": {
            "title": "Query",
            "readOnlyHint": True,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": True,
        },
        "inputSchema": {"type": "object"},
        "outputSchema": {"type": "object"},
    }
    assert problems_of("monitoring", good) == []
    bad: dict[str, Any] = {**good, "name": "PromQuery-" + "x" * 70, "title": "", "outputSchema": None}
    bad["annotations"] = {**bad["annotations"], "destructiveHint": True}
    found = problems_of("monitoring", bad)
    assert any("snake_case" in p for p in found) and any("start with" in p for p in found)
    assert "no title" in found and any("output schema" in p for p in found)
    assert any("destructiveHint=false" in p for p in found)


async def test_tool_surface_matches_snapshot(tmp_path: Path) -> None:
    """A change of a tool's name, title, annotations, input or output schema needs a new snapshot."""
    assert SNAPSHOT.is_file(), f"{SNAPSHOT} is missing: run `{REGENERATE}` and commit it"
    expected = SNAPSHOT.read_text()
    actual = render(await current_surface(tmp_path))
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    "tool_surface.json (snapshot)",
                    "tools/list (now)",
                    n=2,
                )
            )[:80]
        )
        pytest.fail(
            "The tool surface changed; clients see a different tool list. If the change is intended, "
            f"regenerate the snapshot with `{REGENERATE}` and commit tests/conformance/tool_surface.json.\n"
            + diff,
            pytrace=False,
        )


TOOL_WORD = re.compile(
    r"\b(?:k8s|helm|compose|docker|prom|am|scan|slo|rollout|health|host|suite|experts)_[a-z_]+\b"
)
NOT_TOOLS = frozenset({"scan_id", "plan_id", "thread_id"})  # argument names the runbooks mention


@pytest.mark.parametrize("server", SERVER_NAMES)
async def test_every_prompt_is_a_runbook_of_tools_the_read_tier_has(server: str, tmp_path: Path) -> None:
    """A prompt (slash command) renders, has a title and description, and names only tools a
    read-tier server registers — so a host's first slash command never sends the model to a tool
    that is not there."""
    from mcp import Client

    from tests.conformance.targets import suite_config
    from tests.support.connect import Connector

    config = suite_config(tmp_path)
    del config["policy"]
    connector = Connector("memory", tmp_path)
    async with connector.serve(server, config) as served, Client(served.server) as client:  # type: ignore[arg-type]
        tools = {t.name for t in (await client.list_tools()).tools}
        prompts = (await client.list_prompts()).prompts
        texts = {}
        for prompt in prompts:
            assert prompt.title and prompt.description, prompt.name
            arguments = {a.name: "x" for a in prompt.arguments or [] if a.required}
            got = await client.get_prompt(prompt.name, arguments)
            texts[prompt.name] = " ".join(getattr(m.content, "text", "") for m in got.messages)
        templates = (await client.list_resource_templates()).resource_templates
    for name, text in texts.items():
        named = set(TOOL_WORD.findall(text)) - NOT_TOOLS
        assert named, f"prompt {name} names no tool"
        assert named <= tools, f"prompt {name} names tools the server lacks: {sorted(named - tools)}"
    for template in templates:
        assert template.title and template.description, template.uri_template
