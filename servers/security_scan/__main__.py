"""`python -m servers.security_scan [--config FILE]`: serve the security-scan server over stdio.

The same as `code-mcp serve security-scan` with the stdio transport; logs go to stderr only.
"""

from __future__ import annotations

import argparse
import logging
import sys

from servers.security_scan.server import build_server
from shared.config import load_config
from shared.runner import run_stdio
from shared.runtime import Runtime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m servers.security_scan", description=__doc__)
    parser.add_argument("--config", help="the suite's TOML configuration (default: $CODE_MCP_CONFIG)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    runtime = Runtime.from_config(load_config(args.config))
    run_stdio(build_server(runtime.config, runtime=runtime), runtime)


if __name__ == "__main__":
    main()
