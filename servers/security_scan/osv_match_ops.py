"""Does an OSV record affect a package version? The OSV schema's own evaluation, per range type.

- `versions`: an explicit list; a listed version is affected whatever the ranges say.
- `SEMVER` ranges are compared as semantic versions, `ECOSYSTEM` ranges in the ecosystem's own
  ordering (PEP 440, Maven, RubyGems, Debian, ...). `introduced: "0"` is "from the first version".
- `GIT` ranges name commits: a released version cannot be placed among them, so they are skipped
  (their `versions` list, which OSV fills in from the tags, still counts).
- `withdrawn` records affect nothing. A range whose bounds cannot be read in the ordering is
  reported as unreadable rather than taken as "not affected".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cvss import CVSS3, CVSS4  # type: ignore[import-untyped]
from univers.versions import Version

from servers.security_scan import ecosystem_ops as eco
from servers.security_scan.deps_ops import Declared
from servers.security_scan.models import Advisory

_SEVERITY_WORDS = {
    "low": "low",
    "moderate": "medium",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
DEFAULT_SEVERITY = "high"  # a record that states none: treated as serious, never as harmless


@dataclass(frozen=True, slots=True)
class Match:
    """How a record affects one version."""

    affected: str  # the ranges that matched, in words: ">=4.0.0 <4.17.21"
    fixed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    match: Match | None
    unreadable: bool = False  # some range could not be evaluated for this version


def _events(rng: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for event in rng.get("events") or []:
        if isinstance(event, Mapping):
            for kind in ("introduced", "fixed", "last_affected", "limit"):
                if isinstance(event.get(kind), str):
                    out.append((kind, str(event[kind])))
    return out


def _in_range(events: list[tuple[str, str]], version: Version, read: Any) -> bool:
    """OSV's evaluation: walk the events in version order, toggling on introduced, off on fixed."""
    keyed = []
    for kind, text in events:
        keyed.append((kind, None if (kind == "introduced" and text == "0") else read(text)))
    keyed.sort(key=lambda e: (0,) if e[1] is None else (1, e[1]))
    affected = False
    for kind, at in keyed:
        if kind == "introduced" and (at is None or version >= at):
            affected = True
        elif (kind == "fixed" and at is not None and version >= at) or (
            kind == "last_affected" and at is not None and version > at
        ):
            affected = False
    limits = [at for kind, at in keyed if kind == "limit" and at is not None]
    return affected and (not limits or any(version < limit for limit in limits))


def _describe(events: list[tuple[str, str]]) -> str:
    words = {"introduced": ">=", "fixed": "<", "last_affected": "<=", "limit": "<"}
    parts = [f"{words[k]}{v}" for k, v in events if not (k == "introduced" and v == "0")]
    return " ".join(parts) or "all versions"


def affects(record: Mapping[str, Any], ecosystem: str, name: str, version: str) -> Verdict:
    """Whether `record` affects `name` `version` of `ecosystem` (names already normalised)."""
    if record.get("withdrawn"):
        return Verdict(None)
    wanted_eco, wanted = eco.base(ecosystem), eco.normalise_name(ecosystem, name)
    queried = eco.query_version(ecosystem, version)
    unreadable = False
    for entry in record.get("affected") or []:
        package = entry.get("package") if isinstance(entry, Mapping) else None
        if not isinstance(package, Mapping):
            continue
        entry_eco = str(package.get("ecosystem", ""))
        if (
            eco.base(entry_eco) != wanted_eco
            or eco.normalise_name(entry_eco, str(package.get("name", ""))) != wanted
        ):
            continue
        if ":" in ecosystem and ":" in entry_eco and entry_eco != ecosystem:
            continue  # another release of the distribution (Debian:11 vs Debian:12)
        listed = {str(v) for v in entry.get("versions") or []}
        if version in listed or queried in listed:
            return Verdict(Match("listed version", _fixed(entry)))
        for rng in entry.get("ranges") or []:
            kind = str(rng.get("type", ""))
            if kind not in ("SEMVER", "ECOSYSTEM"):
                continue
            events = _events(rng)
            read = eco.semver if kind == "SEMVER" else functools.partial(eco.parse_version, entry_eco)
            try:
                hit = _in_range(events, read(queried), read)
            except eco.UnknownVersion:
                unreadable = True
                continue
            if hit:
                fixed = tuple(v for k, v in events if k == "fixed")
                return Verdict(Match(_describe(events), fixed))
    return Verdict(None, unreadable)


