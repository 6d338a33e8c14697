"""hadolint's and shellcheck's JSON (recorded from the real programs) as raw findings."""

from __future__ import annotations

from servers.security_scan.scanner_specs import SCANNERS, RawFinding

# `hadolint --format json --no-fail -- Dockerfile` (hadolint 2.12) on a four-line Dockerfile.
HADOLINT_OUT = (
    b'[{"code":"DL3007","column":1,"file":"Dockerfile","level":"warning","line":1,'
    b'"message":"Using latest is prone to errors if the image will ever update. Pin the version explicitly '
    b'to a release tag"},'
    b'{"code":"SC2086","column":1,"file":"Dockerfile","level":"info","line":2,'
    b'"message":"Double quote to prevent globbing and word splitting."},'
    b'{"code":"DL3003","column":1,"file":"Dockerfile","level":"warning","line":2,'
    b'"message":"Use WORKDIR to switch to a directory"}]'
)

# `shellcheck --format json1 -- a.sh` on a three-line script (fix data trimmed).
SHELLCHECK_OUT = (
    b'{"comments":[{"file":"a.sh","line":2,"endLine":2,"column":8,"endColumn":14,"level":"warning",'
    b'"code":2115,"message":"Use \\"${var:?}\\" to ensure this never expands to /* .","fix":null},'
    b'{"file":"a.sh","line":3,"endLine":3,"column":6,"endColumn":12,"level":"style","code":2006,'
    b'"message":"Use $(...) notation instead of legacy backticks `...`.","fix":null}]}'
)


def test_hadolint_findings_take_the_catalog_first_and_the_level_otherwise() -> None:
    pinned, quoted, workdir = SCANNERS["hadolint"].parse(HADOLINT_OUT).findings
    assert pinned == RawFinding(
        path="Dockerfile",
        rule_id="DL3007",
        severity="medium",  # the catalog's, above the reported "warning"
        category="container",
        message=pinned.message,
        line=1,
        cwe=("CWE-1357",),
        fix_hint="Pin the base image to a version tag or digest.",
        help_url="https://github.com/hadolint/hadolint/wiki/DL3007",
    )
    assert pinned.message.startswith("Using latest is prone to errors")
    # A shellcheck rule reported inside a RUN line: no hadolint wiki page, the level sets the severity.
    assert (quoted.rule_id, quoted.severity, quoted.category, quoted.help_url) == (
        "SC2086",
        "info",
        "container",
        None,
    )
    assert quoted.fix_hint == quoted.message == "Double quote to prevent globbing and word splitting."
    assert (workdir.rule_id, workdir.severity, workdir.line, workdir.cwe) == ("DL3003", "low", 2, ())


def test_hadolint_output_that_is_not_a_list_has_no_findings() -> None:
    assert SCANNERS["hadolint"].parse(b'{"unexpected": true}').findings == []


def test_shellcheck_findings_name_the_sc_rule_and_its_wiki_page() -> None:
    unguarded, backticks = SCANNERS["shellcheck"].parse(SHELLCHECK_OUT).findings
    assert unguarded.rule_id == "SC2115"
    assert (unguarded.severity, unguarded.category, unguarded.cwe) == ("high", "shell", ("CWE-73",))
    assert unguarded.fix_hint.startswith('Use "${var:?}" so an empty variable')
    assert unguarded.help_url == "https://www.shellcheck.net/wiki/SC2115"
    assert (unguarded.path, unguarded.line) == ("a.sh", 2)
    assert (backticks.rule_id, backticks.severity, backticks.category) == ("SC2006", "info", "shell")
    assert backticks.fix_hint == backticks.message
