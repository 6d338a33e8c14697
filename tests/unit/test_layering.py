"""Imports point one way: servers → shared → rust_core; domain logic never loads the SDK.

Read statically from the sources (module-level imports only; imports inside functions and under
`if TYPE_CHECKING:` are not loaded at import time), so the test is fast and names the offending line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "servers", "rust_core")
SDK = ("mcp", "mcp_types")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, (ast.If, ast.Try)):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)
        else:
            yield node


@cache
def imports_of(module: str) -> tuple[tuple[str, int], ...]:
    """(imported module, line) for every module-level import of a project module."""
    path = project_modules()[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in _top_level(tree.body):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return tuple(found)


def project_imports(module: str) -> set[str]:
    """Project modules `module` imports; its own parent packages aside (`from pkg import sub` inside
    pkg is how a package's modules reach each other, not a cycle)."""
    known = project_modules()
    return {
        name
        for name, _ in imports_of(module)
        if name in known and name != module and not module.startswith(name + ".")
    }


def loads(module: str) -> set[str]:
    """Every project module importing `module` loads, transitively (packages' __init__ included)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        parents = [".".join(current.split(".")[:i]) for i in range(1, current.count(".") + 1)]
        todo += [p for p in parents if p in project_modules()]
        todo += project_imports(current)
    return seen


def third_party(module: str) -> set[str]:
    """The top-level third-party packages `module` loads, transitively through the project."""
    return {
        name.split(".")[0]
        for loaded in loads(module)
        for name, _ in imports_of(loaded)
        if name.split(".")[0] not in PACKAGES
    }


SERVER_MODULES = [m for m in project_modules() if m.startswith("servers.")]
OPS_MODULES = [m for m in SERVER_MODULES if m.rsplit(".", 1)[-1].endswith("_ops")]
SHARED_MODULES = [m for m in project_modules() if m.startswith("shared")]


def test_there_are_modules_to_check() -> None:
    assert len(OPS_MODULES) >= 20 and len(SHARED_MODULES) >= 20


@pytest.mark.parametrize("module", SERVER_MODULES)
def test_a_server_never_imports_rust_core(module: str) -> None:
    bad = [(name, line) for name, line in imports_of(module) if name.split(".")[0] == "rust_core"]
    assert not bad, f"{module} imports rust_core at {bad}; go through shared/ (shared.consensus, ...)"


@pytest.mark.parametrize("module", OPS_MODULES)
def test_domain_logic_never_loads_the_sdk(module: str) -> None:
    assert not third_party(module) & set(SDK), f"{module} loads mcp through {sorted(loads(module))}"


@pytest.mark.parametrize("module", SHARED_MODULES)
def test_shared_never_imports_a_server(module: str) -> None:
    bad = [(name, line) for name, line in imports_of(module) if name.split(".")[0] == "servers"]
    assert not bad, f"{module} imports a server at {bad}"


def test_servers_do_not_import_each_other() -> None:
    crossing = {
        (module, name)
        for module in SERVER_MODULES
        for name in project_imports(module)
        if name.startswith("servers.")
        and module.count(".") >= 2
        and name.count(".") >= 2
        and module.split(".")[1] != name.split(".")[1]
    }
    assert not crossing, crossing


def test_the_shared_import_graph_has_no_cycle() -> None:
    graph = {m: {i for i in project_imports(m) if i.startswith("shared")} for m in SHARED_MODULES}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


@pytest.mark.parametrize("module", ["shared.settings", "shared.config", "shared.errors", "shared.policy"])
def test_loading_configuration_pulls_in_no_client_library(module: str) -> None:
    heavy = {"redis", "prometheus_client", "docker", "kubernetes", "mcp", "httpx", "structlog"}
    assert not third_party(module) & heavy, third_party(module) & heavy
