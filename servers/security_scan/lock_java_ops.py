"""Java: pom.xml (declared and property-resolved versions) and Gradle's dependency lock files.

pom.xml is parsed with defusedxml with DTDs forbidden (no entity expansion, no external entity: a
billion-laughs or XXE pom is refused, never expanded). Versions are resolved from the pom's own
`<properties>`, `${project.version}` and its `<dependencyManagement>`; a parent pom or an imported
BOM is not fetched (nothing leaves the machine), so a version only they define stays unresolved and
the dependency is listed as unpinned. Version ranges (`[1.0,2.0)`) are not pins either.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]

from servers.security_scan.deps_ops import Declared, LineFinder

if TYPE_CHECKING:  # the type only: parsing goes through defusedxml, never the stdlib parser
    from xml.etree.ElementTree import Element

MAVEN = "Maven"
_PROPERTY = re.compile(r"\$\{([^}]+)\}")
_MAX_EXPANSIONS = 8


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: Element, name: str) -> Element | None:
    return next((c for c in node if _local(c.tag) == name), None)


def _text(node: Element, name: str) -> str | None:
    found = _child(node, name)
    return found.text.strip() if found is not None and found.text else None


def _resolve(value: str | None, props: dict[str, str]) -> str | None:
    for _ in range(_MAX_EXPANSIONS):
        if value is None or "${" not in value:
            return value
        value = _PROPERTY.sub(lambda m: props.get(m.group(1), m.group(0)), value)
        if all(m.group(1) not in props for m in _PROPERTY.finditer(value)):
            break
    return None if value is None or "${" in value else value


def _dependencies(node: Element | None) -> list[Element]:
    deps = _child(node, "dependencies") if node is not None else None
    return [d for d in deps if _local(d.tag) == "dependency"] if deps is not None else []


def parse_pom(text: str, source: str) -> list[Declared]:
    root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    props: dict[str, str] = {}
    properties = _child(root, "properties")
    if properties is not None:
        props = {_local(p.tag): (p.text or "").strip() for p in properties}
    parent = _child(root, "parent")
    for key in ("version", "groupId", "artifactId"):
        value = _text(root, key) or (_text(parent, key) if parent is not None else None)
        if value:
            props[f"project.{key}"] = props[f"pom.{key}"] = value
    managed: dict[str, str] = {}
    for d in _dependencies(_child(root, "dependencyManagement")):
        group, artifact = _resolve(_text(d, "groupId"), props), _resolve(_text(d, "artifactId"), props)
        version = _resolve(_text(d, "version"), props)
        if group and artifact and version:
            managed[f"{group}:{artifact}"] = version
    lines = LineFinder(text)
    out = []
    for d in _dependencies(root):
        group, artifact = _resolve(_text(d, "groupId"), props), _resolve(_text(d, "artifactId"), props)
        if not (group and artifact):
            continue
        name = f"{group}:{artifact}"
        version = _resolve(_text(d, "version"), props) or managed.get(name)
        if version and version[:1] in "[(":
            version = None  # a range: not a pin
        out.append(Declared(name, version, source, lines.line(f"<artifactId>{artifact}</artifactId>"), MAVEN))
    return out


def parse_gradle_lockfile(text: str, source: str) -> list[Declared]:
    """`group:artifact:version=configurations` lines (Gradle's dependency locking)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#") or entry.startswith("empty="):
            continue
        coordinates = entry.split("=", 1)[0].split(":")
        if len(coordinates) == 3 and all(coordinates):
            group, artifact, version = coordinates
            out.append(Declared(f"{group}:{artifact}", version, source, n, MAVEN))
    return out
