"""The OSV API (`POST /v1/querybatch`, then `GET /v1/vulns/{id}`), with an on-disk cache.

The endpoint comes from configuration only and is checked with `shared.urls` (http/https, no
credentials, never a metadata address); redirects are not followed and every response is read
with a size bound. Query answers are cached for `ttl_s`; a record is fetched again only when the
batch answer shows a newer `modified` than the cached copy, so a warm cache answers a rescan of
an unchanged project with one batch request, or none.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from servers.security_scan import ecosystem_ops as eco
from shared.urls import check_url

BATCH = 1000  # the API's own limit per querybatch
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
MAX_PAGES = 20  # next_page_token rounds for one package
FETCH_CONCURRENCY = 8

Query = tuple[str, str, str]  # (ecosystem, normalised name, version)


class OsvApiError(Exception):
    """The endpoint failed or answered something that is not OSV."""


def checked_base_url(url: str) -> str:
    """The configured URL, refused when it is not a plain http(s) URL or points at a metadata service."""
    return check_url(url, [url]).rstrip("/")


class OsvCache:
    """SQLite: query -> (vuln ids with modified, fetched at); id -> (modified, record)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS queries (key TEXT PRIMARY KEY, vulns TEXT, at REAL)")
            db.execute("CREATE TABLE IF NOT EXISTS vulns (id TEXT PRIMARY KEY, modified TEXT, body TEXT)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    @staticmethod
    def key(q: Query) -> str:
        return "\0".join(q)

    def queries(
        self, qs: Sequence[Query], *, newer_than: float
    ) -> dict[Query, tuple[list[tuple[str, str]], float]]:
        """Cached answers newer than `newer_than`, with the time each was fetched."""
        found: dict[Query, tuple[list[tuple[str, str]], float]] = {}
        keys = {self.key(q): q for q in qs}
        with closing(self._connect()) as db:
            wanted = list(keys)
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT key, vulns, at FROM queries WHERE at > ? AND key IN ({marks})"  # noqa: S608 - placeholders only
                for key, vulns, at in db.execute(sql, [newer_than, *chunk]):
                    found[keys[key]] = ([(str(a), str(b)) for a, b in json.loads(vulns)], float(at))
        return found

    def put_queries(self, answers: dict[Query, list[tuple[str, str]]], at: float) -> None:
        rows = [(self.key(q), json.dumps(v), at) for q, v in answers.items()]
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO queries VALUES (?, ?, ?)", rows)

    def vulns(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT id, modified, body FROM vulns WHERE id IN ({marks})"  # noqa: S608 - placeholders only
                for rid, modified, body in db.execute(sql, chunk):
                    out[rid] = (modified, json.loads(body))
        return out

    def put_vulns(self, records: list[dict[str, Any]]) -> None:
        rows = [(r["id"], str(r.get("modified", "")), json.dumps(r)) for r in records]
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO vulns VALUES (?, ?, ?)", rows)


async def _json(client: httpx.AsyncClient, method: str, url: str, body: Any = None) -> Any:
    async with client.stream(method, url, json=body) as response:
        if response.status_code != 200:
            raise OsvApiError(f"{method} {url}: HTTP {response.status_code}")
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > MAX_RESPONSE_BYTES:
                raise OsvApiError(f"{method} {url}: the answer is larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise OsvApiError(f"{method} {url}: not JSON") from exc


class OsvApi:
    """Records affecting each queried package version, from the API or the cache."""

    def __init__(self, base_url: str, cache: OsvCache, *, timeout_s: float, ttl_s: float) -> None:
        self.base_url = checked_base_url(base_url)
        self.cache = cache
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s

    async def lookup(self, queries: Sequence[Query]) -> tuple[dict[Query, list[dict[str, Any]]], str]:
        """The records for each query and the time of the oldest answer used (ISO, UTC).

        Raises:
            OsvApiError, httpx.HTTPError: the endpoint failed; nothing is returned half-answered.
        """
        now = time.time()
        unique = list(dict.fromkeys(queries))
        cached = await anyio.to_thread.run_sync(
            lambda: self.cache.queries(unique, newer_than=now - self.ttl_s)
        )
        todo = [q for q in unique if q not in cached]
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            fresh = await self._batch(client, todo) if todo else {}
            answers = {q: vulns for q, (vulns, _) in cached.items()} | fresh
            wanted = {rid: modified for vulns in answers.values() for rid, modified in vulns}
            have = await anyio.to_thread.run_sync(lambda: self.cache.vulns(sorted(wanted)))
            stale = [rid for rid, modified in wanted.items() if rid not in have or have[rid][0] != modified]
            fetched = await self._records(client, stale)
        await anyio.to_thread.run_sync(lambda: self.cache.put_queries(fresh, now))
        await anyio.to_thread.run_sync(lambda: self.cache.put_vulns(fetched))
        records = {rid: body for rid, (_, body) in have.items()} | {r["id"]: r for r in fetched}
        result = {q: [records[rid] for rid, _ in answers[q] if rid in records] for q in unique}
        oldest = min([now, *(at for _, at in cached.values())])
        return result, datetime.fromtimestamp(oldest, UTC).strftime("%Y-%m-%dT%H:%MZ")

    async def _batch(
        self, client: httpx.AsyncClient, todo: list[Query]
    ) -> dict[Query, list[tuple[str, str]]]:
        out: dict[Query, list[tuple[str, str]]] = {}
        pending: list[tuple[Query, str | None]] = [(q, None) for q in todo]
        for _ in range(MAX_PAGES):
            if not pending:
                break
            next_round: list[tuple[Query, str | None]] = []
            for start in range(0, len(pending), BATCH):
                chunk = pending[start : start + BATCH]
                body = {"queries": [_query_body(q, token) for q, token in chunk]}
                data = await _json(client, "POST", f"{self.base_url}/v1/querybatch", body)
                results = data.get("results") if isinstance(data, dict) else None
                if not isinstance(results, list) or len(results) != len(chunk):
                    raise OsvApiError("querybatch: the answer does not have one result per query")
                for (q, _), result in zip(chunk, results, strict=True):
                    vulns = result.get("vulns") or [] if isinstance(result, dict) else []
                    out.setdefault(q, []).extend(
                        (str(v["id"]), str(v.get("modified", "")))
                        for v in vulns
                        if isinstance(v, dict) and "id" in v
                    )
                    token = result.get("next_page_token") if isinstance(result, dict) else None
                    if isinstance(token, str) and token:
                        next_round.append((q, token))
            pending = next_round
        if pending:
            raise OsvApiError(f"querybatch: still paging after {MAX_PAGES} rounds")
        return out

    async def _records(self, client: httpx.AsyncClient, ids: list[str]) -> list[dict[str, Any]]:
        fetched: list[dict[str, Any]] = []
        limiter = anyio.Semaphore(FETCH_CONCURRENCY)

        async def one(rid: str) -> None:
            async with limiter:
                record = await _json(client, "GET", f"{self.base_url}/v1/vulns/{quote(rid, safe='')}")
            if not isinstance(record, dict) or record.get("id") != rid:
                raise OsvApiError(f"/v1/vulns/{rid}: not the record asked for")
            fetched.append(record)

        async with anyio.create_task_group() as tg:
            for rid in ids:
                tg.start_soon(one, rid)
        return fetched


def _query_body(q: Query, token: str | None) -> dict[str, Any]:
    ecosystem, name, version = q
    body: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}, "version": version}
    if token:
        body["page_token"] = token
    return body


def query_of(ecosystem: str, name: str, version: str) -> Query:
    return (ecosystem, eco.normalise_name(ecosystem, name), eco.query_version(ecosystem, version))
