"""The floor for a Python MCP server: the official SDK's MCPServer with one echo tool, over stdio.

Run by the project's interpreter (`python benchmarks/peers/bare_server.py`); imports nothing but the SDK.
"""

from mcp.server.mcpserver import MCPServer

server = MCPServer("bare")


@server.tool()
async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    server.run()
