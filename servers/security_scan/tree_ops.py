"""Walk a scan target: regular files only, no escaping symlinks, binary and huge files skipped."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from servers.security_scan.scan_errors import PathRefused

_BINARY_PROBE = 8192
_SHEBANG = re.compile(rb"^#!\s*(?:/usr)?/bin/(?:env\s+)?(?:ba|da|k|z)?sh\b")
_K8S_MARKERS = (re.compile(rb"^apiVersion:", re.M), re.compile(rb"^kind:", re.M))
# Source languages the shipped semgrep rules cover (rules/*.yml); each such file is also of kind "source".
SOURCE_LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "javascript",
    ".tsx": "javascript",
    ".mts": "javascript",
    ".cts": "javascript",
    ".go": "go",
}
DEPENDENCY_FILES = re.compile(
    r"^(requirements[\w.-]*\.(txt|in)|constraints[\w.-]*\.txt|pyproject\.toml|poetry\.lock|uv\.lock|Pipfile\.lock)$"
)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One regular, readable, text file of the scanned tree."""

    path: Path
    rel: str
    sha256: str
    kinds: frozenset[str]


@dataclass(slots=True)
class Tree:
    """What a scan looks at, and what it left out and why."""

    root: Path
    files: list[SourceFile] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def of_kind(self, kind: str) -> list[SourceFile]:
        return [f for f in self.files if kind in f.kinds]

    def digest(self) -> str:
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.rel):
            h.update(f"{f.rel}\0{f.sha256}\n".encode())
        return h.hexdigest()


def classify(name: str, head: bytes) -> frozenset[str]:
    """The scanner families a file belongs to, from its name and first bytes."""
    kinds = {"text"}
    lower = name.lower()
    language = SOURCE_LANGUAGES.get(PurePath(lower).suffix)
    if language is not None:
        kinds |= {language, "source"}
    if (
        lower in ("dockerfile", "containerfile")
        or lower.startswith("dockerfile.")
        or lower.endswith(".dockerfile")
    ):
        kinds.add("dockerfile")
    if lower.endswith((".yaml", ".yml")) and all(m.search(head) for m in _K8S_MARKERS):
        kinds.add("kubernetes")
    if lower.endswith((".sh", ".bash")) or ("." not in name and _SHEBANG.match(head)):
        kinds.add("shell")
    if kinds & {"dockerfile", "kubernetes"}:
        kinds.add("iac")
    if DEPENDENCY_FILES.match(name):
        kinds.add("dependencies")
    return frozenset(kinds)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def collect(target: Path, *, max_file_bytes: int, max_files: int, exclude_dirs: Iterable[str]) -> Tree:
    """Collect the files under `target` (a file or a directory already allowed by the policy).

    Raises:
        PathRefused: the target is missing, a device, a FIFO, a socket, or holds too many files.
    """
    try:
        st = target.lstat()
    except OSError as exc:
        raise PathRefused(
            f"{target} does not exist or cannot be read: give an existing file or directory"
        ) from exc
    if stat.S_ISLNK(st.st_mode):
        target = target.resolve(strict=True)
        st = target.stat()
    if stat.S_ISDIR(st.st_mode):
        root = target
        tree = Tree(root=root)
        excluded = set(exclude_dirs)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            kept = []
            for d in sorted(dirnames):
                full = Path(dirpath, d)
                if d in excluded:
                    continue
                if full.is_symlink():
                    tree.skip("symlink_dir")
                    continue
                kept.append(d)
            dirnames[:] = kept
            for name in sorted(filenames):
                _add(tree, Path(dirpath, name), max_file_bytes)
                if len(tree.files) > max_files:
                    raise PathRefused(f"{root} holds more than {max_files} files: scan a subdirectory")
        return tree
    if stat.S_ISREG(st.st_mode):
        tree = Tree(root=target.parent)
        _add(tree, target, max_file_bytes)
        return tree
    raise PathRefused(f"{target} is not a regular file or directory (device, FIFO or socket): refused")


def _add(tree: Tree, path: Path, max_file_bytes: int) -> None:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            tree.skip("broken_symlink")
            return
        if not _inside(real, tree.root):
            tree.skip("symlink_escape")
            return
        st = real.stat()
    if not stat.S_ISREG(st.st_mode):
        tree.skip("special_file")
        return
    if st.st_size > max_file_bytes:
        tree.skip("too_large")
        return
    try:
        data = path.read_bytes()
    except OSError:
        tree.skip("unreadable")
        return
    if b"\0" in data[:_BINARY_PROBE]:
        tree.skip("binary")
        return
    rel = path.relative_to(tree.root).as_posix()
    tree.files.append(
        SourceFile(path, rel, hashlib.sha256(data).hexdigest(), classify(path.name, data[:4096]))
    )
