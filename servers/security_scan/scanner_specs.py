"""The scanners: how each is invoked (argument lists only) and how its JSON becomes raw findings.

A scanned project must not change what a scanner checks, so every command line below turns off the
scanner's project configuration and its inline suppressions: bandit `--ignore-nosec` and the suite's
own empty `--ini`; semgrep `--disable-nosem` (and explicit targets, which it never filters through a
`.semgrepignore`); detect-secrets without the `allowlist secret` pragma filter; hadolint with the
suite's own `--config` and `--disable-ignore-pragma`; shellcheck `--norc`, and its `# shellcheck`
directives neutralised in the copy it reads (it has no flag for them); checkov's inline
`checkov:skip` comments and `checkov.io/skip` annotations reported as failures (it has no flag
either, but lists what they skipped). Scanners run from an empty folder, on the staged snapshot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers.security_scan import rule_catalog as cat

RULES_DIR = Path(__file__).parent / "rules"
# Every shipped rule file (python.yml, javascript.yml, go.yml, ...): semgrep applies each rule only to
# the files of its languages, so one invocation covers a mixed tree.
RULE_FILES = tuple(sorted(RULES_DIR.glob("*.yml")))


@dataclass(frozen=True, slots=True)
class RawFinding:
    """A finding as one scanner reported it, already on the suite's severity scale."""

    path: str
    rule_id: str
    severity: str
    category: str
    message: str
    line: int
    cwe: tuple[str, ...] = ()
    fix_hint: str = ""
    help_url: str | None = None
    context: str | None = None  # fingerprint context when the line text is not the right one
    locate: str | None = None  # regex to find the precise line inside [line, end_line]
    end_line: int = 0


@dataclass(frozen=True, slots=True)
class FileError:
    """A file a scanner could not (fully) check; `path` None: a problem of the whole run."""

    path: str | None
    message: str


@dataclass(slots=True)
class ScannerOutput:
    """What one scanner run reported: findings, the files it could not check, and (when it says so)
    the files it did scan."""

    findings: list[RawFinding]
    errors: list[FileError] = field(default_factory=list)
    scanned: set[str] | None = None


@dataclass(frozen=True, slots=True)
class Invocation:
    """What a command line is built from."""

    executable: str
    files: Sequence[str]  # staged copies, absolute paths
    root: str  # the staging folder holding them
    config_dir: Path  # the suite's neutral config files (NEUTRAL_CONFIGS)


# Written by the engine into its config folder; passed explicitly so no other config file is looked up.
NEUTRAL_CONFIGS = {"bandit.ini": "[bandit]\n", "hadolint.yaml": "{}\n"}


@dataclass(frozen=True, slots=True)
class ScannerSpec:
    """One external scanner: program name, the files it takes, its command line and its parser."""

    name: str
    program: str
    kind: str
    argv: Callable[[Invocation], list[str]]
    parse: Callable[[bytes], ScannerOutput]
    version_argv: tuple[str, ...] = ("--version",)
    ok_codes: frozenset[int] = frozenset({0, 1})
    env: dict[str, str] = field(default_factory=dict)
    batch: int = 500  # files per invocation: argument lists far below ARG_MAX, results cached per batch
    # Rewrites a file's bytes for this scanner only (same length and lines), where no flag turns an
    # inline suppression off.
    sanitise: Callable[[bytes], bytes] | None = None


def _json(stdout: bytes) -> Any:
    text = stdout.decode("utf-8", "replace").strip()
    if not text:
        raise ValueError("the scanner printed nothing (it probably crashed)")
    return json.loads(text)


