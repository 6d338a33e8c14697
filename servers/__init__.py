"""CODE's four MCP servers and the `code-mcp` command line."""
