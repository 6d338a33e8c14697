"""The rate limiter through the Python binding: behaviour a caller sees, and hostile inputs."""

from __future__ import annotations

import threading

import pytest

from rust_core import Decision, Quota, RateLimiter

SECOND = 1_000_000_000


def limiter(max_keys: int = 100, **rules: Quota) -> RateLimiter:
    lim = RateLimiter(max_keys)
    for name, quota in rules.items():
        lim.set_rule(name, quota)
    return lim


def test_burst_then_refusal_with_exact_retry_after() -> None:
    lim = limiter(api=Quota(2, 3))  # 2 per second: one cell every 500 ms
    allowed = [lim.check("api", "alice", now_ns=0) for _ in range(3)]
    assert [d.allowed for d in allowed] == [True, True, True]
    assert [d.remaining for d in allowed] == [2, 1, 0]
    refused = lim.check("api", "alice", now_ns=0)
    assert not refused.allowed
    assert (refused.rule, refused.key) == ("api", "alice")
    assert refused.retry_after_ms == 500
    assert refused.reset_after_ms == 1500
    assert lim.check("api", "alice", now_ns=500 * 1_000_000).allowed
    # Other keys have their own budget.
    assert lim.check("api", "bob", now_ns=0).allowed


def test_cost_weighted_and_period() -> None:
    lim = limiter(consensus=Quota(rate=10, burst=10, period_s=60.0))
    d = lim.check("consensus", "alice", cost=10, now_ns=0)
    assert d.allowed and d.remaining == 0
    d = lim.check("consensus", "alice", cost=1, now_ns=0)
    assert not d.allowed and d.retry_after_ms == 6000


def test_multi_rule_check_is_all_or_nothing_and_names_the_refuser() -> None:
    lim = limiter(glob=Quota(100, 100), ident=Quota(1, 5), tool=Quota(1, 1))
    checks = [("glob", "*"), ("ident", "alice"), ("tool", "alice:deploy")]
    assert lim.check_all(checks, now_ns=0).allowed
    before = [lim.peek(r, k, now_ns=0).remaining for r, k in checks]
    refused = lim.check_all(checks, now_ns=0)
    assert not refused.allowed
    assert (refused.rule, refused.key) == ("tool", "alice:deploy")
    assert [lim.peek(r, k, now_ns=0).remaining for r, k in checks] == before
    # A tuple of pairs works too, and a different tool of the same identity is not blocked.
    assert lim.check_all((("glob", "*"), ("ident", "alice"), ("tool", "alice:list")), now_ns=0).allowed


def test_peek_does_not_charge_or_track() -> None:
    lim = limiter(r=Quota(1, 2))
    for _ in range(5):
        assert lim.peek("r", "k", now_ns=0).remaining == 1
    assert len(lim) == 0


def test_real_clock_is_the_default() -> None:
    lim = limiter(r=Quota(1, 1, period_s=3600))
    assert lim.check("r", "k").allowed
    d = lim.check("r", "k")
    assert not d.allowed and 3_500_000 < d.retry_after_ms <= 3_600_000


def test_replacing_a_rule_keeps_key_state() -> None:
    lim = limiter(r=Quota(1, 1))
    assert lim.check("r", "k", now_ns=0).allowed
    lim.set_rule("r", Quota(1, 2))
    assert lim.rules() == ["r"]
    assert lim.check("r", "k", now_ns=0).allowed
    assert not lim.check("r", "k", now_ns=0).allowed


def test_flood_of_new_keys_is_bounded_and_cannot_reset_a_refused_key() -> None:
    lim = limiter(max_keys=50, r=Quota(1, 2))
    lim.check("r", "victim", cost=2, now_ns=0)
    assert not lim.check("r", "victim", now_ns=0).allowed
    refused_new = 0
    for i in range(5000):
        d = lim.check("r", f"attacker-{i}", now_ns=100)
        refused_new += not d.allowed
        assert len(lim) <= 50
    # The table filled with indebted keys: new keys are refused (fail closed) ...
    assert refused_new == 5000 - 49
    # ... and the victim still owes.
    assert not lim.check("r", "victim", now_ns=200).allowed
    # Once everyone has recovered, room comes back.
    assert lim.check("r", "newcomer", now_ns=3 * SECOND).allowed
    assert len(lim) == 1
    assert lim.max_keys == 50


