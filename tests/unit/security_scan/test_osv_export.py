"""The local OSV export: indexed once, rebuilt when a zip changes, zip bombs refused."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from servers.security_scan.osv_export_ops import MAX_MEMBER_BYTES, ExportError, OsvExport

RECORDS = Path(__file__).resolve().parents[2] / "fixtures" / "osv_records"


def _export(folder: Path) -> Path:
    for path in RECORDS.glob("*.json"):
        record = json.loads(path.read_text())
        ecosystem = record["affected"][0]["package"]["ecosystem"].split(":")[0]
        (folder / ecosystem).mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder / ecosystem / "all.zip", "a") as z:
            z.writestr(path.name, path.read_text())
    return folder


def test_index_built_once_and_rebuilt_on_change(tmp_path: Path) -> None:
    export = OsvExport(_export(tmp_path / "export"), tmp_path / "cache", max_total_bytes=10**9)
    info = export.info()
    assert info.ecosystems["npm"] == (3, "2024-02-12")
    built = export.index.stat().st_mtime_ns
    assert export.info() == info and export.index.stat().st_mtime_ns == built  # not rebuilt
    found = export.records("Debian:12", ["curl", "zlib"])
    assert [r["id"] for r in found["curl"]] == ["DSA-5587-1"] and found["zlib"] == []
    with zipfile.ZipFile(tmp_path / "export" / "npm" / "all.zip", "a") as z:
        z.writestr(
            "NEW-1.json",
            json.dumps(
                {
                    "id": "NEW-1",
                    "modified": "2025-03-01T00:00:00Z",
                    "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}}],
                }
            ),
        )
    assert export.info().ecosystems["npm"] == (4, "2025-03-01")


def test_names_are_normalised_per_ecosystem(tmp_path: Path) -> None:
    export = OsvExport(_export(tmp_path / "export"), tmp_path / "cache", max_total_bytes=10**9)
    export.info()
    ids = sorted(r["id"] for r in export.records("PyPI", ["Jinja2"])["jinja2"])
    assert ids == ["GHSA-462w-v97r-4m45", "PYSEC-2019-217"]


def test_a_member_that_expands_past_the_bound_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "export" / "npm"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "all.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.json", b"{" + b" " * (MAX_MEMBER_BYTES + 10) + b"}")
    with pytest.raises(ExportError, match="larger than|expands past"):  # noqa: RUF043
        OsvExport(tmp_path / "export", tmp_path / "cache", max_total_bytes=10**10).info()


def test_total_budget_and_corrupt_zip(tmp_path: Path) -> None:
    export = OsvExport(_export(tmp_path / "export"), tmp_path / "cache", max_total_bytes=100)
    with pytest.raises(ExportError, match="osv_export_max_bytes"):
        export.info()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "all.zip").write_bytes(b"PK not a zip")
    with pytest.raises(ExportError, match="not a readable zip"):
        OsvExport(tmp_path / "bad", tmp_path / "cache2", max_total_bytes=10**9).info()
    assert not list((tmp_path / "cache2").glob("*.sqlite3"))  # no half-built index left to read
