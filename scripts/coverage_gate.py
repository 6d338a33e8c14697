"""Fail when coverage is below 85% overall or below 95% for auth, policy and validation."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OVERALL = 0.85
STRICT = {"shared/auth.py": 0.95, "shared/policy.py": 0.95, "shared/validation.py": 0.95}


def main(path: str) -> int:
    root = ET.parse(Path(path)).getroot()  # noqa: S314
    failures: list[str] = []
    overall = float(root.get("line-rate", "0"))
    sys.stderr.write(f"coverage overall: {overall:.1%} (gate {OVERALL:.0%})\n")
    if overall < OVERALL:
        failures.append(f"overall coverage {overall:.1%} < {OVERALL:.0%}")
    rates = {cls.get("filename", ""): float(cls.get("line-rate", "0")) for cls in root.iter("class")}
    for name, gate in STRICT.items():
        rate = rates.get(name)
        if rate is None:
            failures.append(f"{name}: not measured")
            continue
        sys.stderr.write(f"coverage {name}: {rate:.1%} (gate {gate:.0%})\n")
        if rate < gate:
            failures.append(f"{name} coverage {rate:.1%} < {gate:.0%}")
    for failure in failures:
        sys.stderr.write(f"FAIL: {failure}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "coverage.xml"))
