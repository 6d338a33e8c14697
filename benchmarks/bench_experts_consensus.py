"""Consensus quality on the labelled answer groups: does the grouping find the true camps?

Three sets (see tests/unit/experts/answer_groups.py): `tuned` (short answers; rust_core's
thresholds were chosen on it), `dev` (the held-out style, open to tuning: the frame features were
designed on it and on `tuned`), and `held-out` (46 groups written before the change, never used to
tune, loaded only through `heldout_groups.load_heldout`). Two inputs per set: `text` (the answer
bodies alone: no verdict, no judge) and `text + verdicts` (each answer with its one-line verdict).

For each: mean adjusted Rand index (ARI: 1 = the true groups, 0 = chance), per category, how often
the heaviest cluster is exactly the true majority, and the share of answers placed in the question's
frame. The baseline, measured in the same run, is `rust_core` alone (the consensus before the frame
refinement); `ratio` = mean ARI of the circle / the baseline's. Targets (issue 19): text >= 0.3 on
the held-out set, text + verdicts >= 0.7 on both the tuned and the held-out set.

    python -m benchmarks.bench_experts_consensus          (from the repository root)
"""

from __future__ import annotations

import statistics

from shared.consensus import consensus
from tests.unit.experts.answer_groups import (
    Group,
    answered,
    ari,
    cluster_labels,
    load_dev_groups,
    load_groups,
    score,
)
from tests.unit.experts.heldout_groups import load_heldout

TARGETS = {("held-out", "text"): 0.3, ("held-out", "text + verdicts"): 0.7, ("tuned", "text + verdicts"): 0.7}


def baseline(groups: list[Group], *, keep_verdicts: bool) -> float:
    """Mean ARI of rust_core's consensus alone, as the circle measured it before issue 19."""
    scores = []
    for group in groups:
        ok = answered(group, keep_verdicts=keep_verdicts)
        verdicts = [a.entry.verdict if a.entry.parse_format in ("json", "line") else None for a in ok]
        report = consensus(
            [a.text or "" for a in ok], verdicts=verdicts if any(v is not None for v in verdicts) else None
        )
        found = cluster_labels(len(ok), [c.members for c in report.clusters])
        scores.append(ari(group.labels, found))
    return statistics.mean(scores)


def main() -> None:
    sets = [("tuned", load_groups()), ("dev", load_dev_groups()), ("held-out", load_heldout())]
    print("consensus quality on labelled answer groups (mean adjusted Rand index; 1 = true groups)")
    print(
        f"{'set':>9} {'groups':>6} {'input':>16} {'baseline':>8} {'circle':>7} {'ratio':>6}  target  details"
    )
    for name, groups in sets:
        for keep, label in ((False, "text"), (True, "text + verdicts")):
            base = baseline(groups, keep_verdicts=keep)
            scores = score(groups, keep_verdicts=keep)
            ratio = f"{scores.mean / base:>5.2f}x" if base > 0.005 else "   n/a"
            target = TARGETS.get((name, label))
            verdict = (
                "" if target is None else (f">={target} ok" if scores.mean >= target else f">={target} MISS")
            )
            print(
                f"{name:>9} {len(groups):>6} {label:>16} {base:>8.3f} {scores.mean:>7.3f} {ratio}  "
                f"{verdict:<10} {scores.line()}"
            )


if __name__ == "__main__":
    main()
