"""Walk a scan target and snapshot it: regular text files only, copied into a private staging folder.

Scanners never see the scanned tree itself. Every file the walker approves is read once (without
following a symlink), hashed, and written into the staging folder, each in a folder of its own
(`<stage>/<n>/<name>`), and scanners are handed those copies. So a symlink, a FIFO or a file swapped
after the walk cannot reach a scanner, the bytes scanned are the bytes hashed, and no file of the
project sits beside or above another one's copy, where a scanner would look for its config
(`.semgrepignore`, `.shellcheckrc`, `.bandit`, ...).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from shared.errors import InvalidArgument

_BINARY_PROBE = 8192
_SHEBANG = re.compile(rb"^#!\s*(?:/usr)?/bin/(?:env\s+)?(?:ba|da|k|z)?sh\b")
_K8S_MARKERS = (re.compile(rb"^apiVersion:", re.M), re.compile(rb"^kind:", re.M))
SKIPPED_PATHS_KEPT = 10  # paths listed per skip reason; the count covers all of them
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
    r"^(requirements[\w.-]*\.(txt|in)|constraints[\w.-]*\.txt|pyproject\.toml|poetry\.lock|uv\.lock|Pipfile\.lock"
    r"|package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|go\.mod|go\.sum|Cargo\.lock"
    r"|pom\.xml|[\w.-]+\.lockfile|Gemfile\.lock|composer\.lock)$"
)
# semgrep 1.185 silently passes over .mts/.cts (TypeScript modules): their copies get a .ts suffix.
_STAGED_SUFFIX = {".mts": ".ts", ".cts": ".ts"}
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One regular text file of the scanned tree, as snapshotted.

    `path` is the staged copy (what scanners and parsers read); `rel` the path relative to the
    scanned root, which findings report.
    """

    path: Path
    rel: str
    sha256: str
    kinds: frozenset[str]


@dataclass(slots=True)
class Tree:
    """What a scan looks at, where its snapshot is, and what it left out and why."""

    root: Path
    stage: Path
    files: list[SourceFile] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_paths: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, rel: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        kept = self.skipped_paths.setdefault(reason, [])
        if len(kept) < SKIPPED_PATHS_KEPT:
            kept.append(rel)

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


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one walk (from `[security_scan]`)."""

    max_file_bytes: int
    max_files: int
    exclude_dirs: frozenset[str] = frozenset()
    max_depth: int = 64
    max_total_bytes: int = 2_000_000_000


def collect(target: Path, *, stage: Path, limits: Limits) -> Tree:
    """Snapshot the files under `target` (a file or a directory already allowed by the policy).

    Args:
        target: what to scan.
        stage: an empty private folder that receives the copies; the caller removes it.
        limits: size, count and depth bounds.

    Raises:
        InvalidArgument: the target is missing, a device, a FIFO, a socket, or holds too many files
            or bytes.
    """
    try:
        st = target.lstat()
    except OSError as exc:
        raise InvalidArgument(
            f"{target} does not exist or cannot be read: give an existing file or directory"
        ) from exc
    # The target is the caller's choice, already checked by the policy: resolved, a link is followed.
    target = target.resolve(strict=True)
    stage = stage.resolve(strict=True)
    st = target.stat()
    if stat.S_ISDIR(st.st_mode):
        tree = Tree(root=target, stage=stage)
        _walk(tree, limits)
        return tree
    if stat.S_ISREG(st.st_mode):
        tree = Tree(root=target.parent, stage=stage)
        _add(tree, target, limits)
        return tree
    raise InvalidArgument(f"{target} is not a regular file or directory (device, FIFO or socket): refused")


def _walk(tree: Tree, limits: Limits) -> None:
    root = tree.root
    total = 0

    def unreadable(exc: OSError) -> None:
        name = exc.filename if isinstance(exc.filename, str) else str(root)
        tree.skip("unreadable_dir", _rel(Path(name), root))

    # os.walk recurses in Python 3.11: the depth bound also keeps a hostile tree from exhausting it.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=unreadable):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        kept = []
        for d in sorted(dirnames):
            full = here / d
            if d in limits.exclude_dirs or full == tree.stage:
                continue
            if full.is_symlink():
                tree.skip("symlink_dir", _rel(full, root))
            elif depth + 1 > limits.max_depth:
                tree.skip("too_deep", _rel(full, root))
            else:
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            total += _add(tree, here / name, limits)
            if len(tree.files) > limits.max_files:
                raise InvalidArgument(f"{root} holds more than {limits.max_files} files: scan a subdirectory")
            if total > limits.max_total_bytes:
                raise InvalidArgument(
                    f"{root} holds more than {limits.max_total_bytes} bytes of text: scan a subdirectory"
                )


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _add(tree: Tree, path: Path, limits: Limits) -> int:
    """Snapshot one file if it is a regular text file inside the root; returns the bytes staged."""
    rel = _rel(path, tree.root)
    try:
        st = path.lstat()
    except OSError:
        tree.skip("unreadable", rel)  # listed, then removed before it could be read
        return 0
    if stat.S_ISLNK(st.st_mode):
        # Never followed: a scanner handed a link reads whatever it points at (semgrep refuses the
        # whole run over one). The target, when it is inside the tree, is scanned under its own name.
        tree.skip(_link_reason(path, tree.root), rel)
        return 0
    if not stat.S_ISREG(st.st_mode):
        tree.skip("special_file", rel)  # never opened: opening a FIFO or a device can block
        return 0
    data = _read_regular(tree, path, rel, limits.max_file_bytes)
    if data is None:
        return 0
    if b"\0" in data[:_BINARY_PROBE]:
        tree.skip("binary", rel)
        return 0
    n = len(tree.files)
    folder = tree.stage / str(n)
    folder.mkdir(mode=0o700)
    staged = folder / (path.name + _STAGED_SUFFIX.get(path.suffix.lower(), ""))
    staged.write_bytes(data)
    tree.files.append(
        SourceFile(staged, rel, hashlib.sha256(data).hexdigest(), classify(path.name, data[:4096]))
    )
    return len(data)


def _link_reason(path: Path, root: Path) -> str:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "broken_symlink"
    return "symlink" if _inside(real, root) else "symlink_escape"


def _read_regular(tree: Tree, path: Path, rel: str, max_bytes: int) -> bytes | None:
    """The file's bytes, read without following a link (the file may change after the walk listed it)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        tree.skip("symlink" if exc.errno == errno.ELOOP else "unreadable", rel)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            tree.skip("special_file", rel)
            return None
        if not _opened_inside(fd, tree.root):  # a parent folder swapped for a link mid-walk
            tree.skip("symlink_escape", rel)
            return None
        if st.st_size > max_bytes:
            tree.skip("too_large", rel)
            return None
        chunks, size = [], 0
        while size <= max_bytes and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # grew after fstat
            tree.skip("too_large", rel)
            return None
        return b"".join(chunks)
    except OSError:
        tree.skip("unreadable", rel)
        return None
    finally:
        os.close(fd)


def _opened_inside(fd: int, root: Path) -> bool:
    try:
        real = Path(f"/proc/self/fd/{fd}").readlink()
    except OSError:
        return True  # no /proc: the lstat + O_NOFOLLOW checks stand alone
    return _inside(real, root)


def read_regular_file(path: Path, max_bytes: int) -> bytes | None:
    """A small file's bytes when it is a regular file (never through a link); None otherwise."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
            return None
        data = b""
        while len(data) <= max_bytes and (chunk := os.read(fd, 1 << 16)):
            data += chunk
        return data if len(data) <= max_bytes else None
    except OSError:
        return None
    finally:
        os.close(fd)
