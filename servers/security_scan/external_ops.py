"""Run one external scanner over a staged tree: in batches, through the cache, keeping partial results.

A scanner that exits badly or reports files it could not check does not hide what it did find: its
findings are kept, the run is `partial` (or `failed` when nothing came out), and the scanner's own
error text, redacted, bounded and with staged paths turned back into the tree's relative paths,
says why. Only batches that fully succeeded are cached, less the files with errors.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from servers.security_scan.cache_ops import ResultCache
from servers.security_scan.findings_ops import normalise, redact
from servers.security_scan.models import Finding, ScannerRun
from servers.security_scan.process_ops import ProcessResult, run_process
from servers.security_scan.scanner_specs import SCANNERS, Invocation, ScannerOutput, ScannerSpec
from servers.security_scan.toolchain_ops import Tool
from servers.security_scan.tree_ops import SourceFile, Tree

DETAIL_CHARS = 1000
FILE_ERRORS_KEPT = 10
_TAIL = 600


@dataclass(frozen=True, slots=True)
class RunPlace:
    """Where scanners run: an empty working folder and the suite's neutral config files."""

    workdir: Path
    config_dir: Path
    timeout_s: float


def describe(text: str, tree: Tree, limit: int = DETAIL_CHARS) -> str:
    """Scanner text made safe to show: staged paths as relative paths, secrets masked, bounded."""
    scan_dir = re.escape(str(tree.stage.parent))
    staged = re.compile(scan_dir + r"/[\w.-]+/(\d+)/[^\s'\":,]*")

    def relative(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return tree.files[n].rel if n < len(tree.files) else m.group(0)

    text = redact(staged.sub(relative, text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


Lookup = dict[str, tuple[Path, str]]  # a path as a scanner may spell it -> (snapshot, relative path)


def _inputs(spec: ScannerSpec, files: Sequence[SourceFile], tree: Tree) -> tuple[dict[str, Path], Lookup]:
    """The copy each file is handed over as (the snapshot, or a sanitised copy of it for this scanner),
    and every spelling of it the scanner may report."""
    inputs = {f.rel: f.path for f in files}
    if spec.sanitise is not None:
        base = tree.stage.parent / spec.name
        for f in files:
            copy = base / f.path.parent.name / f.path.name
            copy.parent.mkdir(parents=True, mode=0o700)
            copy.write_bytes(spec.sanitise(f.path.read_bytes()))
            inputs[f.rel] = copy
    lookup: Lookup = {}
    for f in files:
        given = inputs[f.rel]
        relative = os.path.relpath(given, tree.stage)
        for spelling in (str(given), relative, f"./{relative}"):
            lookup[spelling] = (f.path, f.rel)
    return inputs, lookup


def _failure(result: ProcessResult, output: ScannerOutput | None, problem: str | None) -> str:
    """Why a run failed, from the scanner's own words: its JSON errors, else its stderr (or stdout)."""
    parts = [f"exit {result.returncode}"]
    run_errors = [e.message for e in output.errors if e.path is None] if output else []
    if problem:
        parts.append(problem)
    if run_errors:
        parts += run_errors[:3]
    else:
        stream = result.stderr.strip() or result.stdout.strip()
        tail = stream.decode("utf-8", "replace")[-_TAIL:]
        parts.append(tail or "no output at all")
    return ": ".join(parts)


async def run_external(
    name: str, tool: Tool, files: Sequence[SourceFile], tree: Tree, *, cache: ResultCache, place: RunPlace,
    found: list[Finding], spec: ScannerSpec | None = None,
) -> ScannerRun:  # fmt: skip
    """Run scanner `name` over `files`, appending its findings to `found` as they come (so a caller
    that times it out keeps the batches already done). `spec`: a scanner not in SCANNERS (a custom rule)."""
    spec = spec or SCANNERS[name]
    assert tool.path is not None
    keys = {f.rel: cache.key(name, tool.version, f.rel, f.sha256) for f in files}
    cached = await anyio.to_thread.run_sync(cache.get_many, keys.values())
    todo = [f for f in files if keys[f.rel] not in cached]
    found += [x for f in files if keys[f.rel] in cached for x in cached[keys[f.rel]]]
    inputs, lookup = await anyio.to_thread.run_sync(_inputs, spec, todo, tree)
    problems: list[str] = []
    file_errors: dict[str, str] = {}
    produced = 0
    for start in range(0, len(todo), spec.batch):
        batch = todo[start : start + spec.batch]
        invocation = Invocation(str(tool.path), [str(inputs[f.rel]) for f in batch], str(tree.stage),
                                place.config_dir)  # fmt: skip
        try:
            result = await run_process(
                spec.argv(invocation), timeout_s=place.timeout_s, cwd=place.workdir, env=spec.env
            )
        except OSError as exc:
            problems.append(f"could not start: {exc}")
            break
        exited_ok = result.returncode in spec.ok_codes
        output, problem = None, None
        batch_findings: list[Finding] = []
        try:
            output = spec.parse(result.stdout)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problem = f"unreadable output ({exc})"
        if output is not None:
            batch_findings = normalise(name, output.findings, lookup)
            found += batch_findings
            produced += len(batch_findings)
            for error in output.errors:
                entry = lookup.get(error.path) if error.path is not None else None
                if entry is not None:
                    file_errors.setdefault(entry[1], error.message)
                elif error.path is not None:
                    problems.append(f"{error.path}: {error.message}")
                elif exited_ok:  # otherwise the failure below quotes it
                    problems.append(error.message)
            if output.scanned is not None and exited_ok:
                for f in batch:
                    if str(inputs[f.rel]) not in output.scanned:
                        file_errors.setdefault(f.rel, f"{name} did not scan it")
        if output is None or not exited_ok:
            problems.append(_failure(result, output, problem))
            continue
        # Cached batch by batch: after a timeout, the next scan resumes where this one stopped.
        per_file: dict[str, list[Finding]] = {keys[f.rel]: [] for f in batch if f.rel not in file_errors}
        for finding in batch_findings:
            if (key := keys[finding.path]) in per_file:
                per_file[key].append(finding)
        await anyio.to_thread.run_sync(cache.put_many, per_file)
    run = ScannerRun(name=name, status="ran" if todo else "cached", version=tool.version, files=len(files),
                     cached_files=len(files) - len(todo))  # fmt: skip
    if file_errors:
        first = list(file_errors.items())[:FILE_ERRORS_KEPT]
        run.file_errors = [describe(f"{rel}: {msg}", tree, 240) for rel, msg in first]
        run.file_error_count = len(file_errors)
        run.status = "partial"
    if problems:
        run.detail = describe("; ".join(dict.fromkeys(problems)), tree)
        nothing = produced == 0 and run.cached_files == 0 and not file_errors
        run.status = "failed" if nothing else "partial"
    elif file_errors:
        run.detail = f"could not check {len(file_errors)} file(s): see file_errors"
    return run
