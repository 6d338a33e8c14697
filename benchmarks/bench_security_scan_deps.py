"""Dependency audit of a 1,000-package lock file per ecosystem: OSV export index and loopback OSV API.

    PYTHONPATH=. python benchmarks/bench_security_scan_deps.py

Each ecosystem gets a generated lock file of 1,000 packages and 100 synthetic OSV records (one per
tenth package, fixed at 2.0.0 while the lock pins 1.0.0). Figures: the first audit through the
export (index build included), a warm one, and the API path cold (queries and records fetched) and
warm (answered from the cache). Each run also checks it found exactly the 100 planted advisories.
No peer runs offline against the same data here (pip-audit is not installed in the project venv and
`npm audit` needs the registry's bulk advisory endpoint): absolute figures only.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from tests.integration.security_scan.osv_server import build_export, osv_server

N = 1000


def _lock(eco: str, names: list[str]) -> tuple[str, str]:
    if eco == "npm":
        packages = {"": {"name": "b"}} | {f"node_modules/{n}": {"version": "1.0.0"} for n in names}
        return "package-lock.json", json.dumps({"lockfileVersion": 3, "packages": packages})
    if eco == "PyPI":
        return "requirements.txt", "".join(f"{n}==1.0.0 \\\n    --hash=sha256:{'a' * 64}\n" for n in names)
    if eco == "crates.io":
        return "Cargo.lock", "".join(
            f'[[package]]\nname = "{n}"\nversion = "1.0.0"\nsource = "registry+x"\n\n' for n in names
        )
    if eco == "Go":
        return "go.mod", "module b\n\nrequire (\n" + "".join(f"\t{n} v1.0.0\n" for n in names) + ")\n"
    if eco == "Maven":
        return "gradle.lockfile", "".join(f"{n}:1.0.0=runtimeClasspath\n" for n in names)
    if eco == "RubyGems":
        return "Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n  specs:\n" + "".join(
            f"    {n} (1.0.0)\n" for n in names
        )
    return "composer.lock", json.dumps({"packages": [{"name": n, "version": "1.0.0"} for n in names]})


def _names(eco: str) -> list[str]:
    return {
        "Go": [f"example.com/m{i}" for i in range(N)],
        "Maven": [f"org.example:a{i}" for i in range(N)],
        "Packagist": [f"vendor/p{i}" for i in range(N)],
    }.get(eco, [f"pkg{i}" for i in range(N)])


def _records(eco: str, names: list[str]) -> dict[str, dict[str, Any]]:
    kind = "SEMVER" if eco in ("Go", "npm", "crates.io") else "ECOSYSTEM"
    return {
        f"BENCH-{eco}-{i}": {
            "id": f"BENCH-{eco}-{i}",
            "modified": "2026-01-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": eco, "name": n},
                    "ranges": [{"type": kind, "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}],
                }
            ],
        }
        for i, n in enumerate(names)
        if i % 10 == 0
    }


async def main() -> None:
    print(f"{'ecosystem':<10} {'export cold':>12} {'export warm':>12} {'api cold':>10} {'api warm':>10}")
    for eco in ("PyPI", "npm", "Go", "crates.io", "Maven", "RubyGems", "Packagist"):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            names = _names(eco)
            (root / "p").mkdir()
            name, text = _lock(eco, names)
            (root / "p" / name).write_text(text)
            records = _records(eco, names)
            export = ScanEngine(
                SecurityScanSettings(cache_dir=root / "c1", osv_export_dir=build_export(root / "x", records))
            )
            times = []
            for engine in (export, export):
                start = time.perf_counter()
                report = await engine.dependencies(root / "p")
                times.append(time.perf_counter() - start)
                assert len(report.advisories) == len(records), (eco, len(report.advisories))
            async with osv_server(records) as osv:
                api = ScanEngine(SecurityScanSettings(cache_dir=root / "c2", osv_url=osv.url))  # type: ignore[arg-type]
                for _ in range(2):
                    start = time.perf_counter()
                    report = await api.dependencies(root / "p")
                    times.append(time.perf_counter() - start)
                    assert len(report.advisories) == len(records)
            print(
                f"{eco:<10} "
                + " ".join(f"{t:>10.2f} s" if i < 2 else f"{t:>8.2f} s" for i, t in enumerate(times))
            )


if __name__ == "__main__":
    anyio.run(main)
