"""The shipped semgrep rule files: one metadata shape for every language, and every file handed to semgrep."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from servers.security_scan.scanner_specs import RULE_FILES, RULES_DIR, SCANNERS, Invocation
from servers.security_scan.tree_ops import classify

SEVERITIES = {"ERROR", "WARNING", "INFO"}
CATEGORIES = {"injection", "deserialization", "crypto", "network", "filesystem", "auth"}
LANGUAGES = {"python": {"python"}, "javascript": {"javascript", "typescript"}, "go": {"go"}}


def _rules(path: Path) -> list[dict[str, Any]]:
    rules = yaml.safe_load(path.read_text("utf-8"))["rules"]
    assert isinstance(rules, list)
    return rules


def test_python_javascript_and_go_rules_are_shipped() -> None:
    assert {p.stem for p in RULE_FILES} >= {"python", "javascript", "go"}
    assert all(p.parent == RULES_DIR for p in RULE_FILES)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_rule_has_the_metadata_the_normaliser_reads(path: Path) -> None:
    rules = _rules(path)
    assert rules
    for rule in rules:
        rule_id = rule["id"]
        assert re.fullmatch(rf"code\.{path.stem}\.[a-z0-9-]+", rule_id), rule_id
        assert set(rule["languages"]) <= LANGUAGES[path.stem], rule_id
        assert rule["severity"] in SEVERITIES, rule_id
        assert len(rule["message"]) > 20, rule_id
        meta = rule["metadata"]
        assert meta["cwe"] and all(re.fullmatch(r"CWE-\d+", c) for c in meta["cwe"]), rule_id
        assert meta["category"] in CATEGORIES, rule_id
        assert len(meta["fix"]) > 20, rule_id
        assert meta.get("severity", "high") in ("critical", "high", "medium", "low", "info"), rule_id


def test_rule_ids_are_unique_across_files() -> None:
    ids = [rule["id"] for path in RULE_FILES for rule in _rules(path)]
    assert len(ids) == len(set(ids))


def test_semgrep_gets_every_rule_file_and_offline_flags() -> None:
    argv = SCANNERS["semgrep"].argv(Invocation("semgrep", ["/p/a.js", "/p/b.go"], "/p", Path("/cfg")))
    configs = [argv[n + 1] for n, arg in enumerate(argv) if arg == "--config"]
    assert configs == [str(p) for p in RULE_FILES]
    assert {"--metrics=off", "--disable-version-check"} <= set(argv)
    assert "auto" not in configs
    assert argv[-3:] == ["--", "/p/a.js", "/p/b.go"]


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("app.py", "python"),
        ("server.js", "javascript"),
        ("worker.mjs", "javascript"),
        ("config.cjs", "javascript"),
        ("Widget.JSX", "javascript"),
        ("client.ts", "javascript"),
        ("Comment.tsx", "javascript"),
        ("types.d.ts", "javascript"),
        ("main.go", "go"),
    ],
)
def test_source_files_go_to_semgrep(name: str, language: str) -> None:
    kinds = classify(name, b"")
    assert {language, "source"} <= kinds
    assert SCANNERS["semgrep"].kind == "source"


@pytest.mark.parametrize("name", ["package.json", "README.md", "go.mod", "app.pyc", "style.css", "js", ".ts"])
def test_other_files_do_not_go_to_semgrep(name: str) -> None:
    assert "source" not in classify(name, b"")


def _semgrep_output(check_id: str, meta: dict[str, Any], severity: str) -> bytes:
    result = {
        "check_id": check_id,
        "path": "/p/web/server.js",
        "start": {"line": 7},
        "extra": {"message": "m", "severity": severity, "metadata": meta},
    }
    return json.dumps({"results": [result], "errors": []}).encode()


@pytest.mark.parametrize(
    ("check_id", "rule"),
    [
        ("work.main.servers.security_scan.rules.code.go.weak-hash", "code.go.weak-hash"),
        # A checkout under a folder named "code" must not leak into the rule id.
        ("home.dev.code.project.servers.security_scan.rules.code.javascript.open-redirect",
         "code.javascript.open-redirect"),
        ("code.python.eval-exec", "code.python.eval-exec"),
    ],
)  # fmt: skip
def test_semgrep_rule_ids_lose_the_rules_folder_prefix(check_id: str, rule: str) -> None:
    meta = {"cwe": ["CWE-328"], "category": "crypto", "fix": "Use sha256."}
    [raw] = SCANNERS["semgrep"].parse(_semgrep_output(check_id, meta, "WARNING")).findings
    assert (raw.rule_id, raw.severity, raw.category, raw.cwe, raw.fix_hint, raw.line) == (
        rule, "medium", "crypto", ("CWE-328",), "Use sha256.", 7,
    )  # fmt: skip


def test_a_rule_severity_override_wins_over_semgreps_level() -> None:
    meta = {"cwe": ["CWE-78"], "category": "injection", "fix": "f", "severity": "critical"}
    [raw] = (
        SCANNERS["semgrep"]
        .parse(_semgrep_output("x.rules.code.go.exec-shell-non-literal", meta, "INFO"))
        .findings
    )
    assert raw.severity == "critical"
