"""The experts server's only door to the Rust consensus engine."""

from __future__ import annotations

from rust_core import Claim, Cluster, ConsensusReport, consensus, fleiss_kappa, text_similarity

__all__ = ["Claim", "Cluster", "ConsensusReport", "consensus", "fleiss_kappa", "text_similarity"]
