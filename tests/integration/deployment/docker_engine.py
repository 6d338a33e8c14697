"""A real `dockerd` on a private socket, with a busybox image imported from a local rootfs tarball.

No registry is reachable here, so the image is built from Debian's busybox-static: `/bin/busybox`
plus one symlink per applet, imported through the Engine API's image import.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

from tests.support.services import require_program, stop_process, unavailable, wait_until

BUSYBOX_IMAGE = "busybox:local"
_APPLETS = ("sh", "echo", "sleep", "cat", "ls", "id", "true", "false", "env", "touch", "printf", "seq")


@dataclass(frozen=True)
class DockerEngine:
    """A running dockerd: its API address and the image the tests run."""

    host: str
    image: str
    root: Path


def busybox_rootfs(busybox: Path) -> bytes:
    """A tar of a minimal root filesystem: busybox, its applets as symlinks, and empty folders."""
    data = busybox.read_bytes()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for folder in ("bin", "tmp", "etc", "proc", "sys", "dev", "data"):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in _APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        passwd = b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(passwd))
    return out.getvalue()


@contextmanager
def docker_engine(root: Path) -> Iterator[DockerEngine]:
    """Start dockerd under `root` (no iptables, no bridge), import busybox, stop it by PID after."""
    dockerd = require_program("dockerd")
    busybox = Path(require_program("busybox"))
    if os.geteuid() != 0:
        unavailable("dockerd needs root to run containers")
    # A unix socket path must stay under ~100 bytes: keep the socket in a short folder of its own.
    sock_dir = Path(
        subprocess.run(
            ["mktemp", "-d", "/tmp/dkr.XXXXXX"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    socket = sock_dir / "docker.sock"
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            dockerd,
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(sock_dir / "exec"),
            "--pidfile",
            str(root / "dockerd.pid"),
            "-H",
            f"unix://{socket}",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--bridge=none",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    host = f"unix://{socket}"
    client = docker.DockerClient(base_url=host, version="1.41", timeout=30)
    try:
        wait_until(
            lambda: proc.poll() is None and socket.exists() and client.ping(), timeout=30, what="dockerd"
        )
        client.api.import_image_from_data(busybox_rootfs(busybox), repository="busybox", tag="local")
        yield DockerEngine(host=host, image=BUSYBOX_IMAGE, root=root)
    finally:
        client.close()
        stop_process(proc, timeout=20)
        log.close()
        _unmount_below(root)
        shutil.rmtree(sock_dir, ignore_errors=True)


def _unmount_below(root: Path) -> None:
    """dockerd bind-mounts its data root onto itself and may leave it mounted: undo that."""
    prefix = str(root.resolve())
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(prefix)
    ]
    for mount in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
