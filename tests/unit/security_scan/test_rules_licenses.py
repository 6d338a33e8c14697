"""Custom-rule validation and the licence policy."""

from __future__ import annotations

import pytest

from servers.security_scan.custom_rule_ops import parse_rule
from servers.security_scan.license_ops import LicensePolicy, normalise
from shared.errors import InvalidArgument

RULE = """rules:
- id: no-eval
  languages: [python]
  severity: ERROR
  message: eval
  pattern: eval($X)
"""


def test_a_plain_rule_is_accepted() -> None:
    rule = parse_rule(RULE)
    assert rule.id == "no-eval" and rule.languages == ("python",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (RULE + "  mode: join\n", "mode"),
        (RULE.replace("pattern: eval($X)", "pattern-regex: (a+)+$"), "backtrack"),
        (RULE.replace("pattern: eval($X)", "pattern-regex: " + "a" * 300), "256 characters"),
        (
            RULE.replace(
                "pattern: eval($X)",
                "patterns:\n  - pattern: f($X)\n  - metavariable-pattern:\n      "
                "metavariable: $X\n      language: generic\n      pattern: x",
            ),
            "generic",
        ),
        (
            RULE + "- id: second\n  languages: [python]\n  severity: ERROR\n  message: m\n  pattern: f()\n",
            "exactly one",
        ),
        (RULE.replace("[python]", "[cobol]"), "languages"),
        (RULE + "  r2c-internal-project-depends-on: {}\n", "not accepted"),
        (RULE.replace("pattern: eval($X)", "message2: x"), "not accepted"),
        ("a: &a [*a]", "alias"),
        ("rules: [" + "x, " * 20_000 + "]", "bytes"),
    ],
)
def test_hostile_rules_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_rule(text)
    assert message.lower() in str(info.value).lower()


def test_licence_policy() -> None:
    policy = LicensePolicy(frozenset({"MIT", "Apache-2.0"}), frozenset({"GPL-3.0-only"}))
    judged = {
        e: policy.judge(normalise(e))
        for e in ("MIT", "MIT OR GPL-3.0-only", "MIT AND GPL-3.0-only", "BSD-3-Clause", "Apache 2.0")
    }
    assert judged == {
        "MIT": "allowed",
        "MIT OR GPL-3.0-only": "allowed",
        "MIT AND GPL-3.0-only": "denied",
        "BSD-3-Clause": "not_allowed",
        "Apache 2.0": "unknown",
    }
    assert LicensePolicy(frozenset(), frozenset()).judge("MIT") == "no_policy"
    assert normalise("x" * 600) is None
