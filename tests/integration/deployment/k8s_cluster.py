"""A real Kubernetes control plane on loopback, started by scripts/k8s/start.sh, stopped by PID.

kube-apiserver, kube-controller-manager and kube-scheduler built from the Kubernetes Go modules,
etcd, and kwok simulating one node so that pods become Running. The binaries come from
scripts/k8s/build.sh (cached outside the repository).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import cache_dir, unavailable

ROOT = Path(__file__).resolve().parents[3]
START = ROOT / "scripts" / "k8s" / "start.sh"
STOP = ROOT / "scripts" / "k8s" / "stop.sh"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass(frozen=True)
class KubeCluster:
    """A running control plane: its kubeconfig (context `code-test`), admin token and folder."""

    kubeconfig: Path
    token: str
    root: Path
    context: str = "code-test"


def k8s_bin() -> Path:
    cache = cache_dir()
    version = os.environ.get("K8S_VERSION", "v1.34.4")
    return Path(os.environ.get("K8S_BIN", cache / "k8s" / version / "bin"))


@contextmanager
def kube_cluster(root: Path) -> Iterator[KubeCluster]:
    """Start the control plane under `root`; skip (or fail in CI) when it has not been built."""
    bin_dir = k8s_bin()
    missing = [name for name in BINARIES if not (bin_dir / name).is_file()]
    if missing:
        unavailable(
            f"Kubernetes control plane not built ({', '.join(missing)} missing): run scripts/k8s/build.sh"
        )
    env = {**os.environ, "K8S_BIN": str(bin_dir)}
    try:
        result = subprocess.run(
            ["bash", str(START), str(root)], env=env, capture_output=True, text=True, timeout=240, check=False
        )
        if result.returncode != 0:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                for log in sorted(root.glob("*.log"))
            )
            raise RuntimeError(f"control plane did not start:\n{result.stderr[-3000:]}\n{logs}")
        yield KubeCluster(
            kubeconfig=Path(result.stdout.strip()),
            token=(root / "admin.token").read_text().strip(),
            root=root,
        )
    finally:
        subprocess.run(["bash", str(STOP), str(root)], check=False, timeout=60)
