"""Which parser reads which dependency file, and the dependencies of a staged tree."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from servers.security_scan import lock_java_ops, lock_js_ops, lock_misc_ops
from servers.security_scan.deps_ops import (
    Declared,
    parse_lock,
    parse_pipfile_lock,
    parse_pyproject,
    parse_requirements,
)
from servers.security_scan.tree_ops import SourceFile

Parser = Callable[[str, str], list[Declared]]


def parser_for(name: str) -> Parser:
    """The parser of a dependency file, by its name (tree_ops.DEPENDENCY_FILES decides which files)."""
    exact: dict[str, Parser] = {
        "pyproject.toml": parse_pyproject,
        "poetry.lock": parse_lock,
        "uv.lock": parse_lock,
        "Pipfile.lock": parse_pipfile_lock,
        "package-lock.json": lock_js_ops.parse_package_lock,
        "npm-shrinkwrap.json": lock_js_ops.parse_package_lock,
        "yarn.lock": lock_js_ops.parse_yarn_lock,
        "pnpm-lock.yaml": lock_js_ops.parse_pnpm_lock,
        "go.mod": lock_misc_ops.parse_go_mod,
        "go.sum": lock_misc_ops.parse_go_sum,
        "Cargo.lock": lock_misc_ops.parse_cargo_lock,
        "Gemfile.lock": lock_misc_ops.parse_gemfile_lock,
        "composer.lock": lock_misc_ops.parse_composer_lock,
        "pom.xml": lock_java_ops.parse_pom,
    }
    if name in exact:
        return exact[name]
    if name.endswith(".lockfile"):
        return lock_java_ops.parse_gradle_lockfile
    return parse_requirements


def read_dependencies(files: Iterable[SourceFile]) -> tuple[list[Declared], list[str], list[str]]:
    """Every declared dependency, the files read, and files that could not be parsed.

    A go.sum is read only where no go.mod stands beside it (go.mod lists the build's versions; go.sum
    also holds versions the build never selected)."""
    chosen = [f for f in files if "dependencies" in f.kinds]
    go_mods = {f.rel.rsplit("/", 1)[0] if "/" in f.rel else "" for f in chosen if f.path.name == "go.mod"}
    deps: list[Declared] = []
    read, broken = [], []
    for f in chosen:
        folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
        if f.path.name == "go.sum" and folder in go_mods:
            continue
        try:
            text = f.path.read_text("utf-8")
            deps += parser_for(f.path.name)(text, f.rel)
            read.append(f.rel)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            broken.append(f.rel)
    return deps, read, broken


def by_package(deps: list[Declared]) -> dict[tuple[str, str, str | None], Declared]:
    """One entry per (ecosystem, name, version); the first declaration wins."""
    out: dict[tuple[str, str, str | None], Declared] = {}
    for d in deps:
        out.setdefault((d.ecosystem, d.name, d.version), d)
    return out
