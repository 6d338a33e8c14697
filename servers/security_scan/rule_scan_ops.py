"""Run a validated custom Semgrep rule over a staged tree, the way scan_path runs the shipped rules.

Same staging (scanners never see the tree), same flags (`--metrics=off`, `--disable-nosem`, no
`.semgrepignore`), plus `--strict` and semgrep's own per-file `--timeout`, `--timeout-threshold` and
`--max-memory`; results cached per (rule digest, file content).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

import anyio

from servers.security_scan.custom_rule_ops import CustomRule, parse_rule
from servers.security_scan.external_ops import RunPlace, describe, run_external
from servers.security_scan.models import SEVERITY_ORDER, Finding, ScannerProblem, ScannerRun, ScanSummary
from servers.security_scan.process_ops import ProcessTimeout, run_process
from servers.security_scan.scanner_specs import SCANNERS, Invocation, ScannerOutput, ScannerSpec
from shared.errors import InvalidArgument, UpstreamUnavailable

if TYPE_CHECKING:
    from servers.security_scan.scan_ops import ScanEngine

NAME = "custom-rule"
_SUFFIXES = {
    "python": (".py",),
    "javascript": (".js", ".jsx", ".mjs", ".cjs"),
    "typescript": (".ts", ".tsx"),
    "go": (".go",),
    "java": (".java",),
    "kotlin": (".kt",),
    "ruby": (".rb",),
    "php": (".php",),
    "c": (".c", ".h"),
    "cpp": (".cpp", ".cc", ".hpp"),
    "csharp": (".cs",),
    "rust": (".rs",),
    "scala": (".scala",),
    "swift": (".swift",),
    "bash": (".sh", ".bash"),
    "sh": (".sh",),
    "json": (".json",),
    "yaml": (".yml", ".yaml"),
    "terraform": (".tf",),
    "hcl": (".tf", ".hcl"),
    "html": (".html", ".htm"),
    "dockerfile": (),
}
LIMITS = ("--timeout", "10", "--timeout-threshold", "3", "--max-memory", "2000")


def _spec(rule_file: Path, rule: CustomRule) -> ScannerSpec:
    base = SCANNERS["semgrep"]

    def argv(run: Invocation) -> list[str]:
        return [
            run.executable,
            "scan",
            "--config",
            str(rule_file),
            "--json",
            "--metrics=off",
            "--disable-version-check",
            "--quiet",
            "--strict",
            "--no-git-ignore",
            "--disable-nosem",
            "--max-target-bytes=0",
            *LIMITS,
            "--",
            *run.files,
        ]

    def parse(stdout: bytes) -> ScannerOutput:
        out = base.parse(stdout)
        renamed = [
            dataclasses.replace(
                f, rule_id=f"custom.{rule.id}", category=f.category if f.category != "misc" else "custom"
            )
            for f in out.findings
        ]
        return ScannerOutput(renamed, out.errors, out.scanned)

    return dataclasses.replace(base, name=NAME, argv=argv, parse=parse)


def _wanted(name: str, rule: CustomRule) -> bool:
    if {"generic", "regex"} & set(rule.languages):
        return True
    lower = name.lower()
    if "dockerfile" in rule.languages and lower.startswith("dockerfile"):
        return True
    return PurePath(lower).suffix in {s for lang in rule.languages for s in _SUFFIXES.get(lang, ())}


async def _validate(engine: ScanEngine, executable: str, rule_file: Path, rule: CustomRule) -> None:
    """semgrep's own parse of the rule (`--strict`), on a one-line file: refused before any scan."""
    suffix = next((s for lang in rule.languages for s in _SUFFIXES.get(lang, ())), ".txt")
    with tempfile.TemporaryDirectory(dir=engine.staging) as folder:
        probe = Path(folder) / f"probe{suffix}"
        probe.write_text("\n")
        argv = _spec(rule_file, rule).argv(Invocation(executable, [str(probe)], folder, engine.config_dir))
        try:
            result = await run_process(argv, timeout_s=120, cwd=engine.workdir, env=SCANNERS["semgrep"].env)
        except ProcessTimeout as exc:
            raise UpstreamUnavailable("semgrep did not finish parsing the rule in 120 s") from exc
    try:
        output = SCANNERS["semgrep"].parse(result.stdout)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(f"semgrep refused the rule (exit {result.returncode})") from exc
    errors = [e.message for e in output.errors]
    if result.returncode not in (0, 1) or errors:
        shown = "; ".join(errors)[:800] or result.stderr.decode("utf-8", "replace")[-800:]
        raise InvalidArgument(f"semgrep refused the rule: {shown}")


async def scan_with_rule(engine: ScanEngine, target: Path, rule_yaml: str, *, owner: str) -> ScanSummary:
    """Validate `rule_yaml`, run it over `target` (already allowed by the policy), keep the scan."""
    rule = parse_rule(rule_yaml)
    tool = await engine.toolchain.tool("semgrep")
    if tool.path is None:
        raise UpstreamUnavailable(f"semgrep is not available here: {tool.detail}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=engine.staging) as folder:
        rule_file = Path(folder) / "rule.yml"
        rule_file.write_text(rule.text)
        await _validate(engine, str(tool.path), rule_file, rule)
        async with engine.snapshot(target) as tree:
            files = [f for f in tree.files if _wanted(f.path.name, rule)]
            found: list[Finding] = []
            place = RunPlace(engine.workdir, engine.config_dir, engine.settings.scanner_timeout_s)
            versioned = dataclasses.replace(tool, version=f"{tool.version}+rule.{rule.digest}")
            try:
                with anyio.fail_after(engine.settings.scanner_timeout_s):
                    run = await run_external(
                        NAME,
                        versioned,
                        files,
                        tree,
                        cache=engine.cache,
                        place=place,
                        found=found,
                        spec=_spec(rule_file, rule),
                    )
            except (TimeoutError, ProcessTimeout):
                limit = engine.settings.scanner_timeout_s
                run = ScannerRun(
                    name=NAME,
                    status="timed_out",
                    version=versioned.version,
                    files=len(files),
                    detail=describe(f"killed after {limit:.0f}s", tree),
                )
            if not files:
                run.status = "no_files"
    found.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.path, f.line))
    run.findings, run.duration_s = len(found), round(time.monotonic() - started, 3)
    ok = run.status in ("ran", "cached", "no_files")
    summary = ScanSummary(
        scan_id=uuid.uuid4().hex[:16],
        target=str(target),
        root=str(tree.root),
        duration_s=run.duration_s,
        files_scanned=len(files),
        complete=ok,
        failed_scanners=[]
        if ok
        else [ScannerProblem(name=NAME, status=run.status, reason=run.detail or run.status)],
        skipped=dict(tree.skipped),
        scanners=[run],
        total=len(found),
        by_severity=dict(Counter(f.severity for f in found)),
        by_scanner={NAME: len(found)},
        by_category=dict(Counter(f.category for f in found)),
    )
    engine.keep_scan(owner, summary, found)
    return summary
