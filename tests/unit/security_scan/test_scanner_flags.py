"""Every scanner's command line turns off the project's configuration and inline suppressions, and
every parser keeps what a scanner reports about files it could not check."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from servers.security_scan.scanner_specs import (
    NEUTRAL_CONFIGS,
    SCANNERS,
    FileError,
    Invocation,
    neutralise_shellcheck_directives,
)

RUN = Invocation("/bin/scanner", ["/stage/0/a", "/stage/1/b"], "/stage", Path("/cfg"))


@pytest.mark.parametrize(
    ("scanner", "required"),
    [
        ("bandit", ["--ignore-nosec", "--ini", "/cfg/bandit.ini"]),
        ("semgrep", ["--disable-nosem", "--no-git-ignore", "--max-target-bytes=0"]),
        (
            "detect-secrets",
            ["--no-verify", "--disable-filter", "detect_secrets.filters.allowlist.is_line_allowlisted"],
        ),
        ("hadolint", ["--disable-ignore-pragma", "--config", "/cfg/hadolint.yaml"]),
        ("shellcheck", ["--norc"]),
    ],
)
def test_each_command_line_turns_project_controls_off(scanner: str, required: list[str]) -> None:
    argv = SCANNERS[scanner].argv(RUN)
    for arg in required:
        assert arg in argv, (scanner, arg)
    for flag, value in itertools.pairwise(required):  # a flag and its value stay together
        if flag.startswith("--") and not value.startswith("--"):
            assert argv[argv.index(flag) + 1] == value
    assert argv[-2:] == RUN.files


def test_checkov_keeps_skipped_checks_in_its_output() -> None:
    argv = SCANNERS["checkov"].argv(RUN)
    assert "--quiet" not in argv  # --quiet drops skipped_checks, where inline skips show up
    assert [argv[n + 1] for n, a in enumerate(argv) if a == "--file"] == RUN.files


def test_the_neutral_config_files_configure_nothing() -> None:
    assert NEUTRAL_CONFIGS == {"bandit.ini": "[bandit]\n", "hadolint.yaml": "{}\n"}


@pytest.mark.parametrize(
    "line",
    [
        b"# shellcheck disable=SC2086",
        b"#shellcheck disable=all",
        b"  #\tshellcheck   disable=SC2086 shell=sh",
        "#\u2003shellcheck disable=SC2086".encode(),
        b"echo ok # shellcheck disable=SC2086",
        b"# shellcheck source=/etc/passwd",
    ],
)
def test_shellcheck_directives_are_made_inert_keeping_lengths(line: bytes) -> None:
    out = neutralise_shellcheck_directives(b"#!/bin/sh\n" + line + b"\nrm -rf $1/x\n")
    assert b"shellcheck" not in out
    assert [len(x) for x in out.split(b"\n")] == [
        len(x) for x in (b"#!/bin/sh\n" + line + b"\nrm -rf $1/x\n").split(b"\n")
    ]


def test_other_text_and_bytes_are_left_alone() -> None:
    data = b"\xff\xfe not utf-8 # ShellCheck is a tool\necho shellcheck\n"
    assert neutralise_shellcheck_directives(data) == data


def _checkov(results: dict[str, object], check_type: str = "kubernetes") -> bytes:
    return json.dumps([{"check_type": check_type, "results": results}]).encode()


def _check(check_id: str, result: dict[str, object]) -> dict[str, object]:
    where = {"file_abs_path": "/stage/0/pod.yaml", "file_line_range": [1, 9], "resource": "Pod.default.web"}
    return {"check_id": check_id, "check_name": "n", "check_result": result, **where}


def test_checks_a_manifest_skipped_itself_count_as_failed() -> None:
    out = SCANNERS["checkov"].parse(
        _checkov(
            {
                "failed_checks": [_check("CKV_K8S_16", {"result": "FAILED"})],
                "skipped_checks": [_check("CKV_K8S_19", {"result": "SKIPPED", "suppress_comment": "fine"})],
                "passed_checks": [_check("CKV_K8S_1", {"result": "PASSED"})],
                "parsing_errors": ["/stage/1/broken.yaml"],
            }
        )
    )
    assert sorted(r.rule_id for r in out.findings) == ["CKV_K8S_16", "CKV_K8S_19"]
    assert out.errors == [FileError("/stage/1/broken.yaml", "checkov could not parse it")]


def test_semgrep_errors_and_results_come_out_together() -> None:
    document = {
        "results": [
            {"check_id": "x.code.python.eval-exec", "path": "/stage/0/a.py", "start": {"line": 3},
             "extra": {"severity": "ERROR", "message": "eval", "metadata": {"category": "injection"}}},
        ],
        "errors": [
            {"code": 2, "level": "error", "type": "SemgrepError",
             "message": "Invalid scanning root: /stage/9/x.py"},
            {"code": 3, "level": "warn", "type": "Timeout", "message": "Timeout on b.py",
             "path": "/stage/1/b.py"},
        ],
        "paths": {"scanned": ["/stage/0/a.py", "/stage/1/b.py"]},
    }  # fmt: skip
    out = SCANNERS["semgrep"].parse(json.dumps(document).encode())
    assert [(r.rule_id, r.line) for r in out.findings] == [("code.python.eval-exec", 3)]
    assert out.errors == [
        FileError(None, "SemgrepError: Invalid scanning root: /stage/9/x.py"),
        FileError("/stage/1/b.py", "Timeout: Timeout on b.py"),
    ]
    assert out.scanned == {"/stage/0/a.py", "/stage/1/b.py"}


def test_bandit_reports_the_files_it_could_not_parse() -> None:
    document = {
        "results": [],
        "errors": [{"filename": "/stage/0/a.py", "reason": "syntax error while parsing AST"}],
    }
    out = SCANNERS["bandit"].parse(json.dumps(document).encode())
    assert out.errors == [FileError("/stage/0/a.py", "syntax error while parsing AST")]
