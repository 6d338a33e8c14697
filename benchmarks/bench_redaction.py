"""Cost of redacting one tool result: `shared.redaction` against the redaction the suite had before it
(`shared/output.py` at the baseline commit, loaded from git), in the same run.

    python -m benchmarks.bench_redaction [--repeat 7] [--number 200]

Inputs (built here, deterministic): (a) a 50-pod Kubernetes list as JSON-like data with no secret
(~20 kB as JSON), (b) the same list with 5 secrets in it, (c) a 20 kB application log with no
secret, (d) the log with 5 secrets, (e) 20 kB of text shaped against backtracking (the worst
case, not a typical one). Each figure is the best of `--repeat` runs of `--number`
calls, in microseconds per call; old and new run interleaved so machine load hits both alike.
Nothing is asserted; the old redactor misses some of the secrets, which is printed too.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import timeit
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared import redaction as new

BASELINE = "ecbd541"  # the commit before shared.redaction: redaction lived in shared/output.py


def _baseline_output() -> types.ModuleType:
    """The baseline's shared/output.py as a module (it needs only the stdlib, pydantic and shared.errors)."""
    source = subprocess.run(
        ["git", "-C", str(Path(__file__).resolve().parents[1]), "show", f"{BASELINE}:shared/output.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="baseline-output-"))
    (folder / "baseline_output.py").write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_output", folder / "baseline_output.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module.__name__] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


old = _baseline_output()

_RNG = random.Random(7)
SECRETS = {
    "db": "Tr0ub4dor&3-prod",
    "url": "s3cr3t-redis-pw",
    "gh": "ghp_" + "".join(_RNG.choice("abcdefghijklmnopqrstuvwxyzABCDEF0123456789") for _ in range(36)),
    "npm": "npm_" + "".join(_RNG.choice("abcdefghijklmnopqrstuvwxyzABCDEF0123456789") for _ in range(36)),
    "api": "k-" + uuid.UUID(int=_RNG.getrandbits(128)).hex,
}


def pod(i: int) -> dict[str, Any]:
    return {
        "name": f"web-7f9c5d{i:02d}-{uuid.UUID(int=_RNG.getrandbits(128)).hex[:5]}",
        "namespace": "shop",
        "uid": str(uuid.UUID(int=_RNG.getrandbits(128))),
        "labels": {"app": "web", "pod-template-hash": "7f9c5d"},
        "phase": "Running",
        "node": f"node-{i % 3}",
        "pod_ip": f"10.1.{i // 200}.{i % 200 + 2}",
        "containers": [
            {
                "name": "web",
                "image": f"registry.example.com/shop/web@sha256:{uuid.UUID(int=_RNG.getrandbits(128)).hex}",
                "ready": True,
                "restarts": i % 4,
                "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
            }
        ],
        "started_at": f"2024-05-01T12:{i % 60:02d}:00Z",
    }


def pod_list(with_secrets: bool) -> dict[str, Any]:
    data = {"kind": "PodList", "items": [pod(i) for i in range(50)], "truncated": False, "next_cursor": None}
    if with_secrets:
        items = data["items"]
        items[3]["containers"][0]["env"].append({"name": "DB_PASSWORD", "value": SECRETS["db"]})
        items[11]["labels"]["cache"] = f"redis://:{SECRETS['url']}@cache:6379"
        items[20]["containers"][0]["args"] = ["--token", SECRETS["gh"]]
        items[33]["annotations"] = {"npmrc": f"//registry.npmjs.org/:_authToken={SECRETS['npm']}"}
        items[47]["api_key"] = SECRETS["api"]
    return data


def log_text(with_secrets: bool) -> str:
    paths = ["/api/cart", "/api/items/42", "/healthz", "/api/checkout", "/static/app.js"]
    lines = []
    for i in range(400):
        lines.append(
            f"2024-05-01T12:{i % 60:02d}:{i % 60:02d}.{i:03d}Z INFO  web-7f9c5d-x2b7q request "
            f"id={uuid.UUID(int=_RNG.getrandbits(128))} method=GET path={_RNG.choice(paths)} "
            f"status=200 took={_RNG.randint(1, 900)}ms"
        )
    if with_secrets:
        lines[50] += f" DB_PASSWORD={SECRETS['db']}"
        lines[120] += f" upstream=redis://:{SECRETS['url']}@cache:6379"
        lines[200] += f" auth={SECRETS['gh']}"
        lines[300] += f" npm={SECRETS['npm']}"
        lines[350] += f' {{"api_key": "{SECRETS["api"]}"}}'
    return "\n".join(lines)[:20_000]


def hostile_text() -> str:
    """20 kB shaped against backtracking and rescanning: repeated keys, open quotes, PEM lines."""
    parts = [
        "-----BEGIN RSA PRIVATE KEY----- x " * 60,
        "password=" * 200,
        "cookie:" * 200,
        '{"token":"a",' * 150,
        "password='x " * 150,
        ("QUJD" * 16 + "\n") * 40,
        "<" + "key" * 300,
    ]
    return "".join(parts)[:20_000]


def best(fn: Callable[[], object], repeat: int, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def leaked(result: object) -> list[str]:
    flat = result if isinstance(result, str) else json.dumps(result)
    return [name for name, secret in SECRETS.items() if secret in flat]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    cases: list[tuple[str, Any, Callable[[Any], Any], Callable[[Any], Any]]] = [
        ("(a) 50-pod list, no secret", pod_list(False), old.redact_data, new.redact_data),
        ("(b) 50-pod list, 5 secrets", pod_list(True), old.redact_data, new.redact_data),
        ("(c) 20 kB log, no secret", log_text(False), old.redact, new.redact_text),
        ("(d) 20 kB log, 5 secrets", log_text(True), old.redact, new.redact_text),
        ("(e) 20 kB hostile text", hostile_text(), old.redact, new.redact_text),
    ]
    print(f"{'input':30s} {'size':>8s} {'old µs':>9s} {'new µs':>9s} {'new/old':>8s}  leaked old / new")
    for label, value, old_fn, new_fn in cases:
        pristine = copy.deepcopy(value)
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        t_old = t_new = float("inf")
        for _ in range(args.repeat):  # interleaved, so load on the machine hits both alike
            t_old = min(t_old, best(lambda: old_fn(value), 1, args.number))  # noqa: B023
            t_new = min(t_new, best(lambda: new_fn(value), 1, args.number))  # noqa: B023
        assert value == pristine
        print(
            f"{label:30s} {size:8d} {t_old:9.1f} {t_new:9.1f} {t_new / t_old:8.2f}  "
            f"{leaked(old_fn(value)) or '-'} / {leaked(new_fn(value)) or '-'}"
        )


if __name__ == "__main__":
    main()
