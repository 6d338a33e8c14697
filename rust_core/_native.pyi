"""Type stubs for the compiled `rust_core._native` module (checked with mypy.stubtest)."""

from collections.abc import Sequence
from typing import final

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

__version__: str

@final
class Quota:
    """A GCRA quota: `rate` cells per `period_s` seconds, at most `burst` cells at once.

    The emission interval (period / rate) is rounded up to whole nanoseconds, so the limiter
    never admits more than the nominal rate.

    Raises:
        ValueError: rate or period not finite and > 0, burst < 1, an emission interval below
            1 ns or a burst window beyond ~146 years.
        OverflowError: burst outside the 64-bit integer range.
    """

    def __new__(cls, rate: float, burst: int, period_s: float = 1.0) -> Quota: ...
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

    def __new__(cls, max_keys: int = 100_000) -> RateLimiter: ...
    def set_rule(self, name: str, quota: Quota) -> None:
        """Add or replace a rule. Replacing keeps existing key state."""
    def rules(self) -> list[str]: ...
    def check(self, rule: str, key: str, cost: int = 1, now_ns: int | None = None) -> Decision:
        """Check and, if allowed, charge `cost` cells to (rule, key).

        `now_ns` is a monotonic clock in nanoseconds (default: the process's monotonic clock);
        pass it only to make tests deterministic, and never mix it with the default clock.

        Raises:
            ValueError: unknown rule; cost < 1; cost greater than the rule's burst (it could
                never be admitted); negative now_ns. UnicodeEncodeError (a ValueError) for
                strings with lone surrogates.
            OverflowError: cost or now_ns outside the 64-bit integer range.
        """
    def check_all(
        self, checks: Sequence[tuple[str, str]], cost: int = 1, now_ns: int | None = None
    ) -> Decision:
        """Atomic multi-rule check: all (rule, key) pairs admit and all are charged, or none is.

        The decision names the first refusing (rule, key); `remaining` is the minimum over pairs
        and `reset_after_ms` the maximum. A pair listed twice is charged twice. When the key
        table is full of keys that still owe, a check needing a new key is refused (fail closed)
        and names the first new pair. Accepts any sequence of (rule, key) tuples.
        """
    def peek(self, rule: str, key: str, now_ns: int | None = None) -> Decision:
        """What `check(rule, key, 1)` would answer, without charging or tracking the key.

        It does not consider whether the key table has room for a new key.
        """
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
    answers: Sequence[str],
    *,
    weights: Sequence[float] | None = None,
    verdicts: Sequence[str | None] | None = None,
    embeddings: Sequence[Sequence[float]] | None = None,
    agreement: Sequence[Sequence[float]] | None = None,
    threshold: float | None = None,
) -> ConsensusReport:
    """Cluster answers by conclusion and measure the consensus.

    Signal precedence: an agreement matrix, else verdicts (blended with the text, or with the
    embeddings when given), else embeddings, else text. A `None` verdict is unknown: pairs with
    that answer use the body similarity. Verdicts that both affirm (or both negate) agree at
    least 0.5; opposite votes never agree. Deterministic and invariant to the order of the
    answers (up to exact ties between indistinguishable answers).

    Default thresholds (chosen on tests/fixtures/answer_groups.json, see the README): text
    0.15, verdicts 0.05, embeddings 0.80, agreement 0.5. At most 256 answers and 64 MiB of text.
    Key points and dissent use at most max(3, 160 / N) sentences per answer (its first ones
    and its last one).

    Raises:
        ValueError: mismatched lengths, negative or non-finite weights (or all zero), a
            non-square agreement matrix or one with values outside [0, 1], embeddings of
            unequal dimension or non-finite values, threshold outside [0, 1], too many answers
            or too much text. UnicodeEncodeError (a ValueError) for lone surrogates.
    """

def text_similarity(a: str, b: str) -> float:
    """The lexical, negation-aware similarity used by `consensus` for two texts, in [0, 1]."""

def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa for `counts[subject][category]` (each row the same number of raters >= 2).

    Raises:
        ValueError: empty input, ragged rows, fewer than 2 raters, or unequal rater counts.
    """
