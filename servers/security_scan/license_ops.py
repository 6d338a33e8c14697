"""Licence inventory and policy: SPDX expressions parsed with `license-expression` (aboutcode.org).

A component's expression is checked the way a person would: `MIT OR GPL-3.0-only` is fine when MIT
is allowed (one may pick it), `MIT AND GPL-3.0-only` is not when GPL-3.0-only is denied. Without a
policy (`[security_scan] license_allowed` / `license_denied` both empty) the inventory is listed
and nothing is a finding. An unknown licence is one the file does not state, or states in words
that are not an SPDX expression ("BSD", "Apache 2.0"): never taken as acceptable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from license_expression import Licensing, get_spdx_licensing  # type: ignore[import-untyped]

from servers.security_scan.deps_ops import Declared
from servers.security_scan.findings_ops import fingerprint
from servers.security_scan.models import Finding, LicenseEntry, Severity

MAX_EXPRESSION_CHARS = 512
Verdict = Literal["allowed", "denied", "not_allowed", "unknown", "no_policy"]
# Trove classifiers of PyPI metadata -> SPDX id, for packages that state no expression.
CLASSIFIERS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "BSD License": "BSD-3-Clause",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
}


@cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


def normalise(text: str | None) -> str | None:
    """The SPDX expression `text` states, normalised; None when it states none or not in SPDX terms."""
    if not text or len(text) > MAX_EXPRESSION_CHARS:
        return None
    licensing = _licensing()
    try:
        info = licensing.validate(text.strip())
    except Exception:  # the library raises several kinds (ExpressionError, AttributeError) on odd input
        return None
    if info.errors or info.normalized_expression is None:
        return None
    return str(info.normalized_expression)


@dataclass(frozen=True, slots=True)
class LicensePolicy:
    allowed: frozenset[str]
    denied: frozenset[str]

    @property
    def active(self) -> bool:
        return bool(self.allowed or self.denied)

    def judge(self, expression: str | None) -> Verdict:
        """What the policy says of a component licensed under `expression` (already normalised)."""
        if not self.active:
            return "no_policy"
        if expression is None:
            return "unknown"
        licensing = _licensing()
        parsed = licensing.parse(expression)
        symbols = licensing.license_symbols(parsed, decompose=False)

        def satisfiable(ok: Any) -> bool:
            value = parsed.subs({s: licensing.TRUE if ok(_key(s)) else licensing.FALSE for s in symbols})
            return bool(value.simplify() == licensing.TRUE)

        if self.denied and not satisfiable(lambda key: key not in self.denied):
            return "denied"
        if self.allowed and not satisfiable(lambda key: key in self.allowed):
            return "not_allowed"
        return "allowed"


def _key(symbol: Any) -> str:
    """A symbol's licence id; a `WITH` exception is judged by its licence."""
    inner = getattr(symbol, "license_symbol", symbol)
    return str(inner.key)


def from_python_metadata(expression: str | None, licence: str | None, classifiers: list[str]) -> str | None:
    """A dist-info's licence: PEP 639 `License-Expression`, else an SPDX `License:` field, else the
    one licence its trove classifiers name (several: unknown, the metadata does not say how they combine)."""
    for candidate in (expression, licence):
        found = normalise(candidate)
        if found:
            return found
    named = {
        CLASSIFIERS[c.rsplit(" :: ", 1)[-1]] for c in classifiers if c.rsplit(" :: ", 1)[-1] in CLASSIFIERS
    }
    return named.pop() if len(named) == 1 else None


_ORDER = {"denied": 0, "not_allowed": 1, "unknown": 2, "allowed": 3, "no_policy": 4}
_FIX = (
    "Replace the package or get it under an allowed licence; an accepted exception goes in the operator's "
    "suppression file, with its reason."
)
_FIX_UNKNOWN = "Check the package's licence; once known, allow it or suppress the finding with the reason."
_FINDING: dict[str, tuple[str, Severity, str]] = {
    "denied": ("license-denied", "high", "is licensed only under a denied licence"),
    "not_allowed": ("license-not-allowed", "medium", "is not licensed under any allowed licence"),
    "unknown": ("license-unknown", "low", "states no SPDX licence"),
}


def inventory(deps: list[Declared], policy: LicensePolicy) -> list[LicenseEntry]:
    """Every distinct component with its licence verdict, worst first."""
    seen: dict[tuple[str, str, str | None], LicenseEntry] = {}
    for d in deps:
        key = (d.ecosystem, d.name, d.version)
        if key in seen:
            continue
        expression = normalise(d.license)
        seen[key] = LicenseEntry(name=d.name, version=d.version, ecosystem=d.ecosystem, license=expression,
                                 verdict=policy.judge(expression), source=d.source)  # fmt: skip
    return sorted(seen.values(), key=lambda e: (_ORDER[e.verdict], e.ecosystem, e.name))


def license_findings(entries: list[LicenseEntry], lines: dict[tuple[str, str], int]) -> list[Finding]:
    """Findings for denied, not-allowed and unknown licences (`lines`: (source, name) -> line)."""
    out = []
    for e in entries:
        if e.verdict not in _FINDING:
            continue
        rule, level, words = _FINDING[e.verdict]
        shown = f"{e.name}@{e.version}" if e.version else e.name
        out.append(
            Finding(
                id=fingerprint("licenses", rule, e.source, f"{e.ecosystem}\0{e.name}\0{e.version}", 1),
                scanner="licenses", rule_id=rule, severity=level, category="license",
                path=e.source, line=lines.get((e.source, e.name), 0),
                message=f"{e.ecosystem} package {shown} {words}" + (f" ({e.license})." if e.license else "."),
                snippet=shown,
                fix_hint=_FIX_UNKNOWN if e.verdict == "unknown" else _FIX,
            )
        )  # fmt: skip
    return out
