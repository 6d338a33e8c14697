"""The peer MCP servers, installed once into the cache (never the project's venv), and kubectl.

Each peer gets its own prefix, `$CODE_MCP_CACHE/peers/<name>-<version>/` (default cache
~/.cache/code-mcp): an npm prefix for the Node packages, a virtualenv for the PyPI ones. A prefix
counts as installed once its marker file names the same package spec; anything else is wiped and
installed again, so an interrupted install never passes for a good one.

`mcp-server-kubernetes` shells out to `kubectl`, which no reachable registry packages. It is built
from the Kubernetes Go module, like the control plane in scripts/k8s/build.sh, in a copy of that
script's wrapper module (same dependency versions, so Go's build cache serves most packages), into
`$CODE_MCP_CACHE/peers/kubectl-<k8s version>/bin/kubectl`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

K8S_VERSION = os.environ.get("K8S_VERSION", "v1.34.4")
MARKER = ".code-mcp-peer.json"


def cache_dir() -> Path:
    """The suite's build cache (outside the repository)."""
    return Path(os.environ.get("CODE_MCP_CACHE", Path.home() / ".cache" / "code-mcp"))


def peers_dir() -> Path:
    """Where every peer prefix lives."""
    return cache_dir() / "peers"


@dataclass(frozen=True)
class PeerPackage:
    """One peer as its registry publishes it."""

    name: str
    version: str
    registry: Literal["npm", "pypi"]
    min_python: tuple[int, int] = (3, 10)
    needs_kubectl: bool = False

    @property
    def prefix(self) -> Path:
        return peers_dir() / f"{self.name}-{self.version}"

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}" if self.registry == "npm" else f"{self.name}=={self.version}"


KUBERNETES_GO = PeerPackage("kubernetes-mcp-server", "0.0.67", "npm")
KUBERNETES_NODE = PeerPackage("mcp-server-kubernetes", "4.1.7", "npm", needs_kubectl=True)
PROMETHEUS = PeerPackage("prometheus-mcp-server", "1.6.2", "pypi")
DOCKER = PeerPackage("mcp-server-docker", "0.3.0", "pypi", min_python=(3, 12))
ALERTMANAGER = PeerPackage("alertmanager-mcp-server", "1.3.1", "pypi", min_python=(3, 12))
PACKAGES: tuple[PeerPackage, ...] = (KUBERNETES_GO, KUBERNETES_NODE, PROMETHEUS, DOCKER, ALERTMANAGER)


@dataclass(frozen=True)
class Installed:
    """What an install left behind: the spec, the interpreter or runtime, and the resolved dependencies."""

    spec: str
    prefix: Path
    runtime: str
    dependencies: dict[str, str]
    seconds: float


def kubectl_path() -> Path:
    """Where the benchmark's kubectl lives (built by `ensure_kubectl`)."""
    return peers_dir() / f"kubectl-{K8S_VERSION}" / "bin" / "kubectl"


def _log(message: str) -> None:
    print(f"[peers] {message}", file=sys.stderr, flush=True)


