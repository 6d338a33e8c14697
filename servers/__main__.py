"""`python -m servers …` is `code-mcp …`."""

import sys

from servers.cli import main

sys.exit(main())
