"""A scanned project that tries to silence the scanners, against the real scanners.

One project plants every control a project has over a scanner: config files (`.bandit`,
`[tool.bandit]`, `setup.cfg`, `.semgrepignore`, `.semgrep.yml`, `.secrets.baseline`, `.checkov.yaml`,
`.hadolint.yaml`, `.shellcheckrc`), inline pragmas (`# nosec`, `# nosemgrep`, `# pragma: allowlist
secret`, `checkov:skip` / `checkov.io/skip`, `# hadolint ignore`, `# shellcheck disable`), its own
`.security-scan.toml` with `rule = "*"`, `path = "*"`, and symlinks (the one that used to make semgrep
fail the whole run). It is scanned once by every scanner; each test checks that one scanner's planted
findings still count. The same tree copied under `[security_scan] trusted_roots` is the twin where
the project's suppression file applies (from the cache: the scanners' raw results do not depend on
trust), but never its wildcard-everything entry, and never an inline pragma.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import anyio
import pytest

from servers.security_scan.models import Finding, ScanSummary
from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from tests.integration.security_scan.conftest import OWNER

pytestmark = [pytest.mark.integration]
KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example key, split so this file holds none
OTHER_KEY = "AKIA" + "J7QZ2XV6N4LC8WBM"  # made up; detect-secrets reports a secret once per file
SKIPS = "B605,B307,B301,B602"
FILES = {
    "app.py": "import os\nos.system(input())  # nosec\neval(input())  # nosec B307 # nosemgrep\n",
    "sub/more.py": "eval(input())  # nosem: code.python.eval-exec\n",
    "sub/.semgrepignore": "*\n",
    ".semgrepignore": "*.py\n**/*.py\n",
    ".semgrep.yml": "rules: []\n",
    ".bandit": f"[bandit]\nskips = {SKIPS}\nexclude = ./\n",
    "setup.cfg": f"[bandit]\nskips = {SKIPS}\n",
    "pyproject.toml": f'[project]\nname = "hostile"\n\n[tool.bandit]\nskips = {SKIPS.split(",")!r}\n',
    "keys.py": f'aws = "{KEY}"  # pragma: allowlist secret\n# pragma: allowlist nextline secret\n'
    f'also = "{OTHER_KEY}"\n',
    "Dockerfile": (
        "# checkov:skip=CKV_DOCKER_7: latest is what we want\n# hadolint ignore=DL3007\nFROM python:latest\n"
        "# hadolint global ignore=DL3002\nUSER root\n"
    ),
    ".checkov.yaml": "skip-check:\n  - CKV_DOCKER_7\n  - CKV_K8S_16\n  - CKV_K8S_19\n",
    ".hadolint.yaml": "ignored:\n  - DL3007\n  - DL3002\n",
    "k8s/pod.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n"
        "    checkov.io/skip1: CKV_K8S_19=host network is fine\n    checkov.io/skip2: CKV_K8S_16=so is this\n"
        "spec:\n  hostNetwork: true\n  containers:\n    - name: web\n      image: nginx:1.25\n"
        "      securityContext:\n        privileged: true  # checkov:skip=CKV_K8S_16: needed\n"
    ),
    ".shellcheckrc": "disable=all\n",
    "scripts/one.sh": "#!/bin/sh\n# shellcheck disable=SC2086\nrm -rf $1/build\n",
    "scripts/all.sh": "#!/bin/sh\n# shellcheck disable=all\nrm -rf $1/build\n",
    "scripts/block.sh": "#!/bin/sh\n#shellcheck disable=SC2086\n{\n  rm -rf $1/build\n}\n",
    "requirements.txt": "requests==2.19.0  # nosec # noqa\n",
    ".security-scan.toml": '[[suppress]]\nrule = "*"\npath = "*"\nreason = "nothing to see here"\n',
    ".secrets.baseline": json.dumps(
        {
            "version": "1.5.0",
            "results": {
                "keys.py": [
                    {
                        "type": "AWS Access Key",
                        "filename": "keys.py",
                        "line_number": n,
                        "is_secret": False,
                        "is_verified": False,
                        "hashed_secret": hashlib.sha1(KEY.encode(), usedforsecurity=False).hexdigest(),
                    }
                    for n in (1, 3)
                ]
            },
        }
    ),
}
SCANNERS = ["bandit", "semgrep", "detect-secrets", "checkov", "hadolint", "shellcheck", "dependencies"]
# What the trusted twin's own suppression file says (a wildcard-everything entry among them).
TRUSTED_SUPPRESSIONS = """
[[suppress]]
rule = "*"
path = "**"
reason = "blanket: must be refused even here"

