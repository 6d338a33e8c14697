"""Declared dependencies from every file format, and their advisories from a safety-db database."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from servers.security_scan.advisory_ops import AdvisoryDatabase, find_safety_db
from servers.security_scan.deps_ops import (
    Declared,
    parse_lock,
    parse_pipfile_lock,
    parse_pyproject,
    parse_requirements,
)
from servers.security_scan.manifest_ops import by_package, read_dependencies
from servers.security_scan.osv_api_ops import OsvApi, OsvCache, query_of
from servers.security_scan.tree_ops import Limits, collect


def test_requirements_pins_ranges_options_and_markers() -> None:
    text = """# comment
Jinja2==2.10  # pinned
requests>=2.0
-r other.txt
--index-url https://example.invalid/simple
git+https://example.invalid/repo.git
urllib3==1.24.1 ; python_version >= "3"
Django===3.0.1
not a requirement !!
"""
    deps = parse_requirements(text, "requirements.txt")
    assert [(d.name, d.version, d.line) for d in deps] == [
        ("jinja2", "2.10", 2),
        ("requests", None, 3),
        ("urllib3", "1.24.1", 7),
        ("django", "3.0.1", 8),
    ]


def test_pyproject_pep621_and_poetry() -> None:
    text = """
[project]
dependencies = ["requests==2.19.0", "click>=8"]
[project.optional-dependencies]
web = ["flask==0.12"]
[tool.poetry.dependencies]
python = "^3.11"
pyyaml = "5.3"
rich = {version = "^13"}
"""
    deps = {(d.name, d.version) for d in parse_pyproject(text, "pyproject.toml")}
    assert deps == {
        ("requests", "2.19.0"),
        ("click", None),
        ("flask", "0.12"),
        ("pyyaml", "5.3"),
        ("rich", None),
    }


def test_lock_files() -> None:
    lock = '[[package]]\nname = "Jinja2"\nversion = "2.10"\n\n[[package]]\nname = "six"\nversion = "1.16.0"\n'
    assert [(d.name, d.version, d.line) for d in parse_lock(lock, "poetry.lock")] == [
        ("jinja2", "2.10", 2),
        ("six", "1.16.0", 6),
    ]
    pipfile = json.dumps({"default": {"requests": {"version": "==2.19.0"}}, "develop": {"pytest": {}}})
    assert [(d.name, d.version) for d in parse_pipfile_lock(pipfile, "Pipfile.lock")] == [
        ("requests", "2.19.0"),
        ("pytest", None),
    ]


def test_read_dependencies_reports_unparseable_files(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("requests==2.19.0\n")
    (root / "pyproject.toml").write_text("[project\nbroken")
    (root / "app.py").write_text("import requests\n")
    (tmp_path / "stage").mkdir()
    tree = collect(root, stage=tmp_path / "stage", limits=Limits(max_file_bytes=10_000, max_files=10))
    deps, read, broken = read_dependencies(tree.files)
    assert [(d.name, d.version) for d in deps] == [("requests", "2.19.0")]
    assert (read, broken) == (["requirements.txt"], ["pyproject.toml"])


def test_by_package_keeps_the_first_declaration() -> None:
    deps = [Declared("a", "1", "x.txt", 1), Declared("a", "1", "y.txt", 2), Declared("a", "2", "y.txt", 3)]
    assert [d.source for d in by_package(deps).values()] == ["x.txt", "y.txt"]


@pytest.fixture
def small_db(tmp_path: Path) -> AdvisoryDatabase:
    data = {
        "$meta": {"advisory": "PyUp.io metadata", "timestamp": 1625119202},
        "Jinja2": [
            {"advisory": "sandbox escape", "cve": "CVE-2019-10906", "id": "pyup.io-1", "specs": ["<2.10.1"]},
            {"advisory": "ReDoS", "cve": None, "id": "pyup.io-2", "specs": [">=0.0.0,<2.11.3"]},
            {"advisory": "old", "cve": None, "id": "pyup.io-3", "specs": ["<2.0"]},
            {"advisory": "odd", "cve": None, "id": "pyup.io-4", "specs": ["not a spec"]},
            {"advisory": "at most", "cve": None, "id": "pyup.io-5", "v": "<=2.10"},
        ],
    }
    file = tmp_path / "insecure_full.json"
    file.write_text(json.dumps(data))
    return AdvisoryDatabase(file)


def test_advisories_match_affected_ranges(small_db: AdvisoryDatabase) -> None:
    found = small_db.check(Declared("jinja2", "2.10", "requirements.txt", 1))
    assert [(a.ids, a.fixed_versions) for a in found] == [
        (["CVE-2019-10906", "pyup.io-1"], ["2.10.1"]),
        (["pyup.io-2"], ["2.11.3"]),
        (["pyup.io-5"], []),
    ]
    assert small_db.label == "safety-db (2021-07-01)"


@pytest.mark.parametrize("version", [None, "3.1.4", "not-a-version"])
def test_no_advisory_without_an_affected_version(small_db: AdvisoryDatabase, version: str | None) -> None:
    assert small_db.check(Declared("jinja2", version, "r.txt", 1)) == []


def test_find_safety_db_in_a_scanners_venv(tmp_path: Path) -> None:
    target = tmp_path / "lib" / "python3.11" / "site-packages" / "safety_db" / "insecure_full.json"
    target.parent.mkdir(parents=True)
    target.write_text("{}")
    found = find_safety_db(tmp_path)
    assert found is not None
    assert found.name == "insecure_full.json"


@pytest.mark.anyio
async def test_osv_endpoint_failure_raises_http_error(tmp_path: Path) -> None:
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    api = OsvApi("http://127.0.0.1:9", OsvCache(tmp_path / "osv.sqlite3"), timeout_s=5, ttl_s=60)
    with pytest.raises(httpx.HTTPError):
        await api.lookup([query_of("PyPI", "jinja2", "2.10")])


def test_requirements_with_hashes_and_continuations() -> None:
    text = "jinja2==2.10 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\nsix==1.16.0 --hash=sha256:cc\n"
    deps = parse_requirements(text, "requirements.txt")
    assert [(d.name, d.version, d.line) for d in deps] == [("jinja2", "2.10", 1), ("six", "1.16.0", 4)]
