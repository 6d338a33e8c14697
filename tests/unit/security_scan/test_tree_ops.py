"""What a scan looks at: regular text files only, snapshotted; links, specials, binaries, huge files and
too-deep folders skipped and reported before any scanner sees them."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers.security_scan import tree_ops
from servers.security_scan.tree_ops import SKIPPED_PATHS_KEPT, Limits, Tree, classify, collect
from shared.errors import InvalidArgument

LIMITS = Limits(max_file_bytes=1000, max_files=100, exclude_dirs=frozenset({".git", "node_modules"}))


@pytest.mark.parametrize(
    ("name", "head", "kind"),
    [
        ("app.py", b"import os\n", "python"),
        ("Dockerfile", b"FROM x\n", "dockerfile"),
        ("Dockerfile.prod", b"FROM x\n", "iac"),
        ("api.dockerfile", b"FROM x\n", "dockerfile"),
        ("pod.yaml", b"apiVersion: v1\nkind: Pod\n", "kubernetes"),
        ("deploy.sh", b"echo\n", "shell"),
        ("deploy", b"#!/bin/bash\necho\n", "shell"),
        ("run", b"#!/usr/bin/env sh\n", "shell"),
        ("requirements-dev.txt", b"x==1\n", "dependencies"),
        ("pyproject.toml", b"[project]\n", "dependencies"),
        ("poetry.lock", b"", "dependencies"),
    ],
)
def test_classify_finds_the_scanner_family(name: str, head: bytes, kind: str) -> None:
    assert kind in classify(name, head)


@pytest.mark.parametrize(
    ("name", "head", "kind"),
    [
        ("config.yaml", b"key: value\n", "kubernetes"),
        ("notes", b"just text\n", "shell"),
        ("app.pyc", b"", "python"),
    ],
)
def test_classify_does_not_guess(name: str, head: bytes, kind: str) -> None:
    assert kind not in classify(name, head)


def _collect(target: Path, tmp_path: Path, limits: Limits = LIMITS) -> Tree:
    stage = tmp_path / "stage"
    stage.mkdir(exist_ok=True)
    for old in stage.iterdir():  # one snapshot per call
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    return collect(target, stage=stage, limits=limits)


def test_collect_skips_and_counts_what_it_cannot_read(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    (root / "app.py").write_text("print(1)\n")
    (root / "sub" / "big.txt").write_text("x" * 2000)
    (root / "image.png").write_bytes(b"\x89PNG\0\0\0binary")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "dep.js").write_text("x")
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the scanned tree\n")
    (root / "escape.txt").symlink_to(outside)
    (root / "inside.py").symlink_to(root / "app.py")
    (root / "loop").symlink_to(root / "missing")
    os.mkfifo(root / "pipe")
    (root / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))

        tree = _collect(root, tmp_path)

    assert [f.rel for f in tree.files] == ["app.py"]
    assert tree.skipped == {
        "too_large": 1,
        "binary": 1,
        "symlink": 1,  # even a link to a file of the tree: that file is scanned under its own name
        "symlink_escape": 1,
        "broken_symlink": 1,
        "special_file": 2,
        "symlink_dir": 1,
    }
    assert tree.skipped_paths == {
        "too_large": ["sub/big.txt"],
        "binary": ["image.png"],
        "symlink": ["inside.py"],
        "symlink_escape": ["escape.txt"],
        "broken_symlink": ["loop"],
        "special_file": ["pipe", "sock"],
        "symlink_dir": ["linked_dir"],
    }
    assert tree.root == root


def test_scanners_get_a_private_snapshot_one_folder_per_file(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    (root / "app.py").write_text("import os\n")
    (root / "sub" / ".shellcheckrc").write_text("disable=all\n")
    (root / "sub" / "run.sh").write_text("rm -rf $1\n")
    (root / "web.mts").write_text("export const a = 1;\n")
    tree = _collect(root, tmp_path)
    by_rel = {f.rel: f for f in tree.files}
    assert sorted(by_rel) == ["app.py", "sub/.shellcheckrc", "sub/run.sh", "web.mts"]
    for f in tree.files:
        assert f.path.parent.parent == tree.stage  # <stage>/<n>/<name>: nothing beside or above it
        assert f.path.parent.stat().st_mode & 0o777 == 0o700
        assert f.path.read_bytes() == (root / f.rel).read_bytes()
    assert len({f.path.parent for f in tree.files}) == 4
    assert by_rel["web.mts"].path.name == "web.mts.ts"  # semgrep reads .mts only as .ts
    assert "shell" in by_rel["sub/run.sh"].kinds


def test_a_file_swapped_for_a_link_after_the_walk_listed_it_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_text("x = 1\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    real_open = os.open

    def swap_then_open(path: Any, flags: int, *args: Any) -> int:
        if Path(path).name == "app.py":
            Path(path).unlink()
            Path(path).symlink_to(tmp_path / "secret.txt")
        return real_open(path, flags, *args)

    monkeypatch.setattr(tree_ops.os, "open", swap_then_open)
    tree = _collect(root, tmp_path)
    assert tree.files == []
    assert tree.skipped == {"symlink": 1}


def test_a_folder_swapped_for_a_link_mid_walk_does_not_leak_outside_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "app.py").write_text("x = 1\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "app.py").write_text("SECRET = 'outside the tree'\n")
    real_open = os.open

    def swap_then_open(path: Any, flags: int, *args: Any) -> int:
        if Path(path).parent.name == "sub" and (root / "sub").is_dir() and not (root / "sub").is_symlink():
            (root / "sub").rename(tmp_path / "moved")
            (root / "sub").symlink_to(tmp_path / "outside", target_is_directory=True)
        return real_open(path, flags, *args)

    monkeypatch.setattr(tree_ops.os, "open", swap_then_open)
    tree = _collect(root, tmp_path)
    assert tree.files == []
    assert tree.skipped == {"symlink_escape": 1}


def test_a_file_removed_between_listing_and_reading_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_text("x = 1\n")
    real_walk = os.walk

    def walk_listing_a_vanished_file(top: Any, **kw: Any) -> Iterator[tuple[str, list[str], list[str]]]:
        for dirpath, dirnames, filenames in real_walk(top, **kw):
            yield dirpath, dirnames, [*filenames, "vanished.py"]

    monkeypatch.setattr(tree_ops.os, "walk", walk_listing_a_vanished_file)
    tree = _collect(root, tmp_path)
    assert [f.rel for f in tree.files] == ["app.py"]
    assert tree.skipped_paths == {"unreadable": ["vanished.py"]}


def test_folders_deeper_than_the_bound_are_skipped_and_listed(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    deep = root.joinpath(*(f"d{n}" for n in range(6)))
    deep.mkdir(parents=True)
    (deep / "hidden.py").write_text("eval(input())\n")
    (root / "d0" / "shallow.py").write_text("x = 1\n")
    tree = _collect(root, tmp_path, Limits(max_file_bytes=1000, max_files=100, max_depth=3))
    assert [f.rel for f in tree.files] == ["d0/shallow.py"]
    assert tree.skipped == {"too_deep": 1}
    assert tree.skipped_paths == {"too_deep": ["d0/d1/d2/d3"]}


def test_only_the_first_paths_of_a_reason_are_listed(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    for n in range(SKIPPED_PATHS_KEPT + 5):
        os.mkfifo(root / f"pipe{n:02d}")
    tree = _collect(root, tmp_path)
    assert tree.skipped == {"special_file": SKIPPED_PATHS_KEPT + 5}
    assert len(tree.skipped_paths["special_file"]) == SKIPPED_PATHS_KEPT


def test_the_staging_folder_inside_the_tree_is_not_walked(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    tree = collect(tmp_path, stage=_stage(tmp_path / "stage"), limits=LIMITS)
    assert [f.rel for f in tree.files] == ["app.py"]


def _stage(path: Path) -> Path:
    path.mkdir()
    return path


def test_a_single_file_is_scanned_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("x = 1\n")
    tree = _collect(tmp_path / "src" / "app.py", tmp_path)
    assert [f.rel for f in tree.files] == ["app.py"]
    assert tree.root == tmp_path / "src"


@pytest.mark.parametrize("target", ["/dev/null", "/dev/zero"])
def test_devices_are_refused(target: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a regular file"):
        _collect(Path(target), tmp_path)


def test_a_fifo_target_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InvalidArgument, match="FIFO"):
        _collect(tmp_path / "pipe", tmp_path)


def test_missing_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        _collect(tmp_path / "nope", tmp_path)


def test_too_many_files_or_bytes_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    for n in range(5):
        (root / f"f{n}.txt").write_text("x" * 100)
    with pytest.raises(InvalidArgument, match="more than 3 files"):
        _collect(root, tmp_path, Limits(max_file_bytes=1000, max_files=3))
    with pytest.raises(InvalidArgument, match="more than 250 bytes"):
        _collect(root, tmp_path, Limits(max_file_bytes=1000, max_files=100, max_total_bytes=250))


def test_digest_changes_with_content_only(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.py").write_text("a = 1\n")
    first = _collect(root, tmp_path).digest()
    assert _collect(root, tmp_path).digest() == first
    (root / "a.py").write_text("a = 2\n")
    assert _collect(root, tmp_path).digest() != first