[[suppress]]
rule = "SC2086"
path = "scripts/one.sh"
reason = "the argument is checked by the caller"

[[suppress]]
rule = "DL3007"
path = "Dockerfile"
reason = "the base image is pinned by digest at build time"
"""


def _plant(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "linked.py").symlink_to(root / "app.py")  # made semgrep exit 2: "Invalid scanning root"
    (root / "escape.py").symlink_to("/etc/passwd")
    (root / "sub" / "gone.py").symlink_to(root / "missing.py")


Scan = tuple[ScanSummary, list[Finding]]


def _scan(engine: ScanEngine, root: Path) -> Scan:
    async def run() -> Scan:
        with anyio.fail_after(900):
            summary = await engine.scan(root, owner=OWNER, scanners=SCANNERS)
        return summary, engine.findings(summary.scan_id, owner=OWNER, include_suppressed=True)

    return anyio.run(run)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, scanners_installed: None) -> Path:
    return tmp_path_factory.mktemp("hostile-cache")


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Scan:
    root = tmp_path_factory.mktemp("untrusted") / "project"
    _plant(root)
    return _scan(ScanEngine(SecurityScanSettings(cache_dir=cache)), root)


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory, cache: Path, untrusted: Scan) -> Scan:
    trusted_root = tmp_path_factory.mktemp("trusted")
    root = trusted_root / "project"
    _plant(root)
    (root / ".security-scan.toml").write_text(TRUSTED_SUPPRESSIONS)
    return _scan(ScanEngine(SecurityScanSettings(cache_dir=cache, trusted_roots=[trusted_root])), root)


def _found(scan: Scan, scanner: str) -> set[tuple[str, str, int]]:
    return {(f.rule_id, f.path, f.line) for f in scan[1] if f.scanner == scanner and not f.suppressed}


@pytest.fixture
def summary(untrusted: Scan) -> ScanSummary:
    return untrusted[0]


def test_every_scanner_ran_over_the_hostile_tree_and_the_scan_is_complete(summary: ScanSummary) -> None:
    assert {r.name: r.status for r in summary.scanners} == dict.fromkeys(SCANNERS, "ran"), summary.scanners
    assert summary.complete and summary.failed_scanners == []


def test_the_projects_wildcard_suppression_is_counted_and_not_applied(summary: ScanSummary) -> None:
    """The review's first attack gave "0 findings, 74 suppressed"."""
    assert (summary.suppressed, summary.suppressions_ignored, summary.trusted) == (0, 1, False)
    assert summary.suppression_note is not None and "trusted_roots" in summary.suppression_note
    assert summary.total >= 19


def test_symlinks_are_skipped_and_listed_and_semgrep_still_runs(summary: ScanSummary) -> None:
    """The review's third attack: one symlinked .py made semgrep exit 2 and the scan report nothing."""
    assert summary.skipped_paths == {
        "symlink": ["linked.py"],
        "symlink_escape": ["escape.py"],
        "broken_symlink": ["sub/gone.py"],
    }
    assert next(r for r in summary.scanners if r.name == "semgrep").status == "ran"


def test_bandit_ignores_nosec_and_the_projects_bandit_configs(untrusted: Scan) -> None:
    assert {("B605", "app.py", 2), ("B307", "app.py", 3), ("B307", "sub/more.py", 1)} <= _found(
        untrusted, "bandit"
    )


def test_semgrep_ignores_nosemgrep_and_semgrepignore_files(untrusted: Scan) -> None:
    assert {
        ("code.python.subprocess-shell-true", "app.py", 2),
        ("code.python.eval-exec", "app.py", 3),
        ("code.python.eval-exec", "sub/more.py", 1),
    } <= _found(untrusted, "semgrep")


def test_detect_secrets_ignores_allowlist_pragmas_and_the_baseline(untrusted: Scan) -> None:
    assert {("AWS Access Key", "keys.py", 1), ("AWS Access Key", "keys.py", 3)} <= _found(
        untrusted, "detect-secrets"
    )


