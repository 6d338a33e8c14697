"""Rendering an MCP Apps view in real headless Chromium (Debian's `chromium`), the way a host does:
the view's HTML is loaded, and the tool's result is posted to it as the host's
`ui/notifications/tool-result`. Returns the DOM after scripts ran and a screenshot.

The harness is the host here: it adds one script after the view's own, posting the result to the
window (a top-level document is its own parent). Set `CODE_VIEW_SCREENSHOTS=DIR` to keep the
screenshots (the documentation's images are made that way)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mcp import Client
from mcp_types import TextResourceContents
from PIL import Image

from shared.views import APP_MIME_TYPE
from tests.support.services import require_program

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=3000",
]


@dataclass(frozen=True)
class Rendered:
    dom: str
    screenshot: Path

    def pixels_like(self, color: str, *, tolerance: int = 24) -> int:
        """How many pixels of the screenshot are within `tolerance` of `color` (#rrggbb)."""
        want = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
        near = (
            all(abs(a - b) <= tolerance for a, b in zip(px, want, strict=True))
            for px in _pixels(self.screenshot)
        )
        return sum(near)

    def differs_from(self, other: Rendered) -> float:
        """The share of pixels that differ between two screenshots of the same size."""
        pa, pb = _pixels(self.screenshot), _pixels(other.screenshot)
        return sum(1 for x, y in zip(pa, pb, strict=True) if x != y) / len(pa)


def _pixels(png: Path) -> list[tuple[int, ...]]:
    with Image.open(png) as image:
        raw = image.convert("RGB").tobytes()
    return [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]


async def view_of(client: Client, tool: str) -> str:
    """The `ui://` document the tool names in `_meta.ui.resourceUri`, read like a host reads it."""
    listed = {t.name: t for t in (await client.list_tools()).tools}
    uri = (listed[tool].meta or {})["ui"]["resourceUri"]
    (content,) = (await client.read_resource(uri)).contents
    assert isinstance(content, TextResourceContents) and content.mime_type == APP_MIME_TYPE
    return content.text


def wire(result: Any) -> dict[str, Any]:
    return dict(result.model_dump(mode="json", by_alias=True, exclude_none=True))


def host_script(result: dict[str, Any] | None) -> str:
    """The host's side: post the tool result to the view (nothing, for the waiting state)."""
    if result is None:
        return ""
    message = json.dumps({"jsonrpc": "2.0", "method": "ui/notifications/tool-result", "params": result})
    return "<script>window.postMessage(" + message.replace("</", "<\\/") + ', "*");</script>'


def render_view(
    html: str,
    result: dict[str, Any] | None,
    workdir: Path,
    *,
    name: str,
    extra: str = "",
    size: str = "900,640",
) -> Rendered:
    """Load `html` in Chromium with `result` posted to it (and `extra` markup after the view)."""
    chromium = require_program("chromium")
    workdir.mkdir(parents=True, exist_ok=True)
    page = workdir / f"{name}.html"
    page.write_text(html.replace("</body>", host_script(result) + extra + "</body>", 1))
    shot = workdir / f"{name}.png"

    def run(*args: str) -> str:
        profile = workdir / f".profile-{name}-{len(args)}"
        done = subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    dom = run("--dump-dom")
    run(f"--screenshot={shot}", f"--window-size={size}")
    keep = os.environ.get("CODE_VIEW_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
    return Rendered(dom, shot)


@contextmanager
def request_counter() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every path asked of it: (base URL, paths)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"x")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def outside_loads(base: str) -> str:
    """Markup that tries every way a page loads from outside: script, style, image, fetch, frame."""
    return (
        f'<script src="{base}/script.js"></script><link rel="stylesheet" href="{base}/style.css">'
        f'<img src="{base}/image.png"><iframe src="{base}/frame"></iframe>'
        f'<script>fetch("{base}/fetch").catch(function () {{}}); new Image().src = "{base}/pixel";</script>'
    )
