//! Property tests of the GCRA limiter.

use proptest::prelude::*;
use rust_core::ratelimit::{Quota, RateLimiter};

const SECOND: u64 = 1_000_000_000;

fn quota() -> impl Strategy<Value = Quota> {
    (
        1u32..2000,
        1u64..30,
        prop_oneof![Just(1.0f64), Just(0.25), Just(60.0)],
    )
        .prop_map(|(rate, burst, period)| {
            Quota::new(f64::from(rate) / 10.0, burst, period).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// In every window [t_i, t_j] between two admissions, the admitted cells never exceed
    /// burst + rate·(t_j − t_i).
    #[test]
    fn never_admits_more_than_burst_plus_rate(
        q in quota(),
        events in prop::collection::vec((0u64..(SECOND / 5), 1u64..5), 1..200),
    ) {
        let limiter = RateLimiter::new(16).unwrap();
        limiter.set_rule("r", q);
        let per_ns = q.rate() / (q.period_s() * 1e9);
        let mut now = 0u64;
        let mut admitted: Vec<(u64, u64)> = Vec::new();
        for (dt, cost) in events {
            now += dt;
            let cost = cost.min(q.burst());
            let d = limiter.check("r", "k", cost, now).unwrap();
            if d.allowed {
                admitted.push((now, cost));
                prop_assert_eq!(d.retry_after_ns, 0);
            } else {
                prop_assert!(d.retry_after_ns > 0);
            }
            prop_assert!(d.remaining <= q.burst());
        }
        for i in 0..admitted.len() {
            let mut total = 0u64;
            for &(t, cost) in &admitted[i..] {
                total += cost;
                let bound = q.burst() as f64 + (t - admitted[i].0) as f64 * per_ns;
                prop_assert!(total as f64 <= bound + 1e-9, "{} cells in window, bound {}", total, bound);
            }
        }
    }

    /// Waiting `retry_after` after a refusal is enough for the same check to pass.
    #[test]
    fn retry_after_is_sufficient(q in quota(), uses in 1u64..40, cost in 1u64..5) {
        let limiter = RateLimiter::new(16).unwrap();
        limiter.set_rule("r", q);
        let cost = cost.min(q.burst());
        for _ in 0..uses {
            let _ = limiter.check("r", "k", 1, 1_000).unwrap();
        }
        let d = limiter.check("r", "k", cost, 1_000).unwrap();
        if !d.allowed {
            prop_assert!(!limiter.check("r", "k", cost, 1_000 + d.retry_after_ns - 1).unwrap().allowed);
            prop_assert!(limiter.check("r", "k", cost, 1_000 + d.retry_after_ns).unwrap().allowed);
        }
    }

    /// A refused multi-rule check charges none of its pairs; an admitted one charges all.
    #[test]
    fn multi_rule_check_is_atomic(
        quotas in prop::collection::vec(quota(), 3),
        history in prop::collection::vec((0usize..3, 0usize..3, 1u64..4), 0..60),
        pairs in prop::collection::vec((0usize..3, 0usize..3), 1..4),
        cost in 1u64..4,
    ) {
        let rules = ["global", "identity", "tool"];
        let keys = ["a", "b", "c"];
        let limiter = RateLimiter::new(64).unwrap();
        for (name, q) in rules.iter().zip(&quotas) {
            limiter.set_rule(name, *q);
        }
        let now = 5 * SECOND;
        for (r, k, c) in history {
            let _ = limiter.check(rules[r], keys[k], c.min(quotas[r].burst()), now);
        }
        let checks: Vec<(&str, &str)> = pairs.iter().map(|&(r, k)| (rules[r], keys[k])).collect();
        let cost = pairs.iter().map(|&(r, _)| quotas[r].burst()).min().unwrap().min(cost);
        // The debt of every pair: how far its TAT is ahead of now.
        let snapshot = |l: &RateLimiter| -> Vec<u64> {
            rules.iter().flat_map(|r| keys.iter().map(move |k| (*r, *k)))
                .map(|(r, k)| {
                    let d = l.peek(r, k, now).unwrap();
                    let t = l.quota(r).unwrap().emission_interval_ns();
                    if d.allowed { d.reset_after_ns - t } else { d.reset_after_ns }
                })
                .collect()
        };
        let before = snapshot(&limiter);
        let len_before = limiter.len();
        let d = limiter.check_all(&checks, cost, now).unwrap();
        let after = snapshot(&limiter);
        if d.allowed {
            prop_assert!(d.refused.is_none());
            for &(r, k) in &checks {
                let i = rules.iter().position(|x| *x == r).unwrap() * 3 + keys.iter().position(|x| *x == k).unwrap();
                prop_assert!(after[i] > before[i], "pair ({}, {}) was not charged", r, k);
            }
        } else {
            let refused = d.refused.unwrap();
            prop_assert!(refused < checks.len());
            prop_assert_eq!(before, after);
            prop_assert_eq!(len_before, limiter.len());
        }
    }

    /// A flood of distinct new keys never evicts (and so never forgives) a key that still owes.
    #[test]
    fn flood_cannot_reset_an_indebted_key(max_keys in 1usize..20, flood in 1usize..200, advance in 0u64..SECOND) {
        let limiter = RateLimiter::new(max_keys).unwrap();
        limiter.set_rule("r", Quota::per_second(1.0, 3).unwrap());
        for _ in 0..3 {
            prop_assert!(limiter.check("r", "victim", 1, 0).unwrap().allowed);
        }
        prop_assert!(!limiter.check("r", "victim", 1, 0).unwrap().allowed);
        for i in 0..flood {
            let _ = limiter.check("r", &format!("flood-{i}"), 1, advance / 2);
            prop_assert!(limiter.len() <= max_keys);
        }
        // Less than one emission interval later, the victim must still be refused.
        prop_assert!(!limiter.check("r", "victim", 1, advance).unwrap().allowed);
    }
}

#[test]
fn recovered_keys_are_evicted_to_make_room() {
    let limiter = RateLimiter::new(2).unwrap();
    limiter.set_rule("r", Quota::per_second(1.0, 1).unwrap());
    assert!(limiter.check("r", "a", 1, 0).unwrap().allowed);
    assert!(limiter.check("r", "b", 1, 0).unwrap().allowed);
    // Full of indebted keys: a new key is refused (fail closed) and told when to retry.
    let d = limiter.check("r", "c", 1, 0).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.retry_after_ns, SECOND);
    // Once a and b have recovered they carry no information and make room.
    assert!(limiter.check("r", "c", 1, SECOND).unwrap().allowed);
    assert_eq!(limiter.len(), 1);
}

#[test]
fn decision_fields() {
    let limiter = RateLimiter::new(10).unwrap();
    limiter.set_rule("r", Quota::per_second(10.0, 5).unwrap());
    let d = limiter.check("r", "k", 2, 0).unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 3);
    assert_eq!(d.reset_after_ns, 200_000_000);
    let d = limiter.check("r", "k", 4, 0).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 3);
    assert_eq!(d.retry_after_ns, 100_000_000);
    assert_eq!(d.refused, Some(0));
    assert!(limiter.check("r", "k", 6, 0).is_err());
    assert!(limiter.check("nope", "k", 1, 0).is_err());
    assert!(limiter.check("r", "k", 0, 0).is_err());
}

