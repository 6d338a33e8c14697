"""Plain tables on stdout and the CODE/peer ratios (a ratio below 1 means CODE is smaller or faster)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .measure import ColdStart, Footprint, ItemResult, Skipped
from .pairs import PAIRS


def ratio(code: float | None, peer: float | None) -> float | None:
    if code is None or peer is None or peer == 0 or math.isnan(code) or math.isnan(peer):
        return None
    return round(code / peer, 3)


def _r(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 3, align: str = "") -> None:
    """Columns left-aligned for the first `left` (or where `align` has an "l"), right-aligned otherwise."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    align = align or "l" * left + "r" * (len(headers) - left)

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)
        )
        return "  ".join(padded).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def section(title: str) -> None:
    print(f"\n== {title}")


def _by_pair(results: Sequence[ItemResult]) -> dict[str, tuple[ItemResult | None, list[ItemResult]]]:
    grouped: dict[str, tuple[ItemResult | None, list[ItemResult]]] = {}
    for pair in PAIRS:
        mine = [r for r in results if r.pair == pair.key]
        code = next((r for r in mine if r.server.startswith("code:")), None)
        grouped[pair.key] = (code, [r for r in mine if not r.server.startswith("code:")])
    return grouped


def print_tools(results: Sequence[ItemResult], skipped: Sequence[Skipped], labels: Mapping[str, str]) -> None:
    section("Which tool each server answered each pair with (picked by name from its list_tools)")
    titles = {p.key: p.title for p in PAIRS}
    rows = [[titles[r.pair], labels.get(r.server, r.server), r.tool] for r in results]
    rows += [[titles[s.pair], labels.get(s.server, s.server), "— (sits out)"] for s in skipped]
    rows.sort(key=lambda row: list(titles.values()).index(row[0]))
    _table(["pair", "server", "tool"], rows)
    for s in skipped:
        print(f"  {labels.get(s.server, s.server)} sits out {titles[s.pair]!r}: {s.reason}")


def _ok(result: ItemResult) -> bool:
    """A side whose every measured call succeeded (ratios are only taken between those)."""
    return result.errors == 0 and bool(result.latencies_ms)


def latency_ratios(results: Sequence[ItemResult]) -> dict[str, dict[str, Any]]:
    """Per pair: CODE/each peer at p50 and p95, and CODE/the fastest peer at p50."""
    out: dict[str, dict[str, Any]] = {}
    for key, (code, peers) in _by_pair(results).items():
        usable = [r for r in peers if _ok(r)]
        if code is None or not _ok(code) or not usable:
            continue
        fastest = min(usable, key=lambda r: r.p50)
        out[key] = {
            "per_peer": {
                r.server: {"p50": ratio(code.p50, r.p50), "p95": ratio(code.p95, r.p95)} for r in usable
            },
            "best_peer": fastest.server,
            "p50_vs_best": ratio(code.p50, fastest.p50),
        }
    return out


def size_ratios(results: Sequence[ItemResult]) -> dict[str, dict[str, Any]]:
    """Per pair: CODE/each peer in characters (text, structured, combined) and CODE/the smallest peer."""
    out: dict[str, dict[str, Any]] = {}
    for key, (code, peers) in _by_pair(results).items():
        usable = [r for r in peers if _ok(r)]
        if code is None or not _ok(code) or not usable:
            continue
        smallest = min(usable, key=lambda r: r.chars)
        out[key] = {
            "per_peer": {
                r.server: {
                    "text": ratio(code.text_chars, r.text_chars),
                    "structured": ratio(code.structured_chars, r.structured_chars),
                    "combined": ratio(code.chars, r.chars),
                }
                for r in usable
            },
            "smallest_peer": smallest.server,
            "combined_vs_smallest": ratio(code.chars, smallest.chars),
        }
    return out


def print_latency(run: int, results: Sequence[ItemResult], labels: Mapping[str, str], rounds: int) -> None:
    section(f"Run {run}: latency over {rounds} shuffled rounds (ms, official SDK client over stdio)")
    ratios = latency_ratios(results)
    rows = []
    titles = {p.key: p.title for p in PAIRS}
    for key, (code, peers) in _by_pair(results).items():
        for r in [code, *peers] if code else peers:
            if r is None:
                continue
            per = ratios.get(key, {}).get("per_peer", {}).get(r.server, {})
            rows.append(
                [
                    titles[key],
                    labels.get(r.server, r.server),
                    r.tool,
                    f"{r.p50:.2f}",
                    f"{r.p95:.2f}",
                    str(r.errors),
                    _r(per.get("p50")),
                    _r(per.get("p95")),
                ]
            )
    _table(["pair", "server", "tool", "p50", "p95", "errors", "CODE/peer p50", "CODE/peer p95"], rows)


def _found(found: int, facts: int, chars: int) -> str:
    return "—" if chars == 0 else f"{found}/{facts}"


