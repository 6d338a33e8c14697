"""Suppressions: the operator's file always applies, a project's own only in a trusted tree, and no
entry may hide everything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.security_scan.findings_ops import normalise
from servers.security_scan.models import Finding
from servers.security_scan.scanner_specs import RawFinding
from servers.security_scan.suppression_ops import (
    Suppression,
    SuppressionPlan,
    apply_suppressions,
    is_trusted,
    matches_every_path,
    parse_suppressions,
    plan,
)

NAME = ".security-scan.toml"
FIXTURE_ENTRY = '[[suppress]]\nrule = "*"\npath = "tests/fixtures/*"\nreason = "planted issues"\n'
PATHS = ["app.py", "tests/fixtures/bad.py", "scripts/deploy.sh"]


def _plan(root: Path, *, trusted: list[Path] | None = None, operator: Path | None = None) -> SuppressionPlan:
    return plan(root, PATHS, file_name=NAME, trusted_roots=trusted or [], operator_file=operator)


def test_entries_need_a_reason_a_target_and_a_path_for_any_rule() -> None:
    text = """
[[suppress]]
rule = "B602"
reason = "commands are constants"

[[suppress]]
rule = "B307"

[[suppress]]
reason = "neither rule nor fingerprint"

[[suppress]]
rule = "*"
reason = "everything everywhere"

[[suppress]]
rule = "*"
path = "tests/fixtures/*"
reason = "planted issues"

[[suppress]]
fingerprint = "abc123"
reason = "reviewed"
"""
    rules, errors, count = parse_suppressions(text, NAME)
    assert [(r.rule, r.fingerprint, r.path) for r in rules] == [
        ("B602", None, None),
        ("*", None, "tests/fixtures/*"),
        (None, "abc123", None),
    ]
    assert count == 6
    assert errors == [
        f"{NAME} entry 2: a reason is required; entry ignored",
        f"{NAME} entry 3: give a rule or a fingerprint; entry ignored",
        f"{NAME} entry 4: rule '*' needs a path glob; entry ignored",
    ]


@pytest.mark.parametrize("content", ["not toml [[[", "suppress = 3"])
def test_broken_suppression_files_are_reported(content: str) -> None:
    rules, errors, _ = parse_suppressions(content, NAME)
    assert rules == []
    assert errors


@pytest.mark.parametrize("glob", ["*", "**", "?*", "[!/]*", "*?"])
def test_globs_that_match_every_path_are_recognised(glob: str) -> None:
    assert matches_every_path(glob)


@pytest.mark.parametrize("glob", ["tests/*", "*.py", "*/*", "vendor/**", "app.py"])
def test_narrower_globs_are_not(glob: str) -> None:
    assert not matches_every_path(glob)


@pytest.mark.parametrize("glob", ["*", "**", "?*", "[!/]*"])
def test_a_wildcard_everything_entry_is_refused(glob: str) -> None:
    rules, errors, _ = parse_suppressions(
        f'[[suppress]]\nrule = "*"\npath = "{glob}"\nreason = "quiet"\n', NAME
    )
    assert rules == []
    assert "would hide every finding" in errors[0]


def test_a_project_file_in_an_untrusted_tree_is_read_counted_and_not_applied(tmp_path: Path) -> None:
    """The hostile review's first attack: `rule="*" path="*"` silenced 74 findings."""
    (tmp_path / NAME).write_text(FIXTURE_ENTRY + '[[suppress]]\nrule = "*"\npath = "*"\nreason = "x"\n')
    result = _plan(tmp_path)
    assert result.rules == []
    assert (result.trusted, result.ignored) == (False, 2)
    assert result.note == (
        f"the project's {NAME} was not applied: this tree is not in [security_scan] trusted_roots "
        "(2 entries ignored)"
    )


def test_a_trusted_tree_applies_its_file_but_never_a_wildcard_everything(tmp_path: Path) -> None:
    (tmp_path / NAME).write_text(FIXTURE_ENTRY + '[[suppress]]\nrule = "*"\npath = "*"\nreason = "x"\n')
    result = _plan(tmp_path / ".", trusted=[tmp_path.parent])
    assert result.trusted
    assert [r.path for r in result.rules] == ["tests/fixtures/*"]
    assert result.ignored == 0 and result.note is None
    assert len(result.errors) == 1 and "would hide every finding" in result.errors[0]


