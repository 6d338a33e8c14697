"""CODE's Rust core: keyed GCRA rate limiting and answer consensus.

Only `shared/` imports this package; servers reach it through `shared.ratelimit` and
`shared.consensus`.
"""

try:
    from rust_core._native import (
        Claim,
        Cluster,
        ConsensusReport,
        Decision,
        Quota,
        RateLimiter,
        __version__,
        consensus,
        fleiss_kappa,
        text_similarity,
    )
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "rust_core's compiled module is missing. Build it with `pip install -e .` "
        "(needs a Rust toolchain and maturin) from the repository root."
    ) from exc

__all__ = [
    "Claim",
    "Cluster",
    "ConsensusReport",
    "Decision",
    "Quota",
    "RateLimiter",
    "__version__",
    "consensus",
    "fleiss_kappa",
    "text_similarity",
]
