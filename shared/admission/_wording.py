"""How pod-security-admission words its results (policy/helpers.go), shared by the checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from shared.admission._fields import quote

__all__ = ["Result", "containers", "jq", "pl"]

Result: TypeAlias = tuple[str, str, list[str]] | None  # (forbidden reason, forbidden detail, paths)


def pl(singular: str, plural: str, count: int) -> str:
    """`pluralize`."""
    return singular if count == 1 else plural


def jq(items: Iterable[str]) -> str:
    """`joinQuote`: `"a", "b"` (each item escaped and cut, as a hostile name may be anything)."""
    return ", ".join(quote(item) for item in items)


def containers(names: list[str]) -> str:
    """`container "a"` / `containers "a", "b"`."""
    return f"{pl('container', 'containers', len(names))} {jq(names)}"