def _fixed(entry: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(v for rng in entry.get("ranges") or [] for k, v in _events(rng) if k == "fixed")


def severity(record: Mapping[str, Any]) -> tuple[str, str]:
    """The record's severity on the suite's scale, and where it came from.

    The database's own word first (GitHub's LOW/MODERATE/HIGH/CRITICAL), then a CVSS v4/v3 vector's
    base score (computed with the `cvss` library), else DEFAULT_SEVERITY, said so.
    """
    words = [record.get("database_specific"), *[a.get("database_specific") for a in _affected(record)]]
    for block in words:
        if isinstance(block, Mapping):
            word = _SEVERITY_WORDS.get(str(block.get("severity", "")).lower())
            if word:
                return word, "database"
    for item in [
        *(record.get("severity") or []),
        *[s for a in _affected(record) for s in a.get("severity") or []],
    ]:
        score = _cvss_score(item)
        if score is not None:
            return _from_score(score), f"{item.get('type')} {score}"
    return DEFAULT_SEVERITY, "not stated (taken as high)"


def _affected(record: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return [a for a in record.get("affected") or [] if isinstance(a, Mapping)]


def _cvss_score(item: Any) -> float | None:
    if not isinstance(item, Mapping):
        return None
    vector, kind = str(item.get("score", "")), str(item.get("type", ""))
    try:
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score)
        if kind == "CVSS_V3":
            return float(CVSS3(vector).base_score)
    except Exception:  # the library raises many kinds of error on a malformed vector
        return None
    return None


def _from_score(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "info"


def _rank(record: Mapping[str, Any]) -> tuple[int, str]:
    rid = str(record.get("id", ""))
    return (0 if rid.startswith("GHSA-") else 1, rid)  # GitHub's record first: it states a severity


def advisories(
    records: Iterable[Mapping[str, Any]], dep: Declared, *, source: str, date: str | None
) -> tuple[list[Advisory], bool]:
    """The advisories `records` raise for `dep`, one per vulnerability (records that alias each other,
    such as a PYSEC and a GHSA entry of one CVE, count once); and whether some range was unreadable."""
    assert dep.version is not None
    out: list[Advisory] = []
    seen: set[str] = set()
    unreadable = False
    for record in sorted(records, key=_rank):
        names = {str(record.get("id")), *(str(a) for a in record.get("aliases") or [])}
        if names & seen:
            continue
        verdict = affects(record, dep.ecosystem, dep.name, dep.version)
        unreadable |= verdict.unreadable
        if verdict.match is None:
            continue
        seen |= names
        level, level_source = severity(record)
        ids = [str(record.get("id")), *sorted(names - {str(record.get("id"))})]
        out.append(
            Advisory(
                package=dep.name, installed_version=dep.version, affected=verdict.match.affected,
                fixed_versions=list(dict.fromkeys(verdict.match.fixed)), ids=ids,
                summary=str(record.get("summary") or record.get("details") or "")[:500],
                source=f"{source} ({date})" if date else source, file=dep.source, line=dep.line,
                ecosystem=dep.ecosystem, purl=eco.purl(eco.Coordinates(dep.ecosystem, dep.name, dep.version)),
                severity=level, severity_source=level_source, source_date=date,
            )
        )  # fmt: skip
    return out, unreadable
