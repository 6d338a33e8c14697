"""Normalised findings: fingerprints that survive line shifts, redacted snippets."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.security_scan.findings_ops import normalise, redact
from servers.security_scan.scanner_specs import RawFinding


def _raw(path: str, line: int, rule: str = "B602", **kw: object) -> RawFinding:
    base: dict[str, object] = {"severity": "high", "category": "injection", "message": "m"}
    base.update(kw)
    return RawFinding(path=path, rule_id=rule, line=line, **base)  # type: ignore[arg-type]


def _files(root: Path, *names: str) -> dict[str, tuple[Path, str]]:
    return {str(root / n): (root / n, n) for n in names}


def test_fingerprint_survives_lines_inserted_above(tmp_path: Path) -> None:
    src = tmp_path / "app.py"
    src.write_text("import os\nos.system(cmd)\n")
    before = normalise("bandit", [_raw(str(src), 2)], _files(tmp_path, "app.py"))
    src.write_text("import os\n\n# a comment\n\nos.system(cmd)\n")
    after = normalise("bandit", [_raw(str(src), 5)], _files(tmp_path, "app.py"))
    assert before[0].id == after[0].id
    assert (before[0].line, after[0].line) == (2, 5)


def test_fingerprint_differs_by_rule_file_and_code(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x(1)\nx(2)\n")
    (tmp_path / "b.py").write_text("x(1)\n")
    files = _files(tmp_path, "a.py", "b.py")
    ids = {
        normalise("bandit", [_raw(str(tmp_path / "a.py"), 1)], files)[0].id,
        normalise("bandit", [_raw(str(tmp_path / "a.py"), 2)], files)[0].id,
        normalise("bandit", [_raw(str(tmp_path / "b.py"), 1)], files)[0].id,
        normalise("bandit", [_raw(str(tmp_path / "a.py"), 1, rule="B307")], files)[0].id,
    }
    assert len(ids) == 4


def test_identical_lines_get_distinct_stable_ids(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("eval(x)\neval(x)\n")
    found = normalise("bandit", [_raw(str(tmp_path / "a.py"), 2), _raw(str(tmp_path / "a.py"), 1)],
                      _files(tmp_path, "a.py"))  # fmt: skip
    assert [f.line for f in found] == [1, 2]
    assert found[0].id != found[1].id


def test_locate_moves_a_resource_finding_to_the_offending_line(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text("kind: Pod\nspec:\n  hostNetwork: true\n")
    raw = _raw(str(tmp_path / "pod.yaml"), 1, rule="CKV_K8S_19", end_line=3, locate=r"hostNetwork:\s*true")
    assert normalise("checkov", [raw], _files(tmp_path, "pod.yaml"))[0].line == 3


def test_unknown_files_and_severities_are_handled(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x\n")
    found = normalise("bandit", [_raw("/elsewhere.py", 1), _raw(str(tmp_path / "a.py"), 9, severity="bogus")],
                      _files(tmp_path, "a.py"))  # fmt: skip
    assert len(found) == 1
    assert (found[0].severity, found[0].snippet) == ("low", "")


# Sample secrets are assembled at run time so that this file holds none in plain text.
AWS_SAMPLE = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB_SAMPLE = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123"
PEM_HEADER = "-----BEGIN RSA " + "PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f'AWS_ACCESS_KEY_ID = "{AWS_SAMPLE}"', AWS_SAMPLE),
        ("password = hunter2hunter2", "hunter2hunter2"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        (f"token: {GITHUB_SAMPLE}", GITHUB_SAMPLE),
        (f"{PEM_HEADER}MIIEowIBAAKCAQEA", "MIIEowIBAAKCAQEA"),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "REDACTED" in redact(text)


def test_a_secret_line_is_masked_entirely(tmp_path: Path) -> None:
    (tmp_path / "c.py").write_text('db = connect(dsn="postgres://u:' + 'Zx9q2Wv8Lp4t@h/db")\n')
    raw = _raw(str(tmp_path / "c.py"), 1, rule="Basic Auth Credentials", category="secrets", context="hash")
    finding = normalise("detect-secrets", [raw], _files(tmp_path, "c.py"))[0]
    assert "Zx9q2Wv8Lp4t" not in finding.snippet
    assert finding.snippet.startswith("db = connect(dsn=")
