"""An OSV-compatible API on loopback (Starlette + uvicorn), serving the fixture records.

osv.dev cannot run here, so this small server stands in for it: `POST /v1/querybatch` answers each
query with the ids (and `modified`) of every fixture record naming the package, whatever the
version — a superset of what osv.dev returns, so the client's own range evaluation is what decides
(and is tested); `GET /v1/vulns/{id}` returns the record. It counts requests, and can be told to fail.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from packaging.utils import canonicalize_name
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.services import free_port

RECORDS = Path(__file__).resolve().parents[2] / "fixtures" / "osv_records"


def load_records(folder: Path = RECORDS) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in (json.loads(p.read_text()) for p in sorted(folder.glob("*.json")))}


def _key(ecosystem: str, name: str) -> tuple[str, str]:
    base = ecosystem.split(":", 1)[0]
    return base, canonicalize_name(name) if base == "PyPI" else name.lower() if base == "Packagist" else name


@dataclass
class OsvServer:
    url: str
    records: dict[str, dict[str, Any]]
    requests: Counter[str] = field(default_factory=Counter)
    failing: bool = False


@asynccontextmanager
async def osv_server(records: dict[str, dict[str, Any]] | None = None) -> AsyncIterator[OsvServer]:
    held = records if records is not None else load_records()
    index: dict[tuple[str, str], list[str]] = {}
    for rid, record in held.items():
        for affected in record.get("affected", []):
            index.setdefault(_key(affected["package"]["ecosystem"], affected["package"]["name"]), []).append(
                rid
            )
    port = free_port()
    state = OsvServer(f"http://127.0.0.1:{port}", held)

    async def querybatch(request: Request) -> JSONResponse:
        state.requests["querybatch"] += 1
        if state.failing:
            return JSONResponse({"code": 14, "message": "unavailable"}, status_code=503)
        body = await request.json()
        results = []
        for q in body["queries"]:
            ids = index.get(_key(q["package"]["ecosystem"], q["package"]["name"]), [])
            results.append(
                {"vulns": [{"id": i, "modified": held[i]["modified"]} for i in ids]} if ids else {}
            )
        return JSONResponse({"results": results})

    async def vuln(request: Request) -> JSONResponse:
        state.requests["vulns"] += 1
        rid = request.path_params["rid"]
        return JSONResponse(held[rid]) if rid in held else JSONResponse({"code": 5}, status_code=404)

    app = Starlette(
        routes=[
            Route("/v1/querybatch", querybatch, methods=["POST"]),
            Route("/v1/vulns/{rid}", vuln, methods=["GET"]),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(20):
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await anyio.sleep(0.01)
        try:
            yield state
        finally:
            server.should_exit = True


def build_export(folder: Path, records: dict[str, dict[str, Any]] | None = None) -> Path:
    """An OSV export folder: one `<Ecosystem>/all.zip` per ecosystem, as osv.dev publishes them."""
    import zipfile

    for rid, record in (records if records is not None else load_records()).items():
        for ecosystem in {a["package"]["ecosystem"].split(":", 1)[0] for a in record["affected"]}:
            (folder / ecosystem).mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(folder / ecosystem / "all.zip", "a") as z:
                z.writestr(f"{rid}.json", json.dumps(record))
    return folder