def test_threads_share_one_budget() -> None:
    lim = limiter(r=Quota(1, 1000))
    counts: list[int] = []

    def worker() -> None:
        counts.append(sum(lim.check("r", "k", now_ns=0).allowed for _ in range(500)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 1000


def test_decision_and_quota_are_read_only() -> None:
    q = Quota(3, 2)
    assert (q.rate, q.burst, q.period_s, q.emission_interval_ns) == (3.0, 2, 1.0, 333_333_334)
    d = limiter(r=q).check("r", "k", now_ns=0)
    assert isinstance(d, Decision)
    with pytest.raises(AttributeError):
        d.allowed = False  # type: ignore[misc]
    assert "allowed=True" in repr(d) and "Quota(rate=3" in repr(q)


@pytest.mark.parametrize(
    ("rate", "burst", "period"),
    [
        (float("nan"), 1, 1.0),
        (float("inf"), 1, 1.0),
        (-1.0, 1, 1.0),
        (0.0, 1, 1.0),
        (1.0, 0, 1.0),
        (1.0, -5, 1.0),
        (1.0, 1, float("nan")),
        (1.0, 1, 0.0),
        (1.0, 1, -1.0),
        (1e12, 1, 1.0),  # below 1 ns per cell
        (1e-300, 1, 1.0),  # one cell per eternity
        (1.0, 2**62, 1.0),  # burst spans centuries
    ],
)
def test_hostile_quotas_are_refused(rate: float, burst: int, period: float) -> None:
    with pytest.raises(ValueError, match="invalid quota"):
        Quota(rate, burst, period)


def test_out_of_range_integers_are_refused() -> None:
    with pytest.raises(OverflowError):
        Quota(1.0, 2**70)
    lim = limiter(r=Quota(1, 5))
    with pytest.raises(OverflowError):
        lim.check("r", "k", cost=2**80)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rule": "nope"}, "unknown rule"),
        ({"cost": 0}, "cost must be >= 1"),
        ({"cost": -3}, "cost must be >= 1"),
        ({"cost": 6}, "could never be admitted"),
        ({"cost": 2**62}, "could never be admitted"),
        ({"now_ns": -1}, "now_ns must be >= 0"),
        ({"now_ns": 2**63 - 1}, "now_ns must be <="),
    ],
)
def test_hostile_checks_are_refused(kwargs: dict[str, object], match: str) -> None:
    lim = limiter(r=Quota(1, 5))
    args: dict[str, object] = {"rule": "r", "key": "k", **kwargs}
    with pytest.raises(ValueError, match=match):
        lim.check(**args)  # type: ignore[arg-type]
    assert len(lim) == 0


def test_lone_surrogates_and_wrong_types() -> None:
    lim = limiter(r=Quota(1, 5))
    with pytest.raises(UnicodeEncodeError):
        lim.check("r", "\ud800")
    with pytest.raises(ValueError):  # UnicodeEncodeError is a ValueError
        lim.check_all([("r", "ok"), ("r", "\udfff")])
    assert len(lim) == 0
    with pytest.raises(TypeError):
        lim.check("r", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lim.check_all([("r", "k", "extra")])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        lim.check_all(["rk"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        lim.check_all("r")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lim.check_all(42)  # type: ignore[arg-type]
    assert lim.check_all(iter([("r", "gen")]), now_ns=0).allowed  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no \\(rule, key\\) pair"):
        lim.check_all([])


def test_enormous_keys_work() -> None:
    lim = limiter(r=Quota(1, 1))
    big = "k" * 10_000_000
    assert lim.check("r", big, now_ns=0).allowed
    assert not lim.check("r", big, now_ns=0).allowed


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="max_keys"):
        RateLimiter(-1)
