"""scan_image on a real dockerd: images built from the local Debian base (and busybox) with planted
packages, secrets and setuid files, read through the Engine API and matched against OSV records."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from tests.integration.deployment.docker_engine import DockerEngine, docker_engine
from tests.integration.scale.image_build import build, import_base
from tests.integration.security_scan.osv_server import build_export
from tests.support.services import cache_dir, unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture(scope="module")
def engine_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    with docker_engine(tmp_path_factory.mktemp("dockerd")) as running:
        yield running


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture(scope="module")
def planted_debian(engine_host: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> str:
    tarball = cache_dir() / "images" / "bookworm-python3.tar"
    recipe = tarball.with_name(tarball.name + ".recipe")
    if not (tarball.is_file() and recipe.is_file()):
        unavailable(f"no local base image at {tarball}: run scripts/setup.d/55-base-image.sh (as root)")
    client = docker.DockerClient(base_url=engine_host.host, version="1.41", timeout=600)
    base = import_base(client, tarball, recipe.read_text())
    context = tmp_path_factory.mktemp("planted")
    _write(
        context / "planted",
        {
            "var/lib/dpkg/status.d/curl": "Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10+deb12u4\n",  # noqa: E501
            "usr/local/lib/python3.11/site-packages/Jinja2-2.10.dist-info/METADATA": "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\nLicense: BSD\n",  # noqa: E501
            "srv/web/node_modules/lodash/package.json": json.dumps(
                {"name": "lodash", "version": "4.17.20", "license": "MIT"}
            ),
            "app/.env": f"AWS_ACCESS_KEY_ID={AWS}\n",
            "usr/local/bin/planted-suid": "#!/bin/sh\n",
        },
    )
    (context / "Dockerfile").write_text(
        textwrap.dedent(f"""\
        ARG BASE
        FROM ${{BASE}}
        COPY planted/ /
        RUN chmod 4755 /usr/local/bin/planted-suid && rm /app/.env
        ENV GITHUB_TOKEN={TOKEN}
        """)
    )
    build(client, path=context, tag="planted:debian", dockerfile="Dockerfile", args={"BASE": base})
    client.close()
    return "planted:debian"


def _engine(tmp_path: Path, host: str) -> ScanEngine:
    export = build_export(tmp_path / "export")
    return ScanEngine(
        SecurityScanSettings(cache_dir=tmp_path / "cache", osv_export_dir=export, docker_host=host)
    )


async def test_planted_debian_image(engine_host: DockerEngine, planted_debian: str, tmp_path: Path) -> None:
    engine = _engine(tmp_path, engine_host.host)
    scan = await engine.scan_image(planted_debian, owner="t", include_sbom=True)
    assert scan.os == "debian 12" and scan.packages["Debian:12"] > 50
    assert scan.image_id.startswith("sha256:")
    findings = engine.findings(scan.scan_id, owner="t")
    vulns = {(f.rule_id, f.snippet) for f in findings if f.category == "dependency"}
    assert vulns == {
        ("DSA-5587-1", "curl@7.88.1-10+deb12u4"),
        ("GHSA-462w-v97r-4m45", "Jinja2==2.10"),
        ("GHSA-35jh-r3h4-6jhm", "lodash@4.17.20"),
    }
    rules = {f.rule_id for f in findings}
    assert {"image-root-user", "image-secret-in-env", "image-secret-in-layer", "image-setuid"} <= rules
    deleted = [f for f in findings if f.rule_id == "image-secret-in-layer"]
    assert [(f.path, f.severity) for f in deleted] == [("/app/.env", "critical")]
    assert "/usr/local/bin/planted-suid" in {f.path for f in findings if f.rule_id == "image-setuid"}
    assert all(TOKEN not in f.snippet and AWS not in f.snippet for f in findings)
    assert scan.sbom is not None
    purls = {c["purl"] for c in scan.sbom["components"]}
    assert "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u4?distro=debian-12" in purls
    assert "pkg:npm/lodash@4.17.20" in purls
    assert scan.complete, scan.problems


async def test_busybox_alpine_style_image_runs_unprivileged(
    engine_host: DockerEngine, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"
    _write(
        context,
        {
            "os-release": "ID=alpine\nVERSION_ID=3.18.2\n",
            "installed": "P:libcrypto3\nV:3.1.0-r4\no:openssl\nL:Apache-2.0\n\nP:musl\nV:1.2.4-r1\n",
            "Dockerfile": f"FROM {engine_host.image}\nCOPY os-release /etc/os-release\n"
            "COPY installed /lib/apk/db/installed\nUSER 65534\n",
        },
    )
    client = docker.DockerClient(base_url=engine_host.host, version="1.41", timeout=120)
    build(client, path=context, tag="planted:alpine", dockerfile="Dockerfile", args={})
    client.close()
    engine = _engine(tmp_path, engine_host.host)
    scan = await engine.scan_image("planted:alpine", owner="t")
    findings = engine.findings(scan.scan_id, owner="t")
    assert {(f.rule_id, f.snippet) for f in findings if f.category == "dependency"} == {
        ("ALPINE-CVE-2023-2650", "openssl@3.1.0-r4")
    }
    assert "image-root-user" not in {f.rule_id for f in findings} and scan.user == "65534"


async def test_unknown_image_is_not_found(engine_host: DockerEngine, tmp_path: Path) -> None:
    from shared.errors import NotFound

    with pytest.raises(NotFound, match="build or pull it"):
        await _engine(tmp_path, engine_host.host).scan_image("nothing:here", owner="t")
