"""The pure half of `shared/`: what validation, redaction, paging and the audit log cost per call.

    python -m benchmarks.bench_shared_core [--lines 400]

Each figure is printed next to a baseline measured in the same run: `urlsplit` for the URL check,
`str.lower` for redaction, slicing for paging, and a plain append + flush (+ fsync) of the same
line for the audit log. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from shared.audit import AuditLog, canonical_json
from shared.identity import Identity
from shared.output import OutputBudget
from shared.paging import paginate
from shared.policy import Policy
from shared.policy_settings import PolicySettings
from shared.redaction import redact_data, redact_text
from shared.validation import image_ref, k8s_name

WHO = Identity("bench", "viewer", "local")
ARGS = {"name": "web", "namespace": "default", "replicas": 3, "image": "nginx:1.27"}


def per_call_us(func: Callable[[], object], number: int = 2000) -> float:
    return min(timeit.repeat(func, number=number, repeat=5)) / number * 1e6


def row(name: str, value: float, baseline: float, unit: str = "µs") -> None:
    ratio = value / baseline
    print(f"{name:<44} {value:10.1f} {unit:<8} baseline {baseline:10.1f} {unit:<8} ratio {ratio:6.1f}x")


def micro() -> None:
    policy = Policy(PolicySettings(url_allowlist=["http://127.0.0.1:9090", "https://*"]))
    url = "http://127.0.0.1:9090/api/v1/query?query=up"
    split = getattr(urlsplit, "__wrapped__", urlsplit)  # urlsplit caches its results
    row("Policy.check_url", per_call_us(lambda: policy.check_url(url)), per_call_us(lambda: split(url)))
    name = "web-frontend-7d4f"
    row("k8s_name", per_call_us(lambda: k8s_name(name)), per_call_us(lambda: name.isascii()))
    image = "registry.example.com:5000/team/app:v1.2"
    row("image_ref", per_call_us(lambda: image_ref(image)), per_call_us(lambda: image.isascii()))
    clean = "deployment web in namespace default has 3 ready replicas\n" * 20
    row(
        "redact (1 KiB, nothing to redact)", per_call_us(lambda: redact_text(clean)), per_call_us(clean.lower)
    )
    dirty = clean + "Authorization: Bearer abcdefghijklmnopqrstuvwxyz password=hunter2\n"
    row("redact (1 KiB, two secrets)", per_call_us(lambda: redact_text(dirty)), per_call_us(dirty.lower))
    row("redact_data (4 arguments)", per_call_us(lambda: redact_data(ARGS)), per_call_us(lambda: dict(ARGS)))
    items = [{"name": f"pod-{i}", "phase": "Running"} for i in range(1000)]
    budget = OutputBudget()
    row(
        "paginate (1000 items, page of 50)",
        per_call_us(lambda: paginate(items, budget=budget), 200),
        per_call_us(lambda: items[:50], 200),
    )


def plain_writes(path: Path, lines: int, fsync: bool) -> float:
    """Baseline: the same line appended, flushed (and fsynced) without a chain or a thread."""
    line = (canonical_json({"args": ARGS, "identity": "bench", "outcome": "ok"}) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    started = time.perf_counter()
    for _ in range(lines):
        os.write(fd, line)
        if fsync:
            os.fsync(fd)
    elapsed = time.perf_counter() - started
    os.close(fd)
    return lines / elapsed


async def audit_rate(path: Path, lines: int, clients: int, fsync: bool) -> float:
    async with AuditLog(path, fsync=fsync) as log:

        async def client(count: int) -> None:
            for _ in range(count):
                await log.append(
                    identity=WHO, server="s", tool="t", arguments=ARGS, outcome="ok", latency_s=0.001
                )

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(client, lines // clients)
        return (lines // clients * clients) / (time.perf_counter() - started)


async def record_cost(path: Path, lines: int) -> float:
    async with AuditLog(path, fsync=False) as log:
        started = time.perf_counter()
        for _ in range(lines):
            log.record(identity=WHO, server="s", tool="t", arguments=ARGS, outcome="ok", latency_s=0.001)
        return (time.perf_counter() - started) / lines * 1e6


async def audit(lines: int) -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        for fsync in (True, False):
            baseline = plain_writes(folder / f"plain-{fsync}.jsonl", lines, fsync)
            for clients in (1, 20):
                rate = await audit_rate(folder / f"audit-{fsync}-{clients}.jsonl", lines, clients, fsync)
                name = f"audit append, fsync={'on' if fsync else 'off'}, {clients} caller(s)"
                row(name, rate, baseline, "lines/s")
        cost = await record_cost(folder / "record.jsonl", lines)
        row("audit record() on the loop (queue one line)", cost, per_call_us(lambda: canonical_json(ARGS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400, help="audit lines per measurement")
    args = parser.parse_args()
    calibration = per_call_us(lambda: sum(range(1000)))
    print(f"calibration: sum(range(1000)) = {calibration:.1f} µs (≈ 10 µs on an idle core)")
    micro()
    anyio.run(audit, args.lines)


if __name__ == "__main__":
    main()
