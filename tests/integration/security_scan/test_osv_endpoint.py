"""The optional OSV-compatible endpoint, queried over real HTTP on loopback.

osv.dev itself cannot run here, so a small FAKE OSV server (Starlette + uvicorn, `POST /v1/query`)
stands in for it; everything else (httpx client, engine, safety-db) is real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servers.security_scan.scan_ops import ScanEngine
from servers.security_scan.settings import SecurityScanSettings
from tests.integration.security_scan.conftest import VULNERABLE
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
QUERIES: list[dict[str, object]] = []


async def fake_osv_query(request: Request) -> JSONResponse:
    body = await request.json()
    QUERIES.append(body)
    if body["package"]["name"] == "requests":
        vuln = {
            "id": "GHSA-x84v-xcm2-53pg",
            "aliases": ["CVE-2018-18074"],
            "summary": "Authorization header leaked on https-to-http redirect",
            "affected": [
                {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}
            ],
        }
        return JSONResponse({"vulns": [vuln]})
    return JSONResponse({})


async def broken(_request: Request) -> JSONResponse:
    return JSONResponse({"error": "down"}, status_code=503)


@pytest.fixture
async def fake_osv() -> AsyncIterator[str]:
    port = free_port()
    app = Starlette(routes=[Route("/v1/query", fake_osv_query, methods=["POST"]),
                            Route("/broken/v1/query", broken, methods=["POST"])])  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(20):
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await anyio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True


async def test_osv_advisories_join_the_local_database(fake_osv: str, tmp_path: Path) -> None:
    QUERIES.clear()
    settings = SecurityScanSettings(cache_dir=tmp_path, osv_url=fake_osv)  # type: ignore[arg-type]
    report = await ScanEngine(settings).dependencies(VULNERABLE)
    osv = [a for a in report.advisories if a.source.startswith("osv")]
    assert [(a.package, a.ids, a.fixed_versions) for a in osv] == [
        ("requests", ["GHSA-x84v-xcm2-53pg", "CVE-2018-18074"], ["2.20.0"])
    ]
    assert {q["package"]["name"] for q in QUERIES} == {"jinja2", "requests"}  # type: ignore[index]
    assert f"osv {fake_osv}" in report.database


async def test_a_failing_osv_endpoint_is_reported_not_fatal(fake_osv: str, tmp_path: Path) -> None:
    settings = SecurityScanSettings(cache_dir=tmp_path, osv_url=f"{fake_osv}/broken")  # type: ignore[arg-type]
    report = await ScanEngine(settings).dependencies(VULNERABLE)
    assert "failed: HTTPStatusError" in report.database
    assert {a.source for a in report.advisories} == {"safety-db"}
