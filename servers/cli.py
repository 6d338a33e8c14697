"""`code-mcp`: serve, inspect and call the CODE servers; verify audit logs; check configuration.

    code-mcp serve <server> [--transport stdio|sse|http] [--host H] [--port P] [--config FILE]
                            [--root DIR ...]
    code-mcp serve suite [--host H] [--port P] [--config FILE] [--root DIR ...]
    code-mcp tools <server> [--config FILE]
    code-mcp call <server> <tool> key=value ... [--config FILE] [--root DIR ...]
    code-mcp audit verify FILE
    code-mcp config check FILE

It knows the servers by name; a server whose module does not exist yet is simply absent. Heavy
modules are imported only by the command that needs them, so a stdio server starts fast.
Command output goes to stdout; logs and diagnostics to stderr (for `serve --transport stdio`,
stdout carries JSON-RPC only).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from pydantic import BaseModel

    from shared.runtime import Runtime
    from shared.settings import SuiteConfig

__all__ = ["SERVERS", "ServerEntry", "available_servers", "build", "main", "resolve"]


@dataclass(frozen=True, slots=True)
class ServerEntry:
    """Where a server lives: its `build_server` module, settings model and config section."""

    name: str
    module: str
    settings: str  # the settings model's class name in servers.<section>.settings
    section: str

    @property
    def installed(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False

    def factory(self) -> Callable[..., MCPServer[Any]]:
        factory: Callable[..., MCPServer[Any]] = importlib.import_module(self.module).build_server
        return factory

    def settings_model(self) -> type[BaseModel]:
        module = importlib.import_module(f"servers.{self.section}.settings")
        model: type[BaseModel] = getattr(module, self.settings)
        return model


SERVERS: dict[str, ServerEntry] = {
    entry.name: entry
    for entry in (
        ServerEntry("deployment", "servers.deployment.server", "DeploymentSettings", "deployment"),
        ServerEntry("experts", "servers.experts.server", "ExpertsSettings", "experts"),
        ServerEntry("security-scan", "servers.security_scan.server", "SecurityScanSettings", "security_scan"),
        ServerEntry("monitoring", "servers.monitoring.server", "MonitoringSettings", "monitoring"),
    )
}


class CliError(Exception):
    """A usage problem reported on stderr with exit status 2."""


def available_servers() -> list[str]:
    """The registered servers whose module exists in this installation."""
    return [name for name, entry in SERVERS.items() if entry.installed]


def resolve(spec: str) -> tuple[str, Callable[..., MCPServer[Any]]]:
    """A server name (or a `package.module:factory` path, for servers outside the suite) → factory."""
    entry = SERVERS.get(spec)
    if entry is not None:
        if not entry.installed:
            raise CliError(
                f"server {spec!r} is not built yet; available: {', '.join(available_servers()) or 'none'}"
            )
        return spec, entry.factory()
    module, sep, attr = spec.partition(":")
    if not sep:
        raise CliError(f"unknown server {spec!r}; available: {', '.join(available_servers()) or 'none'}")
    try:
        factory: Callable[..., MCPServer[Any]] = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise CliError(f"cannot load server factory {spec!r}: {exc}") from exc
    return module.rsplit(".", 1)[-1], factory


def build(spec: str, config: SuiteConfig, runtime: Runtime) -> tuple[str, MCPServer[Any]]:
    """Build the named server on `runtime`."""
    name, factory = resolve(spec)
    return name, factory(config, runtime=runtime)


# --------------------------------------------------------------------------- commands


def _load(path: str | None, roots: Sequence[str] = ()) -> SuiteConfig:
    from shared.config import load_config, with_roots
    from shared.logging import configure_logging

    config = with_roots(load_config(path), roots)
    configure_logging(config.logging.level)
    return config


@contextmanager
def _starting() -> Iterator[None]:
    """Import and build without the cyclic garbage collector, then freeze what was built.

    Starting a server makes a few hundred thousand objects that live as long as the process
    (modules, pydantic models and their validators, schemas); the collector would walk them again
    and again while they are made (about 40 % of the import time here). Nothing built at start is
    garbage, so it is frozen out of every later collection too.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def cmd_serve(args: argparse.Namespace) -> int:
    with _starting():
        from shared import runner
        from shared.runtime import Runtime
        from shared.telemetry import start_tracing

        config = _load(args.config, args.root)
        start_tracing(config.telemetry, service=args.server)
        runtime = Runtime.from_config(config)
        if args.server == "suite":
            if args.transport == "stdio":
                raise CliError("the suite is served over HTTP; pick one server for stdio")
            names = available_servers()
            if not names:
                raise CliError("no server is installed yet")
            mounts = [runner.Mounted(f"/{name}", build(name, config, runtime)[1]) for name in names]
        else:
            _, server = build(args.server, config, runtime)
            mounts = [runner.Mounted("", server)]
    if args.transport == "stdio":
        runner.run_stdio(mounts[0].server, runtime)
        return 0
    return _serve_http(args, mounts, runtime)


