"""JavaScript lock files: package-lock.json (v1, v2, v3), yarn.lock (classic and berry), pnpm-lock.yaml.

package-lock.json is JSON; yarn berry and pnpm locks are YAML, read with the suite's bounded loader
(aliases counted at their expanded size); yarn classic's own format is read line by line (no
maintained Python parser exists; the format is a flat list of entries with indented fields).
Workspace, link, file and portal entries are the project itself, not registry packages: left out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from servers.security_scan.deps_ops import Declared, LineFinder
from shared.safe_yaml import load_documents

NPM = "npm"
YAML_LIMITS: dict[str, int] = {
    "max_bytes": 16_000_000,
    "max_nodes": 2_000_000,
    "max_depth": 32,
    "max_documents": 1,
}
_LOCAL = ("@workspace:", "@link:", "@portal:", "@file:", "@exec:", "@git", "@https:", "@http:")


def _split_spec(spec: str) -> tuple[str, str]:
    """`@scope/name@range` -> (`@scope/name`, `range`)."""
    at = spec.find("@", 1)
    return (spec, "") if at < 0 else (spec[:at], spec[at + 1 :])


def parse_package_lock(text: str, source: str) -> list[Declared]:
    data = json.loads(text)
    lines = LineFinder(text)
    out: list[Declared] = []
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        for key, info in packages.items():
            if "node_modules/" not in key or not isinstance(info, dict) or info.get("link"):
                continue
            version = info.get("version")
            if not isinstance(version, str) or not version[:1].isdigit():
                continue  # a git, file or tarball dependency
            name = str(info.get("name") or key.rsplit("node_modules/", 1)[1])
            licence = info.get("license") if isinstance(info.get("license"), str) else None
            out.append(Declared(name, version, source, lines.line(f'"{key}"'), NPM, licence))
        return out
    stack = [data.get("dependencies") or {}]  # lockfileVersion 1: nested "dependencies"
    while stack:
        level = stack.pop()
        if not isinstance(level, dict):
            continue
        for name, info in level.items():
            if not isinstance(info, dict):
                continue
            version = info.get("version")
            if isinstance(version, str) and version[:1].isdigit():
                out.append(Declared(name, version, source, lines.line(f'"{name}"'), NPM))
            stack.append(info.get("dependencies") or {})
    return out


_YARN_HEADER = re.compile(r"^(?!\s|#)(.+):\s*$")
_YARN_VERSION = re.compile(r'^\s+version:?\s+"?([^"\s]+)"?\s*$')


def parse_yarn_lock(text: str, source: str) -> list[Declared]:
    """yarn.lock: berry (YAML, with `__metadata`) or classic (v1)."""
    if re.search(r"(?m)^__metadata:", text):
        return _parse_yarn_berry(text, source)
    out: list[Declared] = []
    name: str | None = None
    start = 0
    for n, line in enumerate(text.splitlines(), 1):
        header = _YARN_HEADER.match(line)
        if header:
            first = header.group(1).split(",")[0].strip().strip('"')
            spec_name, spec_range = _split_spec(first)
            name = None if spec_range.startswith(("file:", "link:", "workspace:")) else spec_name
            start = n
            continue
        version = _YARN_VERSION.match(line)
        if version and name:
            out.append(Declared(name, version.group(1), source, start, NPM))
            name = None
    return out


def _parse_yarn_berry(text: str, source: str) -> list[Declared]:
    (data,) = load_documents(text, **YAML_LIMITS)
    if not isinstance(data, dict):
        raise ValueError("yarn.lock is not a mapping")
    lines = LineFinder(text)
    out = []
    for key, info in data.items():
        if key == "__metadata" or not isinstance(info, dict):
            continue
        resolution = str(info.get("resolution", ""))
        version = info.get("version")
        if any(marker in resolution for marker in _LOCAL) or not isinstance(version, str):
            continue
        name = resolution.split("@patch:", 1)[0] if "@patch:" in resolution else _split_spec(resolution)[0]
        if name and version[:1].isdigit():
            out.append(Declared(name, version, source, lines.line(str(key).split(",")[0]), NPM))
    return out


def _pnpm_key(key: str) -> tuple[str, str] | None:
    """A pnpm `packages:` key -> (name, version): `/a/1.0.0_peer` (v5), `/a@1.0.0(peer)` (v6),
    `a@1.0.0(peer)` (v9)."""
    if key.startswith("/"):  # v5: /name/version or /@scope/name/version, peers after "_"
        parts = key[1:].split("/")
        name_parts = 2 if parts[0].startswith("@") else 1
        if len(parts) == name_parts + 1 and parts[-1][:1].isdigit():
            return "/".join(parts[:name_parts]), parts[-1].split("_", 1)[0]
    key = key.lstrip("/").split("(", 1)[0]
    at = key.find("@", 1)
    if at <= 0:
        return None
    name, version = key[:at], key[at + 1 :]
    return (name, version) if version[:1].isdigit() else None


def parse_pnpm_lock(text: str, source: str) -> list[Declared]:
    (data,) = load_documents(text, **YAML_LIMITS)
    if not isinstance(data, dict):
        raise ValueError("pnpm-lock.yaml is not a mapping")
    packages: Any = data.get("packages") or {}
    if not isinstance(packages, dict):
        raise ValueError("pnpm-lock.yaml: packages is not a mapping")
    lines = LineFinder(text)
    out, seen = [], set()
    for key, info in packages.items():
        parsed = _pnpm_key(str(key))
        if (
            isinstance(info, dict)
            and isinstance(info.get("name"), str)
            and isinstance(info.get("version"), str)
        ):
            parsed = (info["name"], info["version"])  # a tarball or aliased entry names itself
        if parsed is None or parsed in seen:
            continue
        seen.add(parsed)
        out.append(Declared(parsed[0], parsed[1], source, lines.line(str(key)), NPM))
    return out
