"""Which advisory source answers for each ecosystem: the freshest configured one that covers it.

`[security_scan] advisory_sources` orders them (default: the OSV API, then the local OSV export, then
safety-db). For each ecosystem the first source that is configured, covers it and answers is used;
a fresher one that failed is named in the answer's note and counts as a problem (the answer is
older than the operator asked for), and an ecosystem no source covers is a problem too: its
dependencies are listed as unchecked, never reported clean.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from servers.security_scan import ecosystem_ops as eco
from servers.security_scan.advisory_ops import AdvisoryDatabase, find_safety_db
from servers.security_scan.deps_ops import Declared
from servers.security_scan.models import Advisory, AdvisorySourceUse
from servers.security_scan.osv_api_ops import OsvApi, OsvApiError, OsvCache, query_of
from servers.security_scan.osv_export_ops import ExportError, OsvExport
from servers.security_scan.osv_match_ops import advisories
from servers.security_scan.settings import SecurityScanSettings


@dataclass(slots=True)
class Answer:
    """Advisories for a set of dependencies, where they came from, and what kept it from complete."""

    advisories: list[Advisory] = field(default_factory=list)
    uses: list[AdvisorySourceUse] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [
            f"{u.ecosystem}: {u.source or 'no source'}" + (f" ({u.date})" if u.date else "")
            for u in self.uses
        ]
        return "; ".join(parts) or "no dependencies"


class AdvisorySources:
    """The configured advisory sources, opened on first use."""

    def __init__(self, settings: SecurityScanSettings) -> None:
        self.settings = settings
        self._db: AdvisoryDatabase | None = None
        cache = settings.resolved_cache_dir()
        self.api = (
            OsvApi(str(settings.osv_url), OsvCache(cache / "osv-api.sqlite3"),
                   timeout_s=settings.osv_timeout_s, ttl_s=settings.osv_cache_ttl_s)
            if settings.osv_url is not None and "osv-api" in settings.advisory_sources else None
        )  # fmt: skip
        self.export = (
            OsvExport(settings.osv_export_dir, cache, max_total_bytes=settings.osv_export_max_bytes)
            if settings.osv_export_dir is not None and "osv-export" in settings.advisory_sources else None
        )  # fmt: skip

    def safety_db(self) -> AdvisoryDatabase | None:
        if self._db is None and "safety-db" in self.settings.advisory_sources:
            source = self.settings.advisory_db or find_safety_db(self.settings.resolved_venv())
            if source is not None and source.is_file():
                self._db = AdvisoryDatabase(source)
        return self._db

    def configured(self) -> bool:
        return self.api is not None or self.export is not None or self.safety_db() is not None

    async def check(self, deps: list[Declared]) -> Answer:
        """Advisories for every pinned dependency, each ecosystem from its freshest answering source."""
        answer = Answer()
        groups: dict[str, list[Declared]] = defaultdict(list)
        for d in deps:
            if d.version is not None:
                groups[d.ecosystem].append(d)
        for ecosystem in sorted(groups):
            await self._check_ecosystem(ecosystem, groups[ecosystem], answer)
        return answer

    async def _check_ecosystem(self, ecosystem: str, deps: list[Declared], answer: Answer) -> None:
        notes: list[str] = []
        for source in self.settings.advisory_sources:
            try:
                found = await self._ask(source, ecosystem, deps, notes)
            except (OsvApiError, httpx.HTTPError, ExportError, OSError) as exc:
                notes.append(f"{source} failed ({type(exc).__name__}: {str(exc)[:200]})")
                continue
            if found is None:
                continue
            date, results, unreadable = found
            answer.advisories += results
            answer.unchecked += unreadable
            failed = [n for n in notes if " failed " in n]
            note = "; ".join(notes) or None
            answer.uses.append(AdvisorySourceUse(ecosystem=ecosystem, dependencies=len(deps), source=source,
                                                 date=date, note=note))  # fmt: skip
            if failed:
                answer.problems.append(
                    f"{ecosystem}: {'; '.join(failed)}; answered from {source} ({date}) instead"
                )
            return
        notes.append("configure [security_scan] osv_url or osv_export_dir for this ecosystem")
        answer.uses.append(AdvisorySourceUse(ecosystem=ecosystem, dependencies=len(deps), source=None,
                                             note="; ".join(notes)))  # fmt: skip
        answer.unchecked += [f"{d.name}@{d.version}" for d in deps]
        answer.problems.append(f"no advisory source covers {ecosystem} ({len(deps)} dependencies unchecked)")

    async def _ask(
        self, source: str, ecosystem: str, deps: list[Declared], notes: list[str]
    ) -> tuple[str, list[Advisory], list[str]] | None:
        """(date, advisories, unreadable versions), or None when this source does not cover it."""
        if source == "osv-api" and self.api is not None:
            queries = {id(d): query_of(d.ecosystem, d.name, str(d.version)) for d in deps}
            by_query, date = await self.api.lookup(list(queries.values()))
            return self._match(deps, lambda d: by_query.get(queries[id(d)], []), "osv-api", date)
        if source == "osv-export" and self.export is not None:
            export = self.export
            info = await anyio.to_thread.run_sync(export.info)
            held = info.ecosystems.get(eco.base(ecosystem))
            if held is None:
                notes.append(f"osv-export holds no {eco.base(ecosystem)} records")
                return None
            names = [d.name for d in deps]
            by_name = await anyio.to_thread.run_sync(lambda: export.records(ecosystem, names))
            date = f"data to {held[1]}"
            return self._match(deps, lambda d: by_name.get(eco.normalise_name(ecosystem, d.name), []),
                               "osv-export", date)  # fmt: skip
        if source == "safety-db" and eco.base(ecosystem) == "PyPI" and (db := self.safety_db()) is not None:
            return db.date, [a for d in deps for a in db.check(d)], []
        return None

    @staticmethod
    def _match(
        deps: list[Declared], records_of: Any, source: str, date: str
    ) -> tuple[str, list[Advisory], list[str]]:
        found: list[Advisory] = []
        unreadable: list[str] = []
        for d in deps:
            try:
                eco.parse_version(d.ecosystem, eco.query_version(d.ecosystem, str(d.version)))
            except eco.UnknownVersion:
                unreadable.append(f"{d.name}@{d.version}")
                continue
            results, partly = advisories(records_of(d), d, source=source, date=date)
            found += results
            if partly and not results:
                unreadable.append(f"{d.name}@{d.version}")
        return date, found, unreadable
