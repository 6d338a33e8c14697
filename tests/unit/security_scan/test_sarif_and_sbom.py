"""SARIF 2.1.0 validated against the official schema; CycloneDX SBOM shape."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from servers.security_scan.deps_ops import Declared
from servers.security_scan.models import Finding, ScannerRun, ScanSummary
from servers.security_scan.sarif_ops import fingerprints_from_sarif, to_sarif
from servers.security_scan.sbom_ops import cyclonedx

SCHEMA = json.loads((Path(__file__).parents[2] / "fixtures" / "sarif-schema-2.1.0.json").read_text())


def _summary(root: str) -> ScanSummary:
    return ScanSummary(
        scan_id="s1", target=root, root=root, duration_s=1.0, files_scanned=2, total=2, complete=False,
        scanners=[
            ScannerRun(name="bandit", status="ran", version="1.9.4"),
            ScannerRun(name="checkov", status="cached", version="3.3.30"),
            ScannerRun(name="semgrep", status="unavailable"),
        ],
    )  # fmt: skip


FINDINGS = [
    Finding(id="f1", scanner="bandit", rule_id="B602", severity="high", category="injection", cwe=["CWE-78"],
            path="app.py", line=11, message="shell=True", snippet="subprocess.call(c, shell=True)",
            fix_hint="use a list", help_url="https://bandit.readthedocs.io/"),
    Finding(id="f2", scanner="bandit", rule_id="B307", severity="medium", category="injection", path="app.py",
            line=15, message="eval", suppressed=True, suppression_reason="fixture"),
    Finding(id="f3", scanner="checkov", rule_id="CKV_K8S_21", severity="low", category="kubernetes",
            path="k8s/pod.yaml", line=0, message=""),
]  # fmt: skip


def test_sarif_validates_against_the_official_schema(tmp_path: Path) -> None:
    document = to_sarif(_summary(str(tmp_path)), FINDINGS)
    jsonschema.validate(document, SCHEMA)
    assert [run["tool"]["driver"]["name"] for run in document["runs"]] == ["bandit", "checkov"]
    bandit = document["runs"][0]
    assert bandit["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 11
    assert bandit["results"][1]["suppressions"] == [{"kind": "external", "justification": "fixture"}]
    assert document["runs"][1]["results"][0]["locations"][0]["physicalLocation"].get("region") is None


def test_an_invalid_document_is_rejected_by_the_schema(tmp_path: Path) -> None:
    document = to_sarif(_summary(str(tmp_path)), FINDINGS)
    document["runs"][0]["results"][0]["level"] = "catastrophic"
    try:
        jsonschema.validate(document, SCHEMA)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted an invalid level")


def test_baseline_fingerprints_skip_suppressed_results(tmp_path: Path) -> None:
    assert fingerprints_from_sarif(to_sarif(_summary(str(tmp_path)), FINDINGS)) == {"f1", "f3"}


def test_cyclonedx_lists_unique_components_with_purls() -> None:
    deps = [
        Declared("jinja2", "2.10", "requirements.txt", 1),
        Declared("jinja2", "2.10", "pyproject.toml", 3),
        Declared("click", None, "pyproject.toml", 4),
    ]
    bom = cyclonedx("proj", deps, tool_version="0.1.0")
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.5")
    assert [c["purl"] for c in bom["components"]] == ["pkg:pypi/click", "pkg:pypi/jinja2@2.10"]
    assert "version" not in bom["components"][0]
    assert bom["dependencies"][0]["dependsOn"] == ["pkg:pypi/click", "pkg:pypi/jinja2@2.10"]
    assert bom["serialNumber"].startswith("urn:uuid:")
