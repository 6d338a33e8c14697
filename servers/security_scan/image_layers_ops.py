"""Read a saved image (`docker save` tar: manifest.json, config, layer tars) without extracting it.

Nothing from the image is written to disk or resolved on the host filesystem: every layer is streamed
with `tarfile` and its entries kept as records of an in-memory view, so a symlink, a hard link or a
`../` name can point at nothing of the host. Entry names are normalised; an absolute name or one
with a `..` part is refused (counted, reported, never applied). Whiteouts (`.wh.<name>`) delete
from the layers below, `.wh..wh..opq` empties a folder of them. Bounded: the number of entries, the
bytes of any file read (package databases, metadata, executables, text checked for secrets), the
bytes read in all. Secrets are looked for in every layer, so a key added in one layer and deleted
in the next (still shipped in the image) is found.
"""

from __future__ import annotations

import json
import posixpath
import re
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from shared.secret_patterns import FORMATS

GO_MAGIC = b"\xff Go buildinf:"
SECRET_MAX_BYTES = 512 * 1024
# Where an image's package databases and metadata are: the view keeps these files' bytes.
_WANTED = re.compile(
    r"^(etc/os-release|usr/lib/os-release|etc/passwd|var/lib/dpkg/status|var/lib/dpkg/status\.d/[^/]+"
    r"|lib/apk/db/installed|var/lib/rpm/(rpmdb\.sqlite|Packages|Packages\.db)"
    r"|(.+/)?site-packages/[^/]+\.dist-info/METADATA|usr/local/lib/python[^/]*/dist-packages/[^/]+\.dist-info/METADATA"
    r"|(.+/)?node_modules/(@[^/]+/)?[^/]+/package\.json)$"
)
# Files looked at for secrets: configuration and application folders, and secret-looking names.
_SECRET_PLACES = re.compile(r"^(etc|root|home|app|opt|srv|usr/src|usr/local|var/www|workspace|tmp|run)/")
_SECRET_NAMES = re.compile(
    r"(^|/)(\.env[^/]*|[^/]*\.(pem|key|p12|ini|conf|cfg|json|ya?ml|toml|properties)|id_[a-z0-9]+"
    r"|\.npmrc|\.pypirc|\.netrc|\.git-credentials|credentials[^/]*)$"
)
_NOT_SECRET_PLACES = re.compile(r"^(usr/local/lib/python[^/]*/|etc/ssl/certs/|usr/share/)")


class ImageError(ValueError):
    """The saved image is not readable or breaks a bound; the message says which."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    layer: int
    mode: int  # permission and setuid/setgid/sticky bits
    kind: str  # file, dir, symlink, hardlink, other
    size: int
    uid: int


@dataclass(frozen=True, slots=True)
class LayerSecret:
    path: str
    layer: int
    line: int
    kind: str  # the secret format's name (shared.secret_patterns)


@dataclass(slots=True)
class ImageView:
    """The merged filesystem of an image, as records, plus what was found layer by layer."""

    config: dict[str, Any]
    layers: int = 0
    entries: dict[str, Entry] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)  # wanted files of the merged view
    go_binaries: dict[str, bytes] = field(default_factory=dict)  # path -> build info blob
    secrets: list[LayerSecret] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # entries refused (traversal, absolute)
    oversized: list[str] = field(default_factory=list)  # wanted files too large to read
    total_entries: int = 0


def secret_kinds(text: str) -> list[tuple[int, str]]:
    """(line, format name) of every secret by shape (not by keyword: a config file's `password:` key
    with a placeholder is not a secret; an AWS key, a private key or a token is)."""
    lowered = text.lower()
    found: dict[str, int] = {}
    for fmt in FORMATS:
        for m in fmt.pattern.finditer(lowered if fmt.caseless else text):
            if fmt.check is None or fmt.check(m):
                found.setdefault(fmt.name, text.count("\n", 0, m.start()) + 1)
                break
    return sorted((line, name) for name, line in found.items())


def _normalise(name: str) -> str | None:
    """The entry's path relative to the image root, or None when it would leave the root."""
    if name.startswith("/") or "\0" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _remove_tree(view: ImageView, path: str, below_layer: int) -> None:
    """Remove `path` and, when it is a folder, everything under it, from the layers below."""
    entry = view.entries.get(path)
    if entry is None or entry.layer >= below_layer:
        return
    keys = [path]
    if entry.kind == "dir":  # walking every entry is costly: only a folder's removal needs it
        prefix = path + "/"
        keys += [k for k, e in view.entries.items() if k.startswith(prefix) and e.layer < below_layer]
    for key in keys:
        del view.entries[key]
        view.contents.pop(key, None)
        view.go_binaries.pop(key, None)


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    return "hardlink" if member.islnk() else "other"


