"""MCP Apps views (`ui://` resources) for tools whose result reads better drawn: one HTML document
per view, with the suite's bridge (`assets/bridge.js`: the SEP-1865 handshake, DOM made only through
textContent) and a content security policy that loads nothing from anywhere — no network, no
external script, style, font or image; inline script and style only.

A view degrades to the tool's normal result: hosts without MCP Apps ignore `_meta.ui` and show the
text and structured content as before. Register with `ServerKit.view(...)`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

from mcp.server.apps import APP_MIME_TYPE

__all__ = ["APP_MIME_TYPE", "CSP", "view_document"]

CSP: Final = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "connect-src 'none'; form-action 'none'; base-uri 'none'"
)
_BRIDGE: Final = (Path(__file__).parent / "assets" / "bridge.js").read_text()
_STYLE: Final = """
:root { color-scheme: light dark; font: 13px/1.4 system-ui, sans-serif; }
body { margin: 12px; }
h1 { font-size: 15px; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #8884; vertical-align: top; }
th { cursor: pointer; user-select: none; }
.note { color: #777; } .error { color: #b00020; }
.sev-critical { color: #fff; background: #7b1fa2; } .sev-high { color: #fff; background: #c62828; }
.sev-medium { background: #f9a825; } .sev-low { background: #c5e1a5; } .sev-info { background: #e0e0e0; }
"""


def view_document(title: str, view: Path) -> str:
    """The HTML of one view: `view` is a fragment holding its style and its `render(data, el, root)`
    script; the policy, the shared style, the heading and the bridge are put around it."""
    fragment = view.read_text()
    title = html.escape(title)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{title}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{title}</h1><div id='view'><p class='note'>Waiting for the tool result…</p></div>"
        f"{fragment}<script>{_BRIDGE}</script></body></html>"
    )
