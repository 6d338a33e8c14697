"""Type stubs for the compiled `rust_core._native` module (checked with mypy.stubtest)."""

from typing import final

__version__: str

@final
class Quota:
    """A GCRA quota: `rate` cells per `period_s` seconds, at most `burst` cells at once.

    Raises:
        ValueError: rate or period not finite and > 0, or burst < 1.
    """

    def __init__(self, rate: float, burst: int, period_s: float = 1.0) -> None: ...
    @property
    def rate(self) -> float: ...
    @property
    def burst(self) -> int: ...
    @property
    def period_s(self) -> float: ...
    @property
    def emission_interval_ns(self) -> int:
        """Nanoseconds between two cells at the sustained rate."""

@final
class Decision:
    """The outcome of a rate-limit check."""

    @property
    def allowed(self) -> bool: ...
    @property
    def remaining(self) -> int:
        """Cells that could still be taken right now (after this check, if it was allowed)."""
    @property
    def retry_after_ms(self) -> int:
        """0 when allowed; otherwise how long until the same check would be allowed."""
    @property
    def reset_after_ms(self) -> int:
        """How long until the key is back to a full burst."""
    @property
    def rule(self) -> str | None:
        """The rule that refused (None when allowed)."""
    @property
    def key(self) -> str | None:
        """The key that refused (None when allowed)."""

@final
class RateLimiter:
    """Keyed GCRA limiter with one quota per named rule; thread safe; bounded memory.

    Args:
        max_keys: the most (rule, key) states kept at once. Fully recovered states are
            evicted first; when every tracked key still holds debt, new keys are refused
            (fail closed) rather than letting a refused key reset itself by eviction.
    """

    def __init__(self, max_keys: int = 100_000) -> None: ...
    def set_rule(self, name: str, quota: Quota) -> None:
        """Add or replace a rule. Replacing keeps existing key state."""
    def rules(self) -> list[str]: ...
    def check(self, rule: str, key: str, cost: int = 1, now_ns: int | None = None) -> Decision:
        """Check and, if allowed, charge `cost` cells to (rule, key).

        Raises:
            ValueError: unknown rule; cost < 1; cost greater than the rule's burst (it could
                never be admitted); negative now_ns.
        """
    def check_all(self, checks: list[tuple[str, str]], cost: int = 1, now_ns: int | None = None) -> Decision:
        """Atomic multi-rule check: all (rule, key) pairs admit and all are charged, or none is.

        The decision names the first refusing (rule, key); `remaining` is the minimum over pairs.
        """
    def peek(self, rule: str, key: str, now_ns: int | None = None) -> Decision:
        """What `check(rule, key, 1)` would answer, without charging."""
    def __len__(self) -> int:
        """Number of (rule, key) states currently tracked."""
    @property
    def max_keys(self) -> int: ...

@final
class Cluster:
    @property
    def members(self) -> list[int]: ...
    @property
    def representative(self) -> int:
        """The medoid: the member with the highest mean similarity to the other members."""
    @property
    def weight(self) -> float:
        """Sum of the members' weights."""
    @property
    def share(self) -> float:
        """weight / total weight, in [0, 1]."""

@final
class Claim:
    @property
    def text(self) -> str: ...
    @property
    def supporters(self) -> list[int]: ...

@final
class ConsensusReport:
    @property
    def signal(self) -> str:
        """Which signal drove the clustering: 'agreement', 'verdicts', 'embeddings' or 'text'."""
    @property
    def threshold(self) -> float: ...
    @property
    def clusters(self) -> list[Cluster]:
        """Heaviest first; ties broken by the smallest member index."""
    @property
    def consensus(self) -> int | None:
        """Index of the consensus answer (the heaviest cluster's representative); None for 0 answers."""
    @property
    def agreement(self) -> float:
        """Weighted share of the heaviest cluster, in [0, 1]; 0.0 for no answers."""
    @property
    def entropy(self) -> float:
        """Semantic entropy (natural log) over cluster shares; 0 when all agree."""
    @property
    def similarity(self) -> list[list[float]]:
        """The N x N similarity matrix actually clustered (symmetric, diagonal 1)."""
    @property
    def key_points(self) -> list[Claim]:
        """Sentence-level claims supported by at least half of the answers."""
    @property
    def dissent(self) -> list[Claim]:
        """Claims made by one answer only (when there are >= 3 answers)."""

def consensus(
    answers: list[str],
    *,
    weights: list[float] | None = None,
    verdicts: list[str | None] | None = None,
    embeddings: list[list[float]] | None = None,
    agreement: list[list[float]] | None = None,
    threshold: float | None = None,
) -> ConsensusReport:
    """Cluster answers by conclusion and measure the consensus.

    Signal precedence: an agreement matrix, else verdicts (blended with the text), else
    embeddings, else text. Deterministic and invariant to the order of the answers.

    Raises:
        ValueError: mismatched lengths, negative or non-finite weights, a non-square or
            non-finite agreement matrix, embeddings of unequal dimension, threshold outside [0, 1].
    """

def text_similarity(a: str, b: str) -> float:
    """The lexical, negation-aware similarity used by `consensus` for two texts, in [0, 1]."""

def fleiss_kappa(counts: list[list[int]]) -> float:
    """Fleiss' kappa for `counts[subject][category]` (each row the same number of raters >= 2).

    Raises:
        ValueError: empty input, ragged rows, fewer than 2 raters, or unequal rater counts.
    """