def print_sizes(results: Sequence[ItemResult], labels: Mapping[str, str]) -> None:
    section("What the model reads (last round of run 1): characters (≈ tokens = chars/4), completeness")
    ratios = size_ratios(results)
    titles = {p.key: p.title for p in PAIRS}
    rows = []
    for key, (code, peers) in _by_pair(results).items():
        for r in [code, *peers] if code else peers:
            if r is None:
                continue
            per = ratios.get(key, {}).get("per_peer", {}).get(r.server, {})
            rows.append(
                [
                    titles[key],
                    labels.get(r.server, r.server),
                    f"{r.text_chars:,} (≈{r.text_chars // 4:,})",
                    f"{r.structured_chars:,} (≈{r.structured_chars // 4:,})",
                    f"{r.chars:,} (≈{r.chars // 4:,})",
                    _found(r.text_found, r.facts, r.text_chars),
                    _found(r.structured_found, r.facts, r.structured_chars),
                    _r(per.get("combined")),
                ]
            )
    headers = [
        "pair",
        "server",
        "text",
        "structured",
        "combined",
        "complete: text",
        "structured",
        "CODE/peer",
    ]
    _table(headers, rows, left=2)
    print("\ncomplete = facts found / facts expected:")
    for pair in PAIRS:
        print(f"  {pair.title}: {pair.complete_means}")
    for r in results:
        if r.error_text:
            print(f"  error from {labels.get(r.server, r.server)} {r.tool}: {r.error_text[:200]!r}")


def print_best(runs: Sequence[Sequence[ItemResult]], labels: Mapping[str, str]) -> None:
    section("CODE / best peer, per pair (p50 per run; size from run 1)")
    sizes = size_ratios(runs[0])
    titles = {p.key: p.title for p in PAIRS}
    per_run = [latency_ratios(results) for results in runs]
    rows = []
    for key, title in titles.items():
        if key not in per_run[0]:
            continue
        fastest = labels.get(per_run[0][key]["best_peer"], "")
        latency = " / ".join(_r(run[key]["p50_vs_best"]) for run in per_run if key in run)
        size = sizes.get(key, {})
        rows.append(
            [
                title,
                fastest,
                latency,
                labels.get(size.get("smallest_peer", ""), ""),
                _r(size.get("combined_vs_smallest")),
            ]
        )
    _table(
        ["pair", "fastest peer (run 1)", "p50 ratio by run", "smallest peer", "size ratio"],
        rows,
        align="llrlr",
    )


def _versus(values: Mapping[str, float], compared: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """Per CODE server: its value over the bare server's, over the best (lowest) peer's and each peer's."""
    out: dict[str, dict[str, Any]] = {}
    for server, peers in compared.items():
        if server not in values:
            continue
        ran = [p for p in peers if p in values]
        best = min(ran, key=lambda p: values[p]) if ran else None
        out[server] = {
            "vs_bare": ratio(values[server], values.get("bare")),
            "best_peer": best,
            "vs_best_peer": ratio(values[server], values[best]) if best else None,
            "vs_each_peer": {p: ratio(values[server], values[p]) for p in ran},
        }
    return out


def cold_ratios(
    colds: Sequence[ColdStart], compared: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """On the median spawn → first result; a server whose first call failed is left out."""
    return _versus({c.server: c.summary()["first_result_median_ms"] for c in colds if not c.errors}, compared)


def print_cold(
    colds: Sequence[ColdStart], labels: Mapping[str, str], compared: Mapping[str, Sequence[str]], spawns: int
) -> None:
    section(f"Cold start: spawn → initialize → first tool result (median of {spawns} spawns, ms)")
    ratios = cold_ratios(colds, compared)
    rows = []
    for c in colds:
        s = c.summary()
        r = ratios.get(c.server, {})
        rows.append(
            [
                labels.get(c.server, c.server),
                c.tool,
                f"{s['initialize_median_ms']:.0f}",
                f"{s['first_result_median_ms']:.0f}",
                str(c.errors),
                _r(r.get("vs_bare")) if r else "",
                _r(r.get("vs_best_peer")) if r else "",
                labels.get(r.get("best_peer") or "", ""),
            ]
        )
    headers = [
        "server",
        "first tool",
        "initialize",
        "first result",
        "errors",
        "CODE/bare",
        "CODE/best peer",
        "best peer",
    ]
    _table(headers, rows, align="llrrrrrl")


def memory_ratios(
    prints: Sequence[Footprint], compared: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """On VmRSS after the first reading's call count."""
    return _versus({f.server: f.rss_kib for f in prints}, compared)


def print_memory(
    prints: Sequence[Footprint], labels: Mapping[str, str], compared: Mapping[str, Sequence[str]]
) -> None:
    calls = prints[0].calls if prints else 0
    section(
        f"Memory: VmRSS of each server process (MiB); a fresh process, its pair calls cycled {calls:,} times"
    )
    ratios = memory_ratios(prints, compared)
    rows = []
    for f in prints:
        s = f.summary()
        r = ratios.get(f.server, {})
        growth = "" if s["growth_mib"] is None else f"{s['growth_mib']:+.2f} ({calls:,} → {f.growth_calls:,})"
        rows.append(
            [
                labels.get(f.server, f.server),
                f"{s['rss_at_start_mib']:.1f}",
                f"{s['rss_mib']:.1f}",
                growth,
                str(f.errors),
                _r(r.get("vs_bare")) if r else "",
                _r(r.get("vs_best_peer")) if r else "",
                labels.get(r.get("best_peer") or "", ""),
            ]
        )
    headers = [
        "server",
        "at start",
        f"after {calls:,}",
        "growth",
        "errors",
        "CODE/bare",
        "CODE/best peer",
        "best peer",
    ]
    _table(headers, rows, align="lrrrrrrl")
