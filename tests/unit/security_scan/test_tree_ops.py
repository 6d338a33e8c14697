"""What a scan looks at: regular text files only; specials refused, binaries and huge files counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.security_scan.scan_errors import PathRefused
from servers.security_scan.tree_ops import classify, collect

LIMITS = {"max_file_bytes": 1000, "max_files": 100, "exclude_dirs": [".git", "node_modules"]}


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

    tree = collect(root, **LIMITS)

    assert sorted(f.rel for f in tree.files) == ["app.py", "inside.py"]
    assert tree.skipped == {
        "too_large": 1,
        "binary": 1,
        "symlink_escape": 1,
        "broken_symlink": 1,
        "special_file": 1,
        "symlink_dir": 1,
    }
    assert tree.root == root


def test_a_single_file_is_scanned_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    tree = collect(tmp_path / "app.py", **LIMITS)
    assert [f.rel for f in tree.files] == ["app.py"]
    assert tree.root == tmp_path


@pytest.mark.parametrize("target", ["/dev/null", "/dev/zero"])
def test_devices_are_refused(target: str) -> None:
    with pytest.raises(PathRefused, match="not a regular file"):
        collect(Path(target), **LIMITS)


def test_a_fifo_target_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(PathRefused, match="FIFO"):
        collect(tmp_path / "pipe", **LIMITS)


def test_missing_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PathRefused, match="does not exist"):
        collect(tmp_path / "nope", **LIMITS)


def test_too_many_files_is_refused(tmp_path: Path) -> None:
    for n in range(5):
        (tmp_path / f"f{n}.txt").write_text("x")
    with pytest.raises(PathRefused, match="more than 3 files"):
        collect(tmp_path, max_file_bytes=1000, max_files=3, exclude_dirs=[])


def test_digest_changes_with_content_only(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a = 1\n")
    first = collect(tmp_path, **LIMITS).digest()
    assert collect(tmp_path, **LIMITS).digest() == first
    (tmp_path / "a.py").write_text("a = 2\n")
    assert collect(tmp_path, **LIMITS).digest() != first
