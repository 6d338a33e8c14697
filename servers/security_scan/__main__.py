"""`python -m servers.security_scan [options]` is `code-mcp serve security-scan [options]` (stdio default)."""

import sys

from servers.cli import main

sys.exit(main(["serve", "security-scan", *sys.argv[1:]]))
