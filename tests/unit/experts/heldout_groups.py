"""The HELD-OUT labelled answer groups: evaluation only, never tuning.

`tests/fixtures/answer_groups_heldout.json` was written (and its sha256 recorded below) before any
consensus change it evaluates. `load_heldout()` refuses a file that was edited since, and refuses
every caller but the evaluation code in `EVALUATORS`; `test_heldout_consensus.py` also fails when any
other file of the repository names the file or this module. To tune, use the tuned or the dev set.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Final

from tests.unit.experts.answer_groups import FIXTURES, Group, groups_of

HELDOUT: Final = FIXTURES / "answer_groups_heldout.json"
SHA256: Final = "c4f734280b02b1ec0128b138643a7db6e1f4cd49fefdcbbc901c6679939d0965"
REPO: Final = Path(__file__).resolve().parents[3]
#: The only files allowed to load the held-out set (or to name it).
EVALUATORS: Final = frozenset(
    {
        "tests/unit/experts/heldout_groups.py",
        "tests/unit/experts/test_heldout_consensus.py",
        "benchmarks/bench_experts_consensus.py",
    }
)


class NotForTuning(PermissionError):
    """The held-out set was asked for by code that is not evaluation code."""


def _caller_file(depth: int = 2) -> str:
    path = Path(sys._getframe(depth).f_code.co_filename).resolve()
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def load_heldout() -> list[Group]:
    """The held-out groups, for the evaluators only, and only as written."""
    caller = _caller_file()
    if caller not in EVALUATORS:
        raise NotForTuning(
            f"{caller} may not load the held-out answer groups: they are kept out of all tuning. "
            "Tune on tests/fixtures/answer_groups.json or answer_groups_dev.json."
        )
    raw = HELDOUT.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise ValueError(f"{HELDOUT.name} was edited (sha256 {digest[:12]}…): the held-out set is frozen")
    return groups_of(json.loads(raw))
