"""`scan_with_rule`: one Semgrep rule the caller writes, checked here before semgrep sees it.

`semgrep --validate` fetches a lint pack from semgrep.dev (measured: it needs the network), so the
rule is validated offline: parsed with the suite's bounded YAML loader, held to an allowlist of keys
(no `mode: join`, whose `refs` read other rule files, no `extract` mode, no `include`d configs, no
internal `r2c-internal-*` keys), to size and count limits, and its regexes to a length and to
shapes without nested quantifiers (the classic catastrophic-backtracking forms such as `(a+)+`).
Semgrep itself then parses it with `--strict` on a one-line file: a rule it rejects is refused
before the tree is scanned, and every scan runs with semgrep's per-file timeout and memory limit.
The rule is written to a private file and passed by path: never a registry id, never fetched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidArgument
from shared.safe_yaml import load_documents

MAX_RULE_BYTES = 16 * 1024
MAX_NODES = 2_000
MAX_DEPTH = 16
MAX_PATTERNS = 64
MAX_REGEX_CHARS = 256
LANGUAGES = frozenset(
    {
        "python",
        "javascript",
        "typescript",
        "go",
        "java",
        "kotlin",
        "ruby",
        "php",
        "c",
        "cpp",
        "csharp",
        "rust",
        "scala",
        "swift",
        "bash",
        "sh",
        "json",
        "yaml",
        "dockerfile",
        "terraform",
        "hcl",
        "html",
        "generic",
        "regex",
    }
)
_RULE_KEYS = frozenset(
    {
        "id",
        "message",
        "severity",
        "languages",
        "metadata",
        "mode",
        "pattern",
        "patterns",
        "pattern-either",
        "pattern-regex",
        "pattern-not-regex",
        "pattern-sources",
        "pattern-sinks",
        "pattern-sanitizers",
        "pattern-propagators",
        "paths",
        "fix",
        "fix-regex",
        "options",
        "focus-metavariable",
        "min-version",
    }
)
_PATTERN_KEYS = frozenset(
    {
        "pattern",
        "patterns",
        "pattern-either",
        "pattern-not",
        "pattern-inside",
        "pattern-not-inside",
        "pattern-regex",
        "pattern-not-regex",
        "metavariable-regex",
        "metavariable-pattern",
        "metavariable-comparison",
        "focus-metavariable",
        "metavariable",
        "regex",
        "language",
        "comparison",
        "by-side-effect",
        "exact",
        "label",
        "requires",
        "from",
        "to",
        "replace-all",
        "base",
        "strip",
        "side-effects",
    }
)
_OPTIONS = frozenset(
    {
        "symbolic_propagation",
        "constant_propagation",
        "taint_assume_safe_functions",
        "taint_assume_safe_indexes",
        "generic_ellipsis_max_span",
        "interfile",
    }
)
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
_SEVERITIES = {"ERROR": "high", "WARNING": "medium", "INFO": "low"}
RULE_ID = re.compile(r"^[A-Za-z][\w.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class CustomRule:
    id: str
    text: str  # the YAML semgrep is given: exactly the caller's rule, re-serialised as JSON
    digest: str
    languages: tuple[str, ...]


def _walk(node: Any, depth: int = 0) -> Iterator[tuple[str, Any, int]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value, depth
            yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)


def _check_regex(text: str, where: str) -> None:
    if len(text) > MAX_REGEX_CHARS:
        raise InvalidArgument(f"{where}: regexes are limited to {MAX_REGEX_CHARS} characters")
    if _NESTED_QUANTIFIER.search(text):
        raise InvalidArgument(
            f"{where}: a quantified group holding a quantifier ({text[:60]!r}) can backtrack "
            "catastrophically: rewrite it without nested repetition"
        )
    try:
        re.compile(text)
    except re.error as exc:
        raise InvalidArgument(f"{where}: not a valid regex: {exc}") from exc


def parse_rule(rule_yaml: str) -> CustomRule:
    """The caller's rule, validated; InvalidArgument says what to change."""
    import json

    if len(rule_yaml.encode("utf-8", "surrogatepass")) > MAX_RULE_BYTES:
        raise InvalidArgument(f"the rule is larger than {MAX_RULE_BYTES} bytes: write one focused rule")
    docs = load_documents(
        rule_yaml, max_bytes=MAX_RULE_BYTES, max_nodes=MAX_NODES, max_depth=MAX_DEPTH, max_documents=1
    )
    data = docs[0] if docs else None
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(rules, list) or len(rules) != 1:
        raise InvalidArgument(
            "give exactly one rule: a YAML document `rules: [ {id, message, severity, "
            "languages, pattern...} ]`"
        )
    rule = rules[0]
    if not isinstance(rule, dict):
        raise InvalidArgument("the rule must be a mapping")
    unknown = sorted(set(map(str, rule)) - _RULE_KEYS)
    if unknown:
        raise InvalidArgument(
            f"rule keys not accepted here: {unknown} (join and extract modes, includes and "
            "internal keys are refused)"
        )
    rid = str(rule.get("id", ""))
    if not RULE_ID.match(rid):
        raise InvalidArgument("the rule id must be a letter then up to 63 letters, digits, '.', '_' or '-'")
    if rule.get("mode", "search") not in ("search", "taint"):
        raise InvalidArgument("mode must be search or taint")
    if str(rule.get("severity")) not in _SEVERITIES or not isinstance(rule.get("message"), str):
        raise InvalidArgument("the rule needs a message and a severity of ERROR, WARNING or INFO")
    languages = rule.get("languages")
    if not isinstance(languages, list) or not languages or not set(map(str, languages)) <= LANGUAGES:
        raise InvalidArgument(f"languages must be a non-empty list from {sorted(LANGUAGES)}")
    options = rule.get("options") or {}
    if not isinstance(options, dict) or not set(options) <= _OPTIONS:
        raise InvalidArgument(f"options accepted: {sorted(_OPTIONS)}")
    patterns = 0
    for key, value, _ in _walk(
        {k: v for k, v in rule.items() if k not in ("metadata", "message", "fix", "paths")}
    ):
        if key.startswith("pattern") or key in ("regex", "metavariable-pattern"):
            patterns += 1
        if key.startswith("r2c-internal") or key in ("include", "join", "refs", "extract", "rules"):
            raise InvalidArgument(f"{key!r} is not accepted in a custom rule")
        if key in ("pattern-regex", "pattern-not-regex", "regex") and isinstance(value, str):
            _check_regex(value, key)
        if key == "metavariable-pattern" and isinstance(value, dict) and value.get("language") == "generic":
            raise InvalidArgument(
                "metavariable-pattern with language: generic re-parses every match as text "
                "(costly on large matches): match the construct directly instead"
            )
        if key.startswith("pattern") and isinstance(value, str) and len(value) > 4096:
            raise InvalidArgument(f"{key}: patterns are limited to 4096 characters")
    if patterns == 0:
        raise InvalidArgument("the rule has no pattern")
    if patterns > MAX_PATTERNS:
        raise InvalidArgument(f"the rule has {patterns} patterns, more than {MAX_PATTERNS}")
    text = json.dumps({"rules": [rule]}, indent=1)  # JSON is YAML: semgrep reads exactly what was checked
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return CustomRule(rid, text, digest, tuple(map(str, languages)))


def severity_of(level: str) -> str:
    return _SEVERITIES.get(level, "medium")
