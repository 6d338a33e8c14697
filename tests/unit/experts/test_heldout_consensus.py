"""The held-out labelled answer groups: frozen, loadable only by evaluation code, and scored.

The figures are regression floors just under what was measured (see docs/readme/experts.md); the
issue's targets (text >= 0.3, text + verdicts >= 0.7) are NOT met on this set, and the benchmark
says so.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from tests.unit.experts import heldout_groups
from tests.unit.experts.answer_groups import score
from tests.unit.experts.heldout_groups import EVALUATORS, REPO, NotForTuning, load_heldout

SEARCHED = ("servers", "shared", "rust_core", "tests", "benchmarks", "scripts", ".ci")


def test_the_set_is_large_enough_and_in_its_own_style() -> None:
    groups = load_heldout()
    assert len(groups) >= 40
    words = [len(a["text"].split()) for g in groups for a in g.answers]
    assert sum(words) / len(words) > 25  # the tuned set's answers average 12 words


def test_any_other_caller_is_refused(tmp_path: Path) -> None:
    tuner = tmp_path / "tune_thresholds.py"
    tuner.write_text("from tests.unit.experts.heldout_groups import load_heldout\nGROUPS = load_heldout()\n")
    with pytest.raises(NotForTuning, match="kept out of all tuning"):
        runpy.run_path(str(tuner), run_name="tune_thresholds")  # a stand-in for a tuning script


def test_an_edited_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    edited = tmp_path / "answer_groups_heldout.json"
    edited.write_bytes(heldout_groups.HELDOUT.read_bytes().replace(b'"label": "B"', b'"label": "A"', 1))
    monkeypatch.setattr(heldout_groups, "HELDOUT", edited)
    with pytest.raises(ValueError, match="was edited"):
        load_heldout()


def test_no_other_file_names_the_heldout_set() -> None:
    pattern = re.compile(r"answer_groups_heldout|heldout_groups|load_heldout")
    naming = sorted(
        path.relative_to(REPO).as_posix()
        for top in SEARCHED
        if (REPO / top).exists()
        for path in (REPO / top).rglob("*")
        if path.is_file()
        and (path.suffix in (".py", ".sh", ".toml", ".cfg", ".ini") or path.parent.name == ".ci")
        and not {"__pycache__", "target", "node_modules"} & set(path.parts)
        and pattern.search(path.read_text(errors="replace"))
    )
    assert set(naming) <= EVALUATORS, set(naming) - EVALUATORS


def test_heldout_scores_stay_at_their_measured_level() -> None:
    groups = load_heldout()
    # Measured once the design was frozen: 0.566 with verdicts, 0.022 on wording (rust_core alone:
    # 0.343 / -0.012). Floors, not targets: both targets of issue 19 are missed on this set.
    assert score(groups, keep_verdicts=True).mean >= 0.53
    assert score(groups, keep_verdicts=False).mean >= -0.02
