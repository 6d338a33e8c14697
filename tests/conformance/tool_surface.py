"""The tool surface of the four servers (every tier enabled), as clients see it in `tools/list`,
and their prompts (`prompts/list`), resources (`resources/list`: the MCP Apps views) and resource
templates (`resources/templates/list`).

Regenerate the snapshot after an intended change to a tool's name, title, annotations or schemas:

    python -m tests.conformance.tool_surface

and commit `tests/conformance/tool_surface.json` with the change, so clients are never surprised.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from pydantic import BaseModel

from tests.conformance.targets import SERVER_NAMES, suite_config
from tests.support.connect import Connector

SNAPSHOT = Path(__file__).resolve().parent / "tool_surface.json"
REGENERATE = "python -m tests.conformance.tool_surface"


async def list_tools(server: str, tmp_path: Path, *, read_only: bool = False) -> list[dict[str, Any]]:
    """`tools/list` of one server, as JSON (wire names, no Nones).

    Every tier is enabled, unless `read_only`: then the default policy registers read tools only.
    """
    return (await list_surface(server, tmp_path, read_only=read_only))["tools"]


async def list_surface(
    server: str, tmp_path: Path, *, read_only: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """`tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` of one server."""
    config = suite_config(tmp_path)
    if read_only:
        del config["policy"]
    connector = Connector("memory", tmp_path)
    async with connector.serve(server, config) as served, Client(served.server) as client:  # type: ignore[arg-type]
        listed: dict[str, Sequence[BaseModel]] = {
            "tools": (await client.list_tools()).tools,
            "prompts": (await client.list_prompts()).prompts,
            "resources": (await client.list_resources()).resources,
            "resource_templates": (await client.list_resource_templates()).resource_templates,
        }
    return {
        kind: [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in items]
        for kind, items in listed.items()
    }


def surface_of(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client relies on, per tool: title, annotations, input and output schema, and its
    `_meta` where it has one (an MCP Apps view)."""
    return {
        tool["name"]: {
            "title": tool.get("title"),
            "annotations": tool.get("annotations"),
            "inputSchema": tool.get("inputSchema"),
            "outputSchema": tool.get("outputSchema"),
            **({"_meta": tool["_meta"]} if tool.get("_meta") else {}),
        }
        for tool in sorted(tools, key=lambda t: str(t["name"]))
    }


def by_name(items: list[dict[str, Any]], key: str = "name") -> dict[str, Any]:
    """Prompts, resources or resource templates keyed by name, in order, each without its key."""
    return {
        str(i[key]): {k: v for k, v in i.items() if k != key}
        for i in sorted(items, key=lambda i: str(i[key]))
    }


async def current_surface(tmp_path: Path) -> dict[str, Any]:
    """The tools of every server keyed by server name; then "prompts", "resources" and
    "resource_templates", each keyed by server name."""
    surface: dict[str, Any] = {"prompts": {}, "resources": {}, "resource_templates": {}}
    for server in SERVER_NAMES:
        folder = tmp_path / server
        folder.mkdir(parents=True, exist_ok=True)
        listed = await list_surface(server, folder)
        surface[server] = surface_of(listed["tools"])
        surface["prompts"][server] = by_name(listed["prompts"])
        surface["resources"][server] = by_name(listed["resources"])
        surface["resource_templates"][server] = by_name(listed["resource_templates"])
    return surface


def render(surface: dict[str, Any]) -> str:
    return json.dumps(surface, indent=2, sort_keys=True) + "\n"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        surface = anyio.run(current_surface, Path(tmp))
    SNAPSHOT.write_text(render(surface))
    count = sum(len(surface[server]) for server in SERVER_NAMES)
    sys.stderr.write(f"wrote {SNAPSHOT} ({count} tools of {len(SERVER_NAMES)} servers, prompts, resources)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
