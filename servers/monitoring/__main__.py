"""`python -m servers.monitoring [options]` is `code-mcp serve monitoring [options]` (stdio by default)."""

import sys

from servers.cli import main

sys.exit(main(["serve", "monitoring", *sys.argv[1:]]))
