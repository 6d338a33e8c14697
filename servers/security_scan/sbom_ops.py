"""A CycloneDX 1.5 JSON SBOM of a project's declared dependencies.

Written by hand: the document is a dozen fields, and cyclonedx-python-lib would bring its own
dependency tree into the server for no behaviour we need.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from servers.security_scan.deps_ops import Declared


def purl(name: str, version: str | None) -> str:
    return f"pkg:pypi/{name}@{version}" if version else f"pkg:pypi/{name}"


def cyclonedx(project: str, deps: list[Declared], *, tool_version: str) -> dict[str, Any]:
    components = []
    seen: set[str] = set()
    for d in sorted(deps, key=lambda d: (d.name, d.version or "")):
        ref = purl(d.name, d.version)
        if ref in seen:
            continue
        seen.add(ref)
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": d.name, "purl": ref}
        if d.version:
            component["version"] = d.version
        component["properties"] = [{"name": "code-mcp:declared-in", "value": d.source}]
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
            "component": {"type": "application", "bom-ref": "project", "name": project},
        },
        "components": components,
        "dependencies": [{"ref": "project", "dependsOn": [c["bom-ref"] for c in components]}],
    }
