"""The tool surface of the four servers (every tier enabled), as clients see it in `tools/list`.

Regenerate the snapshot after an intended change to a tool's name, title, annotations or schemas:

    python -m tests.conformance.tool_surface

and commit `tests/conformance/tool_surface.json` with the change, so clients are never surprised.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from tests.conformance.targets import SERVER_NAMES, suite_config
from tests.support.connect import Connector

SNAPSHOT = Path(__file__).resolve().parent / "tool_surface.json"
REGENERATE = "python -m tests.conformance.tool_surface"


async def list_tools(server: str, tmp_path: Path, *, read_only: bool = False) -> list[dict[str, Any]]:
    """`tools/list` of one server, as JSON (wire names, no Nones).

    Every tier is enabled, unless `read_only`: then the default policy registers read tools only.
    """
    config = suite_config(tmp_path)
    if read_only:
        del config["policy"]
    connector = Connector("memory", tmp_path)
    async with connector.serve(server, config) as served, Client(served.server) as client:  # type: ignore[arg-type]
        result = await client.list_tools()
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in result.tools]


def surface_of(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client relies on, per tool: title, annotations, input and output schema."""
    return {
        tool["name"]: {
            "title": tool.get("title"),
            "annotations": tool.get("annotations"),
            "inputSchema": tool.get("inputSchema"),
            "outputSchema": tool.get("outputSchema"),
        }
        for tool in sorted(tools, key=lambda t: str(t["name"]))
    }


async def current_surface(tmp_path: Path) -> dict[str, Any]:
    """The surface of every server, keyed by server name."""
    surface: dict[str, Any] = {}
    for server in SERVER_NAMES:
        folder = tmp_path / server
        folder.mkdir(parents=True, exist_ok=True)
        surface[server] = surface_of(await list_tools(server, folder))
    return surface


def render(surface: dict[str, Any]) -> str:
    return json.dumps(surface, indent=2, sort_keys=True) + "\n"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        surface = anyio.run(current_surface, Path(tmp))
    SNAPSHOT.write_text(render(surface))
    count = sum(len(tools) for tools in surface.values())
    sys.stderr.write(f"wrote {SNAPSHOT} ({count} tools of {len(surface)} servers)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
