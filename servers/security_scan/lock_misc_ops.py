"""Go (go.mod, go.sum), Rust (Cargo.lock), Ruby (Gemfile.lock) and PHP (composer.lock).

Cargo.lock is TOML (tomllib) and composer.lock JSON. go.mod, go.sum and Gemfile.lock have formats of
their own with no maintained Python parser: they are line formats, read here line by line.
Local replacements, path and git sources are the project's own code, not registry packages.
"""

from __future__ import annotations

import json
import re
import tomllib

from servers.security_scan.deps_ops import Declared, LineFinder
from servers.security_scan.ecosystem_ops import UnknownVersion, parse_version

_GO_REQUIRE = re.compile(r"^\s*(?:require\s+)?([^\s()]+)\s+(v\d[^\s]*)")
_GO_REPLACE = re.compile(r"^\s*(?:replace\s+)?([^\s()]+)(?:\s+v\S+)?\s+=>\s+(\S+)(?:\s+(v\d\S*))?")


def parse_go_mod(text: str, source: str) -> list[Declared]:
    """`require` lines and blocks; a `replace` by another module version takes its place, one by a
    local folder drops the module (it is the project's own code)."""
    required: dict[str, tuple[str, int]] = {}
    replaced: dict[str, tuple[str, str | None]] = {}
    block: str | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0].rstrip()
        stripped = line.strip()
        if block and stripped == ")":
            block = None
            continue
        if stripped.endswith("(") and stripped.split()[0] in ("require", "replace", "exclude", "retract"):
            block = stripped.split()[0]
            continue
        kind = block or (stripped.split()[0] if stripped else "")
        if kind == "require" and (m := _GO_REQUIRE.match(line)):
            required[m.group(1)] = (m.group(2), n)
        elif kind == "replace" and (m := _GO_REPLACE.match(line)):
            replaced[m.group(1)] = (m.group(2), m.group(3))
    out = []
    for module, (version, n) in required.items():
        if module in replaced:
            target, target_version = replaced[module]
            if target_version is None:
                continue  # replaced by a local folder
            module, version = target, target_version
        out.append(Declared(module, version, source, n, "Go"))
    return out


def parse_go_sum(text: str, source: str) -> list[Declared]:
    """Without a go.mod: the newest version of each module whose source (not only go.mod) was hashed,
    which is what minimal version selection builds."""
    best: dict[str, tuple[str, int]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) != 3 or parts[1].endswith("/go.mod"):
            continue
        module, version = parts[0], parts[1]
        try:
            newer = module not in best or parse_version("Go", version) > parse_version("Go", best[module][0])
        except UnknownVersion:
            continue
        if newer:
            best[module] = (version, n)
    return [Declared(m, v, source, n, "Go") for m, (v, n) in best.items()]


def parse_cargo_lock(text: str, source: str) -> list[Declared]:
    """`[[package]]` entries from a registry; workspace members (no `source`) and git crates left out."""
    data = tomllib.loads(text)
    lines = LineFinder(text)
    out = []
    for p in data.get("package", []):
        if not isinstance(p, dict) or not str(p.get("source", "")).startswith(("registry+", "sparse+")):
            continue
        name, version = str(p["name"]), str(p["version"])
        out.append(Declared(name, version, source, lines.line(f'name = "{name}"'), "crates.io"))
    return out


_GEM_SPEC = re.compile(r"^ {4}([A-Za-z0-9_.-]+) \(([^)\s]+)\)\s*$")


def parse_gemfile_lock(text: str, source: str) -> list[Declared]:
    """The `GEM` section's `specs:` (4-space indented `name (version[-platform])`); GIT and PATH
    sections are not rubygems.org gems."""
    out = []
    section = ""
    for n, line in enumerate(text.splitlines(), 1):
        if line and not line[0].isspace():
            section = line.strip()
            continue
        if section != "GEM":
            continue
        m = _GEM_SPEC.match(line)
        if m:
            version = m.group(2)
            # A platform gem: "1.13.3-x86_64-linux"; gem versions themselves never hold a "-".
            out.append(Declared(m.group(1), version.split("-", 1)[0], source, n, "RubyGems"))
    return out


def parse_composer_lock(text: str, source: str) -> list[Declared]:
    data = json.loads(text)
    lines = LineFinder(text)
    out = []
    for section in ("packages", "packages-dev"):
        for p in data.get(section) or []:
            if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                continue
            version = str(p.get("version", ""))
            if not version.lstrip("vV")[:1].isdigit():
                continue  # dev-main and other branches: not a release
            licences = p.get("license")
            licence = (
                " OR ".join(str(x) for x in licences) if isinstance(licences, list) and licences else None
            )
            name = p["name"].lower()
            out.append(
                Declared(name, version, source, lines.line(f'"name": "{p["name"]}"'), "Packagist", licence)
            )
    return out