def test_checkov_counts_what_inline_skips_and_its_config_skipped(untrusted: Scan) -> None:
    found = {(rule, path) for rule, path, _ in _found(untrusted, "checkov")}
    assert {
        ("CKV_DOCKER_7", "Dockerfile"),
        ("CKV_K8S_16", "k8s/pod.yaml"),
        ("CKV_K8S_19", "k8s/pod.yaml"),
    } <= found


def test_hadolint_ignores_its_pragmas_and_config(untrusted: Scan) -> None:
    assert {("DL3007", "Dockerfile", 3), ("DL3002", "Dockerfile", 5)} <= _found(untrusted, "hadolint")


def test_shellcheck_ignores_shellcheckrc_and_disable_directives(untrusted: Scan) -> None:
    """The review's second attack: `.shellcheckrc` with `disable=all`."""
    assert {
        ("SC2086", "scripts/one.sh", 3),
        ("SC2086", "scripts/all.sh", 3),
        ("SC2086", "scripts/block.sh", 4),
    } <= _found(untrusted, "shellcheck")


def test_the_dependency_audit_ignores_inline_comments(untrusted: Scan) -> None:
    assert ("CVE-2018-18074", "requirements.txt", 1) in _found(untrusted, "dependencies")


def test_in_a_trusted_tree_the_projects_file_applies_but_not_its_blanket_entry(
    trusted: Scan, untrusted: Scan
) -> None:
    summary, findings = trusted
    assert summary.trusted and summary.suppressions_ignored == 0 and summary.suppression_note is None
    assert (
        len(summary.suppression_errors) == 1 and "would hide every finding" in summary.suppression_errors[0]
    )
    hidden = {(f.rule_id, f.path): f.suppression_reason for f in findings if f.suppressed}
    assert hidden == {
        ("SC2086", "scripts/one.sh"): "the argument is checked by the caller",
        ("DL3007", "Dockerfile"): "the base image is pinned by digest at build time",
    }
    assert summary.suppressed == 2
    assert summary.total == untrusted[0].total - 2
    # the scanners' raw results do not depend on trust: the twin came from the cache (but for its
    # changed .security-scan.toml, which detect-secrets reads like any text file)
    statuses = {r.name: (r.status, r.files - r.cached_files) for r in summary.scanners}
    assert statuses["detect-secrets"] == ("ran", 1)
    assert {statuses[name] for name in ("bandit", "semgrep", "checkov", "hadolint", "shellcheck")} == {
        ("cached", 0)
    }
    # inline pragmas do not suppress even in a trusted tree: only the file's entries do
    assert ("SC2086", "scripts/all.sh", 3) in _found(trusted, "shellcheck")
    assert ("B605", "app.py", 2) in _found(trusted, "bandit")


WRAPPED_SEMGREP = """
import json, subprocess, sys
real = {real!r}
if sys.argv[1:] == ["--version"]:
    sys.exit(subprocess.run([real, "--version"]).returncode)
out = subprocess.run([real, *sys.argv[1:]], capture_output=True)
document = json.loads(out.stdout)
# what semgrep writes when one target is bad: its error beside the results of the other files
document["errors"].append({{"code": 2, "level": "error", "type": "SemgrepError",
                           "message": "Invalid scanning root: " + sys.argv[-1]}})
print(json.dumps(document))
sys.exit(2)
"""


@pytest.mark.anyio
async def test_a_semgrep_exit_2_keeps_the_findings_its_output_holds(
    tmp_path: Path, settings: SecurityScanSettings
) -> None:
    real = settings.resolved_venv() / "bin" / "semgrep"
    wrapper = tmp_path / "semgrep-that-exits-2"  # the real semgrep, its exit code and one error replaced
    wrapper.write_text(f"#!{sys.executable}\n" + WRAPPED_SEMGREP.format(real=str(real)))
    wrapper.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("import os\nos.system(input())\n")
    (project / "z.py").write_text("x = 1\n")
    engine = ScanEngine(settings.model_copy(update={"tool_paths": {"semgrep": wrapper}}))
    with anyio.fail_after(300):
        summary = await engine.scan(project, owner=OWNER, scanners=["semgrep"])
    run = summary.scanners[0]
    assert run.status == "partial"
    assert not summary.complete and summary.failed_scanners[0].name == "semgrep"
    assert run.detail is not None and "Invalid scanning root: z.py" in run.detail
    found = {(f.rule_id, f.path, f.line) for f in engine.findings(summary.scan_id, owner=OWNER)}
    assert found == {("code.python.subprocess-shell-true", "app.py", 2)}
