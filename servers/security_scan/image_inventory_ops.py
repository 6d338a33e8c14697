"""What is installed in an image: OS packages (dpkg, apk) and language packages (Python dist-info,
node_modules, Go binaries' build info), from the bytes `image_layers_ops` kept.

Debian and Alpine advisories are keyed by *source* package (openssl, not libssl3): a dpkg entry's
`Source:` (and its version, when it names one) and an apk entry's origin (`o:`) are what is looked
up. An rpm database (sqlite or Berkeley DB) is detected but not read: RPM packages are then not
inventoried, which the scan reports as incomplete. Python packages under /usr/lib/python3/dist-packages
belong to dpkg packages (Debian patches them) and are left to the Debian advisories.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.parser import HeaderParser

from servers.security_scan.deps_ops import Declared
from servers.security_scan.image_layers_ops import GO_MAGIC, ImageView
from servers.security_scan.license_ops import from_python_metadata, normalise


@dataclass(slots=True)
class Inventory:
    os_name: str | None = None  # "debian 12"
    os_ecosystem: str | None = None  # OSV: "Debian:12", "Alpine:v3.18"
    packages: list[Declared] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be inventoried (makes a scan partial)


def _os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip("\"'")
    return out


def _ecosystem(release: dict[str, str]) -> str | None:
    distro, version = release.get("ID", ""), release.get("VERSION_ID", "")
    if distro == "debian" and version:
        return f"Debian:{version.split('.')[0]}"
    if distro == "alpine" and version:
        return "Alpine:v" + ".".join(version.split(".")[:2])
    if distro == "ubuntu" and version:
        return f"Ubuntu:{version}"
    return None


def _paragraphs(text: str) -> list[dict[str, str]]:
    """RFC 822 style stanzas (dpkg status); continuation lines are dropped (only single-line fields used)."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current = {}
        elif not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            current[key] = value.strip()
    if current:
        out.append(current)
    return out


def _dpkg(text: str, source: str, ecosystem: str) -> list[Declared]:
    out, seen = [], set()
    for p in _paragraphs(text):
        if p.get("Status", "install ok installed").split()[-1:] != ["installed"]:
            continue
        name, version = p.get("Package"), p.get("Version")
        if not name or not version:
            continue
        m = re.fullmatch(r"(\S+)(?:\s+\((\S+)\))?", p.get("Source", name))
        src, src_version = (m.group(1), m.group(2) or version) if m else (name, version)
        if (src, src_version) not in seen:
            seen.add((src, src_version))
            out.append(Declared(src, src_version, f"{source} ({name})", 0, ecosystem))
    return out


def _apk(text: str, source: str, ecosystem: str) -> list[Declared]:
    out, seen = [], set()
    for block in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if len(line) > 2 and line[1] == ":")
        name, version = fields.get("P"), fields.get("V")
        if not name or not version:
            continue
        origin = fields.get("o", name)
        if (origin, version) not in seen:
            seen.add((origin, version))
            out.append(
                Declared(origin, version, f"{source} ({name})", 0, ecosystem, normalise(fields.get("L")))
            )
    return out


def _dist_info(data: bytes, path: str) -> Declared | None:
    meta = HeaderParser().parsestr(data.decode("utf-8", "replace"))
    name, version = meta.get("Name"), meta.get("Version")
    if not name or not version:
        return None
    licence = from_python_metadata(meta.get("License-Expression"), meta.get("License"),
                                   meta.get_all("Classifier") or [])  # fmt: skip
    return Declared(str(name), str(version), path, 0, "PyPI", licence)


def _package_json(data: bytes, path: str) -> Declared | None:
    try:
        info = json.loads(data)
    except ValueError:
        return None
    if (
        not isinstance(info, dict)
        or not isinstance(info.get("name"), str)
        or not isinstance(info.get("version"), str)
    ):
        return None
    licence = info.get("license") if isinstance(info.get("license"), str) else None
    return Declared(info["name"], info["version"], path, 0, "npm", normalise(licence))


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")


def go_modules(blob: bytes, path: str) -> tuple[list[Declared], str | None]:
    """The modules a Go binary (Go 1.18+ build info) was built from, and a note when unreadable.

    Layout (cmd/go/internal/version, debug/buildinfo): the 14-byte magic, pointer size, flags; with
    flag 2 the Go version and the module info follow the 32-byte header as varint-prefixed strings.
    """
    if not blob.startswith(GO_MAGIC) or len(blob) < 33:
        return [], f"{path}: no Go build info"
    if not blob[15] & 2:
        return [], f"{path}: Go build info of a Go release before 1.18 (pointer form) is not read"
    try:
        size, at = _varint(blob, 32)
        go_version = blob[at : at + size].decode("utf-8", "replace")
        size, at = _varint(blob, at + size)
        modinfo = blob[at : at + size].decode("utf-8", "replace")
    except ValueError:
        return [], f"{path}: truncated Go build info"
    out: list[Declared] = []
    if go_version.startswith("go"):
        out.append(Declared("stdlib", go_version[2:], path, 0, "Go"))
    for line in modinfo.splitlines():
        parts = line.split("\t")
        if parts[0] == "dep" and len(parts) >= 3:
            out.append(Declared(parts[1], parts[2], path, 0, "Go"))
        elif parts[0] == "=>" and len(parts) >= 3 and out and parts[2].startswith("v"):
            last = out.pop()  # the dependency above was replaced by another module version
            out.append(Declared(parts[1], parts[2], last.source, 0, "Go"))
        elif parts[0] == "=>" and out:
            out.pop()  # replaced by a local folder: the project's own code
    return out, None


def inventory(view: ImageView) -> Inventory:
    inv = Inventory()
    release_text = view.contents.get("etc/os-release") or view.contents.get("usr/lib/os-release") or b""
    release = _os_release(release_text.decode("utf-8", "replace"))
    inv.os_ecosystem = _ecosystem(release)
    inv.os_name = " ".join(x for x in (release.get("ID"), release.get("VERSION_ID")) if x) or None
    for path, data in sorted(view.contents.items()):
        text = data.decode("utf-8", "replace")
        if path == "var/lib/dpkg/status" or path.startswith("var/lib/dpkg/status.d/"):
            inv.packages += _dpkg(text, path, inv.os_ecosystem or "Debian")
        elif path == "lib/apk/db/installed":
            inv.packages += _apk(text, path, inv.os_ecosystem or "Alpine")
        elif path.startswith("var/lib/rpm/"):
            inv.notes.append(f"{path}: an rpm database; RPM packages are not inventoried (format not read)")
        elif path.endswith("/METADATA") and not path.startswith("usr/lib/python3/dist-packages/"):
            found = _dist_info(data, path)
            if found:
                inv.packages.append(found)
        elif path.endswith("/package.json"):
            found = _package_json(data, path)
            if found:
                inv.packages.append(found)
    for path, blob in sorted(view.go_binaries.items()):
        modules, note = go_modules(blob, path)
        inv.packages += modules
        if note:
            inv.notes.append(note)
    inv.notes += [f"{p}: larger than image_max_file_bytes, not read" for p in view.oversized]
    if any(p.ecosystem.startswith(("Debian", "Alpine")) for p in inv.packages) and inv.os_ecosystem is None:
        inv.notes.append("no readable os-release: OS packages cannot be matched to a distribution release")
    return inv
