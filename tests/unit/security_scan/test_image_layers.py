"""Saved images read as records: whiteouts, traversal refused, secrets in deleted layers, special bits,
and the package databases and build info found inside."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from servers.security_scan.image_inventory_ops import go_modules, inventory
from servers.security_scan.image_layers_ops import GO_MAGIC, ImageError, read_saved_image
from servers.security_scan.image_ops import misconfigurations

AWS = "AKIA" + "IOSFODNN7EXAMPLE"  # split so this file holds no whole key
Item = tuple[str, bytes | None, int]  # name, content (None: a folder), mode


def _layer(items: list[Item]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data, mode in items:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _image(tmp_path: Path, layers: list[list[Item]], config: dict[str, object]) -> Path:
    path = tmp_path / "image.tar"
    with tarfile.open(path, "w") as tar:
        names = []
        for n, items in enumerate(layers):
            data = _layer(items)
            names.append(f"{n}/layer.tar")
            info = tarfile.TarInfo(names[-1])
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, body in (
            ("config.json", config),
            ("manifest.json", [{"Config": "config.json", "Layers": names}]),
        ):
            raw = json.dumps(body).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


DPKG = b"Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n\nPackage: curl\nStatus: install ok installed\nVersion: 7.88.1-10\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n"  # noqa: E501
OS = b'ID=debian\nVERSION_ID="12"\n'


def test_whiteouts_traversal_secrets_and_bits(tmp_path: Path) -> None:
    layers: list[list[Item]] = [
        [
            ("etc", None, 0o755),
            ("etc/os-release", OS, 0o644),
            ("var/lib/dpkg/status", DPKG, 0o644),
            ("app", None, 0o755),
            ("app/.env", f"AWS_KEY={AWS}\n".encode(), 0o644),
            ("app/old", None, 0o755),
            ("app/old/a.txt", b"a", 0o644),
            ("usr/bin/su", b"\x7fELF", 0o4755),
            ("data", None, 0o777),
            ("tmp", None, 0o1777),
        ],
        [
            ("app/.wh..env", b"", 0o644),
            ("app/old/.wh..wh..opq", b"", 0o644),
            ("../../etc/evil", b"x", 0o644),
            ("/abs", b"x", 0o644),
            ("app/main.py", b"print(1)\n", 0o666),
        ],
    ]
    view = read_saved_image(
        _image(tmp_path, layers, {"config": {"Env": ["PATH=/bin", f"KEY={AWS}"]}}),
        max_entries=1000,
        max_file_bytes=1 << 20,
    )
    assert (
        "app/.env" not in view.entries and "app/old/a.txt" not in view.entries and "app/old" in view.entries
    )
    assert [(s.path, s.layer) for s in view.secrets] == [("app/.env", 0)]
    assert len(view.refused) == 2 and "etc/evil" not in view.entries
    found = {f.rule_id: f for f in misconfigurations(view, "t")}
    assert found["image-secret-in-layer"].severity == "critical"  # deleted later, still shipped
    assert AWS not in found["image-secret-in-env"].snippet
    assert {"image-root-user", "image-setuid", "image-world-writable", "image-path-traversal"} <= set(found)
    ww = [f.path for f in misconfigurations(view, "t") if f.rule_id == "image-world-writable"]
    assert ww == ["/app/main.py", "/data"]  # /tmp has the sticky bit
    inv = inventory(view)
    assert inv.os_ecosystem == "Debian:12"
    assert {(p.name, p.version) for p in inv.packages} == {
        ("openssl", "3.0.11-1~deb12u1"),
        ("curl", "7.88.1-10"),
    }


def test_entry_bound_and_not_an_image(tmp_path: Path) -> None:
    many: list[Item] = [(f"f{n}", b"", 0o644) for n in range(50)]
    with pytest.raises(ImageError, match="image_max_entries"):
        read_saved_image(_image(tmp_path, [many], {}), max_entries=10, max_file_bytes=100)
    (tmp_path / "junk.tar").write_bytes(b"junk")
    with pytest.raises(ImageError):
        read_saved_image(tmp_path / "junk.tar", max_entries=10, max_file_bytes=100)


def test_language_packages_and_apk(tmp_path: Path) -> None:
    meta = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\nClassifier: License :: OSI Approved :: BSD License\n"  # noqa: E501
    pkg = json.dumps({"name": "lodash", "version": "4.17.20", "license": "MIT"}).encode()
    apk = b"C:Q1\nP:libcrypto3\nV:3.1.0-r4\no:openssl\nL:Apache-2.0\n\nP:musl\nV:1.2.4-r0\n"
    layers: list[list[Item]] = [
        [
            ("etc/os-release", b"ID=alpine\nVERSION_ID=3.18.2\n", 0o644),
            ("lib/apk/db/installed", apk, 0o644),
            ("usr/lib/python3.11/site-packages/Jinja2-2.10.dist-info/METADATA", meta, 0o644),
            ("usr/lib/python3/dist-packages/six-1.0.dist-info/METADATA", b"Name: six\nVersion: 1.0\n", 0o644),
            ("srv/node_modules/lodash/package.json", pkg, 0o644),
            ("srv/node_modules/lodash/node_modules/x/lib/package.json", pkg, 0o644),
        ]
    ]
    inv = inventory(read_saved_image(_image(tmp_path, layers, {}), max_entries=100, max_file_bytes=1 << 20))
    assert inv.os_ecosystem == "Alpine:v3.18"
    assert {(p.ecosystem, p.name, p.version, p.license) for p in inv.packages} == {
        ("Alpine:v3.18", "openssl", "3.1.0-r4", "Apache-2.0"),
        ("Alpine:v3.18", "musl", "1.2.4-r0", None),
        ("PyPI", "Jinja2", "2.10", "BSD-3-Clause"),
        ("npm", "lodash", "4.17.20", "MIT"),
    }


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_go_build_info_inline_format() -> None:
    modinfo = (
        "0" * 16 + "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
        "dep\tgolang.org/x/net\tv0.6.0\th1:x=\ndep\tgithub.com/a/b\tv1.0.0\th1:y=\n=>\t../b\t(devel)\t\n"
        "dep\tgithub.com/c/d\tv1.0.0\t\n=>\tgithub.com/e/d\tv1.2.0\th1:z=\n" + "1" * 16
    )
    blob = (
        GO_MAGIC
        + bytes([8, 2])
        + b"\0" * 16
        + _varint(8)
        + b"go1.21.0"
        + _varint(len(modinfo))
        + modinfo.encode()
    )
    deps, note = go_modules(blob, "app")
    assert note is None
    assert {(d.name, d.version) for d in deps} == {
        ("stdlib", "1.21.0"),
        ("golang.org/x/net", "v0.6.0"),
        ("github.com/e/d", "v1.2.0"),
    }
    assert go_modules(GO_MAGIC + bytes([8, 0]) + b"\0" * 40, "old")[1] is not None
