"""The public surface of rust_core: exports and module identity (stubs: `python -m mypy.stubtest`)."""

from __future__ import annotations

import rust_core
from rust_core import _native


def test_all_matches_the_compiled_module() -> None:
    public = {name for name in dir(_native) if not name.startswith("_")} | {"__version__"}
    assert set(rust_core.__all__) == public


def test_classes_report_their_module() -> None:
    assert rust_core.RateLimiter.__module__ == "rust_core._native"
    assert rust_core.__version__ == "0.1.0"