def _cwe(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        m = re.search(r"CWE-(\d+)", str(item)) or re.fullmatch(r"(\d+)", str(item))
        if m and m.group(1) != "0":
            out.append(f"CWE-{m.group(1)}")
    return tuple(dict.fromkeys(out))


# -- bandit -------------------------------------------------------------------------------------------------
def _bandit_argv(run: Invocation) -> list[str]:
    # With files as targets bandit finds no `.bandit`; the explicit --ini makes sure it never looks.
    # pyproject.toml / setup.cfg are read only with -c, never given.
    ini = str(run.config_dir / "bandit.ini")
    return [run.executable, "--format", "json", "--quiet", "--ignore-nosec", "--ini", ini, "--", *run.files]


def _parse_bandit(stdout: bytes) -> ScannerOutput:
    data = _json(stdout)
    out = []
    for r in data.get("results", []):
        rule = str(r.get("test_id", ""))
        info = cat.BANDIT.get(rule, cat.RuleInfo())
        sev = info.severity or str(r.get("issue_severity", "LOW")).lower()
        if sev == "undefined":
            sev = "low"
        out.append(
            RawFinding(
                path=str(r["filename"]),
                rule_id=rule,
                severity=sev,
                category=info.category or cat.BANDIT_CATEGORY_BY_PREFIX.get(rule[:2], "misc"),
                message=str(r.get("issue_text", "")),
                line=int(r.get("line_number", 0)),
                cwe=_cwe((r.get("issue_cwe") or {}).get("id")),
                fix_hint=info.fix or f"See {r.get('more_info', 'the bandit documentation')}.",
                help_url=r.get("more_info"),
            )
        )
    errors = [
        FileError(str(e.get("filename")), str(e.get("reason", "error")))
        for e in data.get("errors", [])
        if isinstance(e, dict)
    ]
    return ScannerOutput(out, errors)


# -- semgrep ------------------------------------------------------------------------------------------------
def _semgrep_argv(run: Invocation) -> list[str]:
    configs = [arg for rules in RULE_FILES for arg in ("--config", str(rules))]
    # --max-target-bytes=0: the walker bounds file sizes; semgrep's own 1 MB limit would drop a file.
    return [
        run.executable, "scan", *configs, "--json", "--metrics=off", "--disable-version-check", "--quiet",
        "--no-git-ignore", "--disable-nosem", "--max-target-bytes=0", "--", *run.files,
    ]  # fmt: skip


# semgrep prefixes a local rule's id with the rule file's folder ("work.main.servers...rules.code.go.x");
# the id proper is the last three parts, code.<language>.<name> (a "code" folder higher up stays out).
_SEMGREP_RULE = re.compile(r"(?:^|\.)(code\.[a-z]+\.[\w-]+)$")


def _parse_semgrep(stdout: bytes) -> ScannerOutput:
    data = _json(stdout)
    out = []
    for r in data.get("results", []):
        extra = r.get("extra", {})
        meta = extra.get("metadata", {})
        m = _SEMGREP_RULE.search(str(r.get("check_id", "")))
        rule = m.group(1) if m else str(r.get("check_id", ""))
        sev = meta.get("severity") or cat.SEMGREP_LEVELS.get(str(extra.get("severity")), "low")
        out.append(
            RawFinding(
                path=str(r["path"]),
                rule_id=rule,
                severity=sev,
                category=str(meta.get("category", "misc")),
                message=str(extra.get("message", "")),
                line=int(r.get("start", {}).get("line", 0)),
                cwe=_cwe(meta.get("cwe", [])),
                fix_hint=str(meta.get("fix", "")),
            )
        )
    # Errors and results come in the same document: a Timeout or a syntax error leaves one file
    # unchecked, an invalid target (exit 2) the whole run.
    errors = [
        FileError(
            str(e["path"]) if e.get("path") else None,
            f"{e.get('type', 'error')}: {str(e.get('message', '')).strip()}",
        )
        for e in data.get("errors", [])
        if isinstance(e, dict)
    ]
    scanned = data.get("paths", {}).get("scanned")
    return ScannerOutput(out, errors, {str(p) for p in scanned} if isinstance(scanned, list) else None)


# -- detect-secrets -----------------------------------------------------------------------------------------
_ALLOWLIST_FILTER = "detect_secrets.filters.allowlist.is_line_allowlisted"


def _secrets_argv(run: Invocation) -> list[str]:
    # detect-secrets ignores files outside its root (default: the working directory), so name it.
    # Without --baseline no .secrets.baseline is read; --no-verify keeps it offline; the allowlist
    # filter is what honours `# pragma: allowlist secret` (and `allowlist nextline secret`).
    return [
        run.executable, "-C", run.root, "scan", "--all-files", "--no-verify",
        "--disable-filter", _ALLOWLIST_FILTER, *run.files,
    ]  # fmt: skip


def _parse_secrets(stdout: bytes) -> ScannerOutput:
    out = []
    for filename, items in _json(stdout).get("results", {}).items():
        for r in items:
            kind = str(r.get("type", "secret"))
            info = cat.DETECT_SECRETS.get(kind, cat.RuleInfo("high", cwe=("CWE-798",)))
            out.append(
                RawFinding(
                    path=str(filename),
                    rule_id=kind,
                    severity=info.severity or "high",
                    category="secrets",
                    message=f"Possible hard-coded secret ({kind}).",
                    line=int(r.get("line_number", 0)),
                    cwe=info.cwe,
                    fix_hint=cat.SECRET_FIX,
                    context=str(r.get("hashed_secret", "")),
                )
            )
    return ScannerOutput(out)


# -- checkov ------------------------------------------------------------------------------------------------
def _checkov_argv(run: Invocation) -> list[str]:
    # Not --quiet: it drops skipped_checks, which is where checkov lists what inline skips hid.
    argv = [run.executable, "--output", "json", "--compact", "--skip-download"]
    argv += ["--framework", "dockerfile", "kubernetes"]
    for f in run.files:
        argv += ["--file", f]
    return argv


def _parse_checkov(stdout: bytes) -> ScannerOutput:
    data = _json(stdout)
    reports = data if isinstance(data, list) else [data]
    out = []
    errors = []
    for report in reports:
        if not isinstance(report, dict):
            continue
        results = report.get("results", {})
        errors += [FileError(str(p), "checkov could not parse it") for p in results.get("parsing_errors", [])]
        # The suite passes no --skip-check and reads no config file, so every skipped check was
        # skipped by the project itself (`checkov:skip=` comments, `checkov.io/skip` annotations):
        # it counts as failed.
        for r in [*results.get("failed_checks", []), *results.get("skipped_checks", [])]:
            rule = str(r.get("check_id", ""))
            info = cat.CHECKOV.get(rule, cat.RuleInfo())
            kind = "container" if report.get("check_type") == "dockerfile" else "kubernetes"
            first, last = [*(r.get("file_line_range") or []), 0, 0][:2]
            out.append(
                RawFinding(
                    path=str(r.get("file_abs_path") or r.get("file_path")),
                    rule_id=rule,
                    severity=info.severity or str(r.get("severity") or "low").lower(),
                    category=info.category or kind,
                    message=str(r.get("check_name", "")),
                    line=int(first),
                    end_line=int(last),
                    cwe=info.cwe,
                    fix_hint=info.fix or "See the checkov policy documentation for this check.",
                    help_url=r.get("guideline"),
                    context=str(r.get("resource", "")).rsplit("/", 1)[-1],
                    locate=info.locate,
                )
            )
    return ScannerOutput(out, errors)


# -- hadolint -----------------------------------------------------------------------------------------------
def _hadolint_argv(run: Invocation) -> list[str]:
    # An explicit --config stops the lookup of .hadolint.yaml; --disable-ignore-pragma turns off
    # `# hadolint ignore=` and `# hadolint global ignore=`.
    config = str(run.config_dir / "hadolint.yaml")
    return [
        run.executable, "--config", config, "--disable-ignore-pragma", "--format", "json", "--no-fail",
        "--", *run.files,
    ]  # fmt: skip


def _parse_hadolint(stdout: bytes) -> ScannerOutput:
    out = []
    data = _json(stdout)
    for r in data if isinstance(data, list) else []:
        rule = str(r.get("code", ""))
        wiki = f"https://github.com/hadolint/hadolint/wiki/{rule}" if rule.startswith("DL") else None
        out.append(_lint_finding(r, rule, cat.HADOLINT, cat.HADOLINT_LEVELS, "container", wiki))
    return ScannerOutput(out)


# -- shellcheck ---------------------------------------------------------------------------------------------
def _shellcheck_argv(run: Invocation) -> list[str]:
    return [run.executable, "--norc", "--format", "json1", "--", *run.files]


# shellcheck reads a directive from any comment that starts `#`, blanks, `shellcheck` (case-sensitive),
# wherever it stands; every one is made inert, keeping each line's length. A `shell=` directive goes
# too: a file without a shebang is then reported for it (SC2148), which is visible, not hidden.
_SHELLCHECK_DIRECTIVE = re.compile(r"(#[^\S\n]*)shellcheck")


def neutralise_shellcheck_directives(data: bytes) -> bytes:
    """`data` with every `# shellcheck ...` directive turned into a plain comment, same length."""
    text = data.decode("utf-8", "surrogateescape")
    return _SHELLCHECK_DIRECTIVE.sub(r"\1ignored-sc", text).encode("utf-8", "surrogateescape")


def _parse_shellcheck(stdout: bytes) -> ScannerOutput:
    out = []
    for r in _json(stdout).get("comments", []):
        rule = f"SC{r.get('code')}"
        wiki = f"https://www.shellcheck.net/wiki/{rule}"
        out.append(_lint_finding(r, rule, cat.SHELLCHECK, cat.SHELLCHECK_LEVELS, "shell", wiki))
    return ScannerOutput(out)


def _lint_finding(
    r: Mapping[str, Any],
    rule: str,
    catalog: Mapping[str, cat.RuleInfo],
    levels: Mapping[str, str],
    category: str,
    help_url: str | None,
) -> RawFinding:
    """A finding from a linter's record of file, line, level and message (hadolint, shellcheck)."""
    info = catalog.get(rule, cat.RuleInfo())
    message = str(r.get("message", ""))
    return RawFinding(
        path=str(r.get("file", "")),
        rule_id=rule,
        severity=info.severity or levels.get(str(r.get("level")), "low"),
        category=info.category or category,
        message=message,
        line=int(r.get("line", 0)),
        cwe=info.cwe,
        fix_hint=info.fix or message,
        help_url=help_url,
    )


SCANNERS: dict[str, ScannerSpec] = {
    s.name: s
    for s in (
        ScannerSpec("bandit", "bandit", "python", _bandit_argv, _parse_bandit),
        ScannerSpec(
            "semgrep", "semgrep", "source", _semgrep_argv, _parse_semgrep,
            env={"SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0"},
            batch=2000,  # slow to start: few, large batches
        ),
        ScannerSpec(
            "detect-secrets", "detect-secrets", "text", _secrets_argv, _parse_secrets,
            ok_codes=frozenset({0}), batch=200,
        ),
        ScannerSpec(
            "checkov", "checkov", "iac", _checkov_argv, _parse_checkov,
            env={"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"},
            batch=500,
        ),
        ScannerSpec("hadolint", "hadolint", "dockerfile", _hadolint_argv, _parse_hadolint),
        ScannerSpec(
            "shellcheck", "shellcheck", "shell", _shellcheck_argv, _parse_shellcheck,
            sanitise=neutralise_shellcheck_directives,
        ),
    )
}  # fmt: skip