def _serve_http(args: argparse.Namespace, mounts: list[Any], runtime: Runtime) -> int:
    from shared import runner
    from shared.auth import hash_api_key, is_loopback, new_api_key
    from shared.auth_settings import ApiKeySettings

    token: str | None = None
    if (
        not runtime.verifier.configured
        and not runtime.allow_unauthenticated_loopback
        and is_loopback(args.host)
    ):
        # No auth configured: this run gets its own random key, shown once in the snippet below.
        token = new_api_key()
        grant = ApiKeySettings(id="this-run", sha256=hash_api_key(token), role=runtime.config.role)
        runtime.verifier.add_api_key(grant)
    app = runner.build_http_app(
        mounts, runtime, transport=args.transport, host=args.host, port=args.port, stateless=args.stateless
    )
    base = f"http://{args.host}:{args.port}"
    paths = {
        (m.prefix.strip("/") or m.server.name): runner.mcp_path(m.prefix, args.transport) for m in mounts
    }
    names = ", ".join(m.server.name for m in mounts)
    _say(f"CODE: {names} on {base} ({args.transport}); paste into your MCP client config:")
    _say(runner.config_snippet(base, paths, token, transport=args.transport))
    runner.run_http(app, runtime, host=args.host, port=args.port)
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    import anyio

    from shared.runtime import Runtime

    config = _load(args.config)
    _, server = build(args.server, config, Runtime.from_config(config))

    async def list_tools() -> list[dict[str, Any]]:
        from mcp import Client

        async with Client(server) as client:
            result = await client.list_tools()
        return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in result.tools]

    _out(json.dumps(anyio.run(list_tools), indent=2))
    return 0


def parse_assignments(pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` pairs → arguments; a value is JSON when it parses as JSON, else a string."""
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"argument {pair!r} must look like key=value")
        try:
            arguments[key] = json.loads(raw)
        except json.JSONDecodeError:
            arguments[key] = raw
    return arguments


def cmd_call(args: argparse.Namespace) -> int:
    import anyio

    from shared.runtime import Runtime

    arguments = parse_assignments(args.arguments)
    config = _load(args.config, args.root)
    runtime = Runtime.from_config(config)
    _, server = build(args.server, config, runtime)

    async def call() -> tuple[bool, Any]:
        from mcp import Client

        try:
            async with Client(server) as client:
                result = await client.call_tool(args.tool, arguments)
        finally:
            await runtime.aclose()
        if result.structured_content is not None and not result.is_error:
            return False, result.structured_content
        texts = [getattr(block, "text", None) for block in result.content]
        return result.is_error, "\n".join(t for t in texts if t)

    is_error, payload = anyio.run(call)
    text = payload if isinstance(payload, str) else json.dumps(payload, indent=2)
    if is_error:
        _say(f"tool error: {text}")
        return 1
    _out(text)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from shared.audit_verify import verify

    key: bytes | None = None
    if args.config:
        from shared.config import load_config

        key = load_config(args.config).audit.hmac_key()
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"audit log {args.file!r} does not exist")
    result = verify(path, key=key, expect_head=args.expect_head)
    if result.ok:
        _out(f"ok: {result.lines} lines, chain intact, head {result.head}")
        return 0
    _say(f"{args.file}: line {result.line}: {result.message} ({result.problem})")
    return 1


def cmd_config_check(args: argparse.Namespace) -> int:
    from shared.config import check_config

    sections = {SERVERS[n].section: SERVERS[n].settings_model() for n in available_servers()}
    check_config(args.file, sections)
    _out(f"ok: {args.file} is valid ({', '.join(sections) or 'no server sections checked'})")
    return 0


# --------------------------------------------------------------------------- plumbing


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _root_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the scanners, docker_build, Compose, Helm charts and expert attachments may "
        "read (added to [policy] scan_roots; repeatable), e.g. ${workspaceFolder} in an IDE",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="code-mcp", description="CODE: MCP servers to deploy, watch, scan and reason."
    )
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve one server (stdio by default) or the whole suite (HTTP)")
    serve.add_argument("server", help="a server name, or 'suite' for all of them in one HTTP app")
    serve.add_argument("--transport", choices=["stdio", "sse", "http"], default=None)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--stateless", action="store_true", help="stateless streamable HTTP (behind a balancer)"
    )
    serve.add_argument(
        "--config", help="TOML configuration (default: $CODE_MCP_CONFIG, else built-in defaults)"
    )
    _root_option(serve)
    serve.set_defaults(func=cmd_serve)

    tools = sub.add_parser("tools", help="list a server's tools with annotations and schemas")
    tools.add_argument("server")
    tools.add_argument("--config")
    tools.set_defaults(func=cmd_tools)

    call = sub.add_parser("call", help="call one tool through an in-memory MCP client")
    call.add_argument("server")
    call.add_argument("tool")
    call.add_argument(
        "arguments", nargs="*", metavar="key=value", help="values are parsed as JSON when they parse"
    )
    call.add_argument("--config")
    _root_option(call)
    call.set_defaults(func=cmd_call)

    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain; exit 1 naming the first bad line")
    verify.add_argument("file")
    verify.add_argument("--config", help="the configuration whose [audit] key signed the log (HMAC chains)")
    verify.add_argument("--expect-head", help="seq:hash recorded earlier, to detect lines cut off at the end")
    verify.set_defaults(func=cmd_audit_verify)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser(
        "check", help="validate a configuration file, every server section included"
    )
    check.add_argument("file")
    check.set_defaults(func=cmd_config_check)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The `code-mcp` entry point; returns the exit status."""
    args = parser().parse_args(argv)
    if getattr(args, "transport", "x") is None:
        args.transport = "http" if args.server == "suite" else "stdio"
    from shared.errors import ConfigError

    try:
        status: int = args.func(args)
    except (CliError, ConfigError) as exc:
        _say(f"code-mcp: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