class _Reader:
    def __init__(self, view: ImageView, *, max_entries: int, max_file_bytes: int) -> None:
        self.view = view
        self.max_entries = max_entries
        self.max_file_bytes = max_file_bytes

    def layer(self, index: int, fileobj: IO[bytes]) -> None:
        view = self.view
        try:
            with tarfile.open(fileobj=fileobj, mode="r|*") as layer:
                for member in layer:
                    view.total_entries += 1
                    if view.total_entries > self.max_entries:
                        raise ImageError(
                            f"the image holds more than {self.max_entries} entries ([security_scan] "
                            "image_max_entries)"
                        )
                    path = _normalise(member.name)
                    if path is None:
                        view.refused.append(f"layer {index}: {member.name[:200]}")
                        continue
                    if not path:
                        continue
                    self._entry(index, path, member, layer)
        except tarfile.TarError as exc:
            raise ImageError(f"layer {index} is not a readable tar: {exc}") from exc

    def _entry(self, index: int, path: str, member: tarfile.TarInfo, layer: tarfile.TarFile) -> None:
        view = self.view
        folder, base = posixpath.split(path)
        if base == ".wh..wh..opq":
            prefix = folder + "/"
            for key in [k for k, e in view.entries.items() if k.startswith(prefix) and e.layer < index]:
                view.entries.pop(key, None)
                view.contents.pop(key, None)
                view.go_binaries.pop(key, None)
            return
        if base.startswith(".wh."):
            _remove_tree(view, posixpath.join(folder, base[4:]), index)
            return
        entry = Entry(path, index, member.mode, _kind(member), member.size, member.uid)
        old = view.entries.get(path)
        if old is not None and old.kind == "dir" and entry.kind != "dir":
            _remove_tree(view, path, index + 1)  # a file replacing a folder
        view.contents.pop(path, None)
        view.go_binaries.pop(path, None)
        view.entries[path] = entry
        if entry.kind != "file":
            return
        wanted = bool(_WANTED.match(path))
        executable = bool(member.mode & 0o111)
        secret = member.size <= SECRET_MAX_BYTES and bool(
            (_SECRET_PLACES.match(path) or _SECRET_NAMES.search(path)) and not _NOT_SECRET_PLACES.match(path)
        )
        if not (wanted or executable or secret):
            return
        if member.size > self.max_file_bytes:
            if wanted:
                view.oversized.append(path)
            return
        handle = layer.extractfile(member)
        data = handle.read(self.max_file_bytes + 1) if handle is not None else b""
        if wanted:
            view.contents[path] = data
        if executable and data[:4] == b"\x7fELF" and (at := data.find(GO_MAGIC)) >= 0:
            view.go_binaries[path] = data[at : at + 64 * 1024 + 32]
            # The 1.18+ inline format keeps version and module strings right after the 32-byte header.
        if secret and b"\0" not in data[:8192]:
            for line, kind in secret_kinds(data.decode("utf-8", "replace")):
                view.secrets.append(LayerSecret(path, index, line, kind))


def read_saved_image(
    path: Path, *, max_entries: int, max_file_bytes: int, progress: Callable[[int, int], None] | None = None
) -> ImageView:
    """The merged view of the image saved at `path` (the first image of its manifest).

    Raises:
        ImageError: not a saved image, a layer missing, or a bound passed.
    """
    try:
        outer = tarfile.open(path, mode="r:")  # noqa: SIM115 - closed by the `with` below
    except (tarfile.TarError, OSError) as exc:
        raise ImageError(f"not a saved image: {exc}") from exc
    with outer:
        manifest = _json_member(outer, "manifest.json")
        if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
            raise ImageError("manifest.json does not describe an image")
        config = _json_member(outer, str(manifest[0].get("Config", "")))
        layers = manifest[0].get("Layers") or []
        view = ImageView(config=config if isinstance(config, dict) else {}, layers=len(layers))
        reader = _Reader(view, max_entries=max_entries, max_file_bytes=max_file_bytes)
        for index, name in enumerate(layers):
            member = _member(outer, str(name))
            fileobj = outer.extractfile(member)
            if fileobj is None:
                raise ImageError(f"layer {name} is not a file in the saved image")
            reader.layer(index, fileobj)
            if progress is not None:
                progress(index + 1, len(layers))
    return view


def _member(outer: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    if _normalise(name) is None:
        raise ImageError(f"the manifest names {name!r}, outside the saved image")
    try:
        return outer.getmember(name)
    except KeyError as exc:
        raise ImageError(f"the saved image has no {name!r}") from exc


def _json_member(outer: tarfile.TarFile, name: str) -> Any:
    member = _member(outer, name)
    if member.size > 16 * 1024 * 1024:
        raise ImageError(f"{name} is larger than 16 MiB")
    handle = outer.extractfile(member)
    if handle is None:
        raise ImageError(f"{name} is not a file")
    try:
        return json.loads(handle.read())
    except ValueError as exc:
        raise ImageError(f"{name} is not JSON") from exc


def special_bits(entry: Entry) -> list[str]:
    """setuid, setgid, world-writable (folders with the sticky bit, like /tmp, are not)."""
    found = []
    if entry.kind == "file" and entry.mode & stat.S_ISUID:
        found.append("setuid")
    if entry.kind == "file" and entry.mode & stat.S_ISGID:
        found.append("setgid")
    if (
        entry.kind in ("file", "dir")
        and entry.mode & 0o002
        and not (entry.kind == "dir" and entry.mode & stat.S_ISVTX)
    ):
        found.append("world-writable")
    return found
