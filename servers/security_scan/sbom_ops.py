"""A CycloneDX 1.5 JSON SBOM of a project's (or an image's) packages, every ecosystem, with purls.

Written by hand: the document is a dozen fields, and cyclonedx-python-lib would bring its own
dependency tree into the server for no behaviour we need. Package URLs come from packageurl-python.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from servers.security_scan import ecosystem_ops as eco
from servers.security_scan.deps_ops import Declared


def purl(d: Declared) -> str:
    return eco.purl(eco.Coordinates(d.ecosystem, d.name, d.version))


def cyclonedx(
    project: str, deps: list[Declared], *, tool_version: str, kind: str = "application"
) -> dict[str, Any]:
    components = []
    seen: set[str] = set()
    for d in sorted(deps, key=lambda d: (d.ecosystem, d.name, d.version or "")):
        ref = purl(d)
        if ref in seen:
            continue
        seen.add(ref)
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": d.name, "purl": ref}
        if d.version:
            component["version"] = d.version
        if d.license:
            component["licenses"] = [{"expression": d.license}]
        component["properties"] = [
            {"name": "code-mcp:declared-in", "value": d.source},
            {"name": "code-mcp:ecosystem", "value": d.ecosystem},
        ]
        components.append(component)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {
                "components": [
                    {"type": "application", "name": "code-mcp security-scan", "version": tool_version}
                ]
            },
            "component": {"type": kind, "bom-ref": "project", "name": project},
        },
        "components": components,
        "dependencies": [{"ref": "project", "dependsOn": [c["bom-ref"] for c in components]}],
    }
