"""Fail when coverage is below 85% overall or below 95% for auth, policy and validation.

Reads the JSON report that `pytest --cov-report=json` writes (line and branch coverage together).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OVERALL = 85.0
STRICT = {"shared/auth.py": 95.0, "shared/policy.py": 95.0, "shared/validation.py": 95.0}


def main(path: str) -> int:
    report = json.loads(Path(path).read_text())
    failures: list[str] = []
    overall = float(report["totals"]["percent_covered"])
    sys.stderr.write(f"coverage overall: {overall:.1f}% (gate {OVERALL:.0f}%)\n")
    if overall < OVERALL:
        failures.append(f"overall coverage {overall:.1f}% < {OVERALL:.0f}%")
    files = {name.replace("\\", "/"): data for name, data in report["files"].items()}
    for name, gate in STRICT.items():
        if name not in files:
            failures.append(f"{name}: not measured")
            continue
        rate = float(files[name]["summary"]["percent_covered"])
        sys.stderr.write(f"coverage {name}: {rate:.1f}% (gate {gate:.0f}%)\n")
        if rate < gate:
            failures.append(f"{name} coverage {rate:.1f}% < {gate:.0f}%")
    for failure in failures:
        sys.stderr.write(f"FAIL: {failure}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "coverage.json"))