#[test]
fn quota_validation() {
    assert!(Quota::per_second(f64::NAN, 1).is_err());
    assert!(Quota::per_second(f64::INFINITY, 1).is_err());
    assert!(Quota::per_second(-1.0, 1).is_err());
    assert!(Quota::per_second(1.0, 0).is_err());
    assert!(Quota::per_second(1e12, 1).is_err());
    assert!(Quota::new(1.0, u64::MAX, 1.0).is_err());
    assert!(Quota::new(1e-300, 1, 1.0).is_err());
    assert_eq!(
        Quota::new(3.0, 1, 1.0).unwrap().emission_interval_ns(),
        333_333_334
    );
}

#[test]
fn duplicate_pair_is_charged_twice() {
    let limiter = RateLimiter::new(10).unwrap();
    limiter.set_rule("r", Quota::per_second(1.0, 3).unwrap());
    assert!(
        limiter
            .check_all(&[("r", "k"), ("r", "k")], 1, 0)
            .unwrap()
            .allowed
    );
    assert_eq!(limiter.peek("r", "k", 0).unwrap().remaining, 0);
    assert!(
        !limiter
            .check_all(&[("r", "k"), ("r", "k")], 1, 0)
            .unwrap()
            .allowed
    );
    assert_eq!(limiter.len(), 1);
}

#[test]
fn threads_share_one_budget() {
    let limiter = std::sync::Arc::new(RateLimiter::new(10).unwrap());
    limiter.set_rule("r", Quota::per_second(1.0, 1000).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let l = limiter.clone();
            std::thread::spawn(move || {
                (0..500)
                    .filter(|_| l.check("r", "k", 1, 0).unwrap().allowed)
                    .count()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 1000);
}

#[test]
fn a_check_needing_more_keys_than_the_table_holds_is_an_error() {
    let limiter = RateLimiter::new(2).unwrap();
    limiter.set_rule("r", Quota::per_second(1.0, 5).unwrap());
    assert!(limiter
        .check_all(&[("r", "a"), ("r", "b"), ("r", "c")], 1, 0)
        .is_err());
    assert!(limiter.is_empty());
}

#[test]
fn staggered_flood_stays_bounded_and_admits_again_after_recovery() {
    // A new key every 1 ms against a 1 s debt: the table is always full of indebted keys.
    let limiter = RateLimiter::new(64).unwrap();
    limiter.set_rule("r", Quota::per_second(1.0, 1).unwrap());
    let mut admitted = 0;
    for i in 0..10_000u64 {
        if limiter
            .check("r", &format!("k{i}"), 1, i * 1_000_000)
            .unwrap()
            .allowed
        {
            admitted += 1;
        }
        assert!(limiter.len() <= 64);
    }
    // About 64 keys per simulated second get in, never more than the table holds.
    assert!((64..=64 * 11).contains(&admitted), "{admitted}");
}
