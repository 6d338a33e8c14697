"""`python -m servers.deployment [options]` is `code-mcp serve deployment [options]` (stdio by default)."""

import sys

from servers.cli import main

sys.exit(main(["serve", "deployment", *sys.argv[1:]]))