def _run(args: Sequence[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=3600, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def read_marker(package: PeerPackage) -> Installed | None:
    """The record of a finished install of exactly this spec, else None."""
    marker = package.prefix / MARKER
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if data.get("spec") != package.spec:
        return None
    return Installed(
        spec=data["spec"],
        prefix=package.prefix,
        runtime=data["runtime"],
        dependencies=dict(data["dependencies"]),
        seconds=float(data["seconds"]),
    )


def _write_marker(package: PeerPackage, runtime: str, dependencies: dict[str, str], seconds: float) -> None:
    record = {"spec": package.spec, "runtime": runtime, "dependencies": dependencies, "seconds": seconds}
    (package.prefix / MARKER).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def _python_version(python: Path) -> tuple[int, int] | None:
    try:
        out = _run([python, "-c", "import sys; print(*sys.version_info[:2])"])
    except (OSError, RuntimeError):
        return None
    major, minor = out.split()
    return int(major), int(minor)


def find_python(minimum: tuple[int, int]) -> Path:
    """The project's own interpreter when it is new enough, else the oldest pyenv/PATH one that is."""
    candidates = [Path(getattr(sys, "_base_executable", sys.executable))]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    versions = sorted(
        (pyenv_root / "versions").glob("3.*"),
        key=lambda p: tuple(int(x) for x in re.findall(r"\d+", p.name)[:3]),
    )
    candidates += [v / "bin" / "python3" for v in versions]
    candidates += [Path(p) for n in ("python3.12", "python3.13") if (p := shutil.which(n))]
    for python in candidates:
        if python.is_file() and (version := _python_version(python)) is not None and version >= minimum:
            return python
    raise RuntimeError(
        f"no Python >= {minimum[0]}.{minimum[1]} found (pyenv install 3.12, or put it on PATH)"
    )


def _install_npm(package: PeerPackage) -> tuple[str, dict[str, str]]:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed to install {package.spec}")
    # No install scripts: neither package needs one (the Go server's binary is a platform package).
    flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev"]
    _run([npm, "install", "--prefix", package.prefix, *flags, package.spec])
    lock = json.loads((package.prefix / "package-lock.json").read_text())
    dependencies = {
        path.removeprefix("node_modules/"): str(meta.get("version"))
        for path, meta in lock.get("packages", {}).items()
        if path.count("node_modules/") == 1
    }
    node = _run(["node", "--version"]).strip()
    return f"node {node}", dependencies


def _install_pypi(package: PeerPackage) -> tuple[str, dict[str, str]]:
    python = find_python(package.min_python)
    _run([python, "-m", "venv", package.prefix])
    venv_python = package.prefix / "bin" / "python"
    _run([venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", package.spec])
    frozen = _run([venv_python, "-m", "pip", "freeze", "--disable-pip-version-check"])
    dependencies = dict(line.split("==", 1) for line in frozen.splitlines() if "==" in line)
    version = _run([venv_python, "--version"]).strip()
    return version, dependencies


def install(package: PeerPackage, *, force: bool = False) -> Installed:
    """Install one peer into its own prefix, unless that exact spec is already there."""
    if not force and (done := read_marker(package)) is not None:
        return done
    _log(f"installing {package.spec} into {package.prefix}")
    shutil.rmtree(package.prefix, ignore_errors=True)
    package.prefix.mkdir(parents=True)
    started = time.monotonic()
    if package.registry == "npm":
        runtime, dependencies = _install_npm(package)
    else:
        runtime, dependencies = _install_pypi(package)
    seconds = round(time.monotonic() - started, 1)
    _write_marker(package, runtime, dependencies, seconds)
    _log(f"installed {package.spec} in {seconds:.0f}s ({runtime})")
    done = read_marker(package)
    assert done is not None
    return done


_KUBECTL_TOOLS_GO = """//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kubectl"
"""


def ensure_kubectl() -> Path:
    """kubectl of the control plane's Kubernetes version, built once from the Go module."""
    binary = kubectl_path()
    if binary.is_file():
        return binary
    go = shutil.which("go") or next(
        (str(g) for g in sorted((cache_dir() / "go-toolchain").glob("go*/bin/go")) if g.is_file()), None
    )
    wrapper = cache_dir() / "k8s" / K8S_VERSION / "src"
    if go is None:
        raise RuntimeError("kubectl is built with Go: install it, or run scripts/setup.d/60-k8s.sh")
    if not (wrapper / "go.mod").is_file():
        raise RuntimeError(f"{wrapper}/go.mod is missing: run scripts/k8s/build.sh first")
    work = binary.parent.parent / "src"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in ("go.mod", "go.sum"):
        shutil.copyfile(wrapper / name, work / name)
    (work / "tools.go").write_text(_KUBECTL_TOOLS_GO)
    cache = cache_dir()
    env = {
        **os.environ,
        "GOMODCACHE": str(cache / "go" / "mod"),
        "GOCACHE": str(cache / "go" / "build"),
        "GOFLAGS": "-buildvcs=false -mod=mod",
        "CGO_ENABLED": "0",
    }
    minor = K8S_VERSION.removeprefix("v1.").split(".")[0]
    ldflags = " ".join(
        f"-X k8s.io/{pkg}/version.{key}={value}"
        for pkg in ("component-base", "client-go/pkg")
        for key, value in (("gitVersion", K8S_VERSION), ("gitMajor", "1"), ("gitMinor", minor))
    )
    _log(f"building kubectl {K8S_VERSION} from the Go module (once; a few minutes on 2 cores)")
    started = time.monotonic()
    _run([go, "mod", "tidy"], env=env, cwd=work)
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(".tmp")
    # nice: a background build must not starve whatever else the machine runs.
    build: list[str | Path] = [go, "build", "-trimpath", "-ldflags", f"-s -w {ldflags}", "-o", tmp]
    _run(["nice", "-n", "19", *build, "k8s.io/kubernetes/cmd/kubectl"], env=env, cwd=work)
    tmp.rename(binary)
    _log(f"built {binary} in {time.monotonic() - started:.0f}s")
    return binary


def install_all(*, force: bool = False) -> dict[str, Installed]:
    """Every peer (and kubectl), each skipped when already installed; keyed by package name."""
    done = {package.name: install(package, force=force) for package in PACKAGES}
    if any(package.needs_kubectl for package in PACKAGES):
        ensure_kubectl()
    return done