def test_any_rule_entries_that_together_cover_the_whole_tree_are_refused(tmp_path: Path) -> None:
    (tmp_path / NAME).write_text(
        '[[suppress]]\nrule = "*"\npath = "[a-m]*"\nreason = "first half"\n'
        '[[suppress]]\nrule = "*"\npath = "[!a-m]*"\nreason = "second half"\n'
        '[[suppress]]\nrule = "B602"\npath = "*"\nreason = "one rule everywhere is fine"\n'
    )
    result = _plan(tmp_path, trusted=[tmp_path])
    assert [r.rule for r in result.rules] == ["B602"]
    assert "together cover every scanned file" in result.errors[0]


def test_trust_is_decided_on_resolved_paths(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert is_trusted(real / "sub", [tmp_path / "alias"])
    assert is_trusted(tmp_path / "alias" / "sub", [real])
    assert not is_trusted(tmp_path, [real])  # a parent of a trusted root is not trusted
    assert not is_trusted(tmp_path / "realx", [real])  # a name prefix is not containment
    assert not is_trusted(real, [])


def test_the_operator_file_applies_to_every_tree_and_is_checked_too(tmp_path: Path) -> None:
    operator = tmp_path / "operator.toml"
    operator.write_text(
        '[[suppress]]\nrule = "SC2086"\npath = "scripts/*"\nreason = "reviewed by ops"\n'
        '[[suppress]]\nrule = "*"\npath = "**"\nreason = "oops"\n'
    )
    project = tmp_path / "project"
    project.mkdir()
    result = _plan(project, operator=operator)
    assert [r.rule for r in result.rules] == ["SC2086"]
    assert result.errors[0].startswith(f"operator suppressions {operator} entry 2")
    missing = _plan(project, operator=tmp_path / "absent.toml")
    assert "cannot be read" in missing.errors[0]


def test_a_project_file_that_is_a_symlink_or_a_fifo_is_not_read(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(FIXTURE_ENTRY)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / NAME).symlink_to(elsewhere)
    result = _plan(linked, trusted=[tmp_path])
    assert result.rules == [] and "not a regular file" in result.errors[0]
    piped = tmp_path / "piped"
    piped.mkdir()
    os.mkfifo(piped / NAME)
    result = _plan(piped, trusted=[tmp_path])  # must not block on the FIFO
    assert result.rules == [] and "not a regular file" in result.errors[0]


def test_no_project_file_is_fine(tmp_path: Path) -> None:
    result = _plan(tmp_path)
    assert (result.rules, result.errors, result.ignored, result.note) == ([], [], 0, None)


def _raw(path: str, line: int, rule: str) -> RawFinding:
    return RawFinding(path=path, rule_id=rule, line=line, severity="high", category="injection", message="m")


def test_suppressed_findings_are_kept_and_marked(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("eval(x)\nos.system(y)\n")
    (tmp_path / "b.py").write_text("eval(x)\n")
    files = {str(tmp_path / n): (tmp_path / n, n) for n in ("a.py", "b.py")}
    raws = [_raw(str(tmp_path / "a.py"), 1, "B307"), _raw(str(tmp_path / "a.py"), 2, "B602"),
            _raw(str(tmp_path / "b.py"), 1, "B307")]  # fmt: skip
    found: list[Finding] = normalise("bandit", raws, files)
    by_fp = Suppression(reason="reviewed", fingerprint=found[1].id)
    by_rule_path = Suppression(reason="legacy", rule="B307", path="b.*")
    out = apply_suppressions(found, [by_fp, by_rule_path])
    assert [(f.path, f.rule_id, f.suppressed, f.suppression_reason) for f in out] == [
        ("a.py", "B307", False, None),
        ("a.py", "B602", True, "reviewed"),
        ("b.py", "B307", True, "legacy"),
    ]
