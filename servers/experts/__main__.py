"""`python -m servers.experts [options]` is `code-mcp serve experts [options]` (stdio by default)."""

import sys

from servers.cli import main

sys.exit(main(["serve", "experts", *sys.argv[1:]]))
