//! Keyed GCRA (generic cell rate algorithm) with one quota per named rule.
//!
//! Each (rule, key) pair keeps one number, its theoretical arrival time (TAT). A check of
//! `cost` cells at time `now` computes `tat' = max(tat, now) + cost·T` (T = emission interval)
//! and admits when `tat' − now ≤ τ` (τ = burst·T). A state with `tat ≤ now` has fully recovered
//! and is indistinguishable from an absent one, so only such states are ever evicted: a flood
//! of new keys can never reset a key that still owes. When the table is full of indebted
//! keys, new keys are refused (fail closed) until an eighth of the table has recovered (the
//! batching keeps a sustained flood at O(1) amortised cost per check).

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use hashbrown::HashMap;
use smallvec::SmallVec;

use crate::error::{Error, Result};

/// Largest time span the limiter works with (about 146 years), so sums never overflow.
const MAX_SPAN_NS: u64 = 1 << 62;

/// A rate (`rate` cells per `period_s` seconds) and a burst (cells available at once).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    rate: f64,
    burst: u64,
    period_s: f64,
    emission_ns: u64,
    tolerance_ns: u64,
}

impl Quota {
    /// A quota of `rate` cells per `period_s` seconds with at most `burst` cells at once.
    ///
    /// The emission interval is rounded up to whole nanoseconds, so the limiter never admits
    /// more than the nominal rate.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidQuota`] when `rate` or `period_s` is not finite and > 0, `burst` is 0,
    /// or the emission interval or the burst's span is not within 1 ns and 146 years.
    pub fn new(rate: f64, burst: u64, period_s: f64) -> Result<Self> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::InvalidQuota(format!(
                "rate must be finite and > 0, got {rate}"
            )));
        }
        if !(period_s.is_finite() && period_s > 0.0) {
            return Err(Error::InvalidQuota(format!(
                "period_s must be finite and > 0, got {period_s}"
            )));
        }
        if burst < 1 {
            return Err(Error::InvalidQuota("burst must be >= 1".to_owned()));
        }
        let exact = period_s * 1e9 / rate;
        let emission = exact.ceil();
        if !(exact.is_finite() && exact >= 1.0 && emission <= MAX_SPAN_NS as f64) {
            return Err(Error::InvalidQuota(format!(
                "{rate} per {period_s} s gives an emission interval of {emission} ns; it must be within 1 ns and 146 years"
            )));
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked above: a whole number within 1 and 2^62"
        )]
        let emission_ns = emission as u64;
        let tolerance_ns = emission_ns
            .checked_mul(burst)
            .filter(|t| *t <= MAX_SPAN_NS)
            .ok_or_else(|| {
                Error::InvalidQuota(format!(
                    "burst {burst} at this rate spans more than 146 years"
                ))
            })?;
        Ok(Self {
            rate,
            burst,
            period_s,
            emission_ns,
            tolerance_ns,
        })
    }

    /// `rate` cells per second with at most `burst` at once.
    ///
    /// # Errors
    ///
    /// As [`Quota::new`].
    pub fn per_second(rate: f64, burst: u64) -> Result<Self> {
        Self::new(rate, burst, 1.0)
    }

    /// Cells per period.
    pub fn rate(&self) -> f64 {
        self.rate
    }
    /// Cells available at once.
    pub fn burst(&self) -> u64 {
        self.burst
    }
    /// The period of `rate`, in seconds.
    pub fn period_s(&self) -> f64 {
        self.period_s
    }
    /// Nanoseconds between two cells at the sustained rate.
    pub fn emission_interval_ns(&self) -> u64 {
        self.emission_ns
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the check was admitted (and charged).
    pub allowed: bool,
    /// Cells that could still be taken right now (after this check, if it was allowed);
    /// the minimum over the checked pairs.
    pub remaining: u64,
    /// 0 when allowed; otherwise nanoseconds until the same check would be admitted.
    pub retry_after_ns: u64,
    /// Nanoseconds until every checked pair is back to a full burst.
    pub reset_after_ns: u64,
    /// Index (into the checked pairs) of the pair that refused; `None` when allowed.
    pub refused: Option<usize>,
}

/// Nanoseconds on a process-wide monotonic clock; the default clock of [`RateLimiter`].
pub fn monotonic_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

struct Rule {
    name: Box<str>,
    quota: Quota,
    /// key → TAT in nanoseconds.
    keys: HashMap<Box<str>, u64>,
}

struct Table {
    rules: Vec<Rule>,
    tracked: usize,
    /// Before this instant a sweep is not worth its cost (see [`Table::sweep`]).
    next_sweep_ns: u64,
}

impl Table {
    fn rule_index(&self, name: &str) -> Result<usize> {
        // A handful of rules: a linear scan beats hashing.
        self.rules
            .iter()
            .position(|r| &*r.name == name)
            .ok_or_else(|| Error::UnknownRule(name.to_owned()))
    }

    /// Drops every fully recovered state. When that leaves less room than `batch`, the next
    /// sweep is put off until `batch` states will have recovered, so that a sustained flood of
    /// new keys costs O(1) amortised per check instead of one full scan per new key.
    fn sweep(&mut self, now: u64, max_keys: usize) {
        let batch = (max_keys / 8).clamp(4.min(max_keys), max_keys);
        let mut survivors: Vec<u64> = Vec::new();
        for rule in &mut self.rules {
            rule.keys.retain(|_, tat| *tat > now);
            survivors.extend(rule.keys.values().copied());
        }
        self.tracked = survivors.len();
        let room = max_keys.saturating_sub(self.tracked);
        self.next_sweep_ns = if room >= batch || survivors.is_empty() {
            now
        } else {
            let k = batch.min(survivors.len()) - 1;
            *survivors.select_nth_unstable(k).1
        };
    }
}

/// A keyed GCRA limiter with one [`Quota`] per named rule. Thread safe; bounded memory.
pub struct RateLimiter {
    table: Mutex<Table>,
    max_keys: usize,
}

fn check_cost(quota: &Quota, cost: u64, rule_name: &str) -> Result<()> {
    if cost > quota.burst {
        return Err(Error::InvalidCheck(format!(
            "cost {cost} exceeds the burst {} of rule {rule_name:?}; it could never be admitted",
            quota.burst
        )));
    }
    Ok(())
}

/// One GCRA step: `tat' = max(tat, now) + cost·T`, admitted when `tat' − now ≤ τ`.
enum Step {
    Admit { new_tat: u64, debt_after: u64 },
    Refuse(Refusal),
}

/// Why a pair refused, in the terms of a [`Decision`].
struct Refusal {
    available: u64,
    retry_after_ns: u64,
    debt_before: u64,
}

impl Step {
    fn of(quota: &Quota, tat: u64, now: u64, cost: u64) -> Step {
        let base = tat.max(now);
        // cost ≤ burst, so cost·T ≤ τ ≤ 2^62 and base ≤ now + τ: no overflow.
        let new_tat = base + cost * quota.emission_ns;
        let debt_after = new_tat - now;
        if debt_after > quota.tolerance_ns {
            Step::Refuse(Refusal {
                available: (quota.tolerance_ns - (base - now)) / quota.emission_ns,
                retry_after_ns: debt_after - quota.tolerance_ns,
                debt_before: base - now,
            })
        } else {
            Step::Admit {
                new_tat,
                debt_after,
            }
        }
    }
}

impl Refusal {
    /// The decision for a refusal by pair `index`, after earlier pairs left `remaining` cells
    /// and a reset of `reset_after` ns.
    fn decision(&self, remaining: u64, reset_after: u64, index: usize) -> Decision {
        Decision {
            allowed: false,
            remaining: self.available.min(remaining),
            retry_after_ns: self.retry_after_ns,
            reset_after_ns: reset_after.max(self.debt_before),
            refused: Some(index),
        }
    }
}

/// What one pair of a pending multi-rule check would write.
struct Pending<'a> {
    rule: usize,
    key: &'a str,
    new_tat: u64,
    is_new: bool,
}

impl RateLimiter {
    /// A limiter that tracks at most `max_keys` (rule, key) states at once.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `max_keys` is 0.
    pub fn new(max_keys: usize) -> Result<Self> {
        if max_keys == 0 {
            return Err(Error::InvalidInput("max_keys must be >= 1".to_owned()));
        }
        let table = Table {
            rules: Vec::new(),
            tracked: 0,
            next_sweep_ns: 0,
        };
        Ok(Self {
            table: Mutex::new(table),
            max_keys,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // No code path panics while holding the lock; if one ever did, the table is still
        // consistent (writes happen only after every check passed).
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most (rule, key) states kept at once.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Number of (rule, key) states currently tracked.
    pub fn len(&self) -> usize {
        self.lock().tracked
    }

    /// Whether no state is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds or replaces a rule. Replacing keeps the existing key states.
    pub fn set_rule(&self, name: &str, quota: Quota) {
        let mut table = self.lock();
        match table.rules.iter_mut().find(|r| &*r.name == name) {
            Some(rule) => rule.quota = quota,
            None => table.rules.push(Rule {
                name: name.into(),
                quota,
                keys: HashMap::new(),
            }),
        }
    }

    /// Names of the rules, in the order they were first set.
    pub fn rules(&self) -> Vec<String> {
        self.lock()
            .rules
            .iter()
            .map(|r| r.name.to_string())
            .collect()
    }

    /// The quota of a rule.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownRule`] when no rule of that name was set.
    pub fn quota(&self, name: &str) -> Result<Quota> {
        let table = self.lock();
        let i = table.rule_index(name)?;
        Ok(table.rules[i].quota)
    }

    /// Checks `cost` cells against one (rule, key) and charges them if admitted.
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::check_all`].
    pub fn check(&self, rule: &str, key: &str, cost: u64, now_ns: u64) -> Result<Decision> {
        self.check_all(&[(rule, key)], cost, now_ns)
    }

    /// Atomic multi-rule check: every (rule, key) admits `cost` and all are charged, or none
    /// is charged and the decision names the first pair that refused. A pair listed twice is
    /// charged twice.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownRule`] when a pair names a rule that was never set;
    /// [`Error::InvalidCheck`] when `checks` is empty, `cost` is 0 or exceeds a checked rule's
    /// burst, `now_ns` is past 2^62, or the check needs more new keys than `max_keys`. A
    /// refusal is not an error: it is a [`Decision`] with `allowed == false`.
    pub fn check_all(&self, checks: &[(&str, &str)], cost: u64, now_ns: u64) -> Result<Decision> {
        self.decide(checks, cost, now_ns, true)
    }

    /// What `check(rule, key, 1)` would answer now, without charging or tracking anything.
    /// It does not consider the capacity of the key table.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownRule`] when `rule` was never set; [`Error::InvalidCheck`] when `now_ns`
    /// is past 2^62.
    pub fn peek(&self, rule: &str, key: &str, now_ns: u64) -> Result<Decision> {
        self.decide(&[(rule, key)], 1, now_ns, false)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one critical section under the table lock: check every pair, then charge all \
                  or none; the one-tracked-key fast path is inlined here on purpose"
    )]
    fn decide(
        &self,
        checks: &[(&str, &str)],
        cost: u64,
        now: u64,
        charge: bool,
    ) -> Result<Decision> {
        if checks.is_empty() {
            return Err(Error::InvalidCheck(
                "no (rule, key) pair to check".to_owned(),
            ));
        }
        if cost < 1 {
            return Err(Error::InvalidCheck("cost must be >= 1".to_owned()));
        }
        if now > MAX_SPAN_NS {
            return Err(Error::InvalidCheck(format!(
                "now_ns must be <= {MAX_SPAN_NS}"
            )));
        }
        let mut table = self.lock();
        if let [(rule_name, key)] = checks {
            // One pair whose key is tracked (the common case): one lookup, charged in place.
            let r = table.rule_index(rule_name)?;
            let quota = table.rules[r].quota;
            check_cost(&quota, cost, rule_name)?;
            if let Some(tat) = table.rules[r].keys.get_mut(*key) {
                let d = match Step::of(&quota, *tat, now, cost) {
                    Step::Admit {
                        new_tat,
                        debt_after,
                    } => {
                        if charge {
                            *tat = new_tat;
                        }
                        Decision {
                            allowed: true,
                            remaining: (quota.tolerance_ns - debt_after) / quota.emission_ns,
                            retry_after_ns: 0,
                            reset_after_ns: debt_after,
                            refused: None,
                        }
                    }
                    Step::Refuse(refusal) => refusal.decision(u64::MAX, 0, 0),
                };
                return Ok(d);
            }
        }
        let mut pending: SmallVec<[Pending<'_>; 4]> = SmallVec::new();
        let mut remaining = u64::MAX;
        let mut reset_after = 0u64;
        let mut new_keys = 0usize;
        for (i, &(rule_name, key)) in checks.iter().enumerate() {
            let r = table.rule_index(rule_name)?;
            let rule = &table.rules[r];
            let quota = rule.quota;
            check_cost(&quota, cost, rule_name)?;
            // A pair already seen in this call sees the charge of its earlier occurrence.
            let earlier = pending
                .iter()
                .rev()
                .find(|p| p.rule == r && p.key == key)
                .map(|p| p.new_tat);
            let (tat, is_new) = match earlier {
                Some(t) => (t, false),
                None => match rule.keys.get(key) {
                    Some(&t) => (t, false),
                    None => (now, true),
                },
            };
            let (new_tat, debt_after) = match Step::of(&quota, tat, now, cost) {
                Step::Admit {
                    new_tat,
                    debt_after,
                } => (new_tat, debt_after),
                Step::Refuse(refusal) => return Ok(refusal.decision(remaining, reset_after, i)),
            };
            remaining = remaining.min((quota.tolerance_ns - debt_after) / quota.emission_ns);
            reset_after = reset_after.max(debt_after);
            if is_new {
                new_keys += 1;
            }
            pending.push(Pending {
                rule: r,
                key,
                new_tat,
                is_new,
            });
        }
        if !charge {
            return Ok(Decision {
                allowed: true,
                remaining,
                retry_after_ns: 0,
                reset_after_ns: reset_after,
                refused: None,
            });
        }
        if new_keys > self.max_keys {
            return Err(Error::InvalidCheck(format!(
                "the check needs {new_keys} new keys but the limiter tracks at most {}",
                self.max_keys
            )));
        }
        if table.tracked + new_keys > self.max_keys {
            if now >= table.next_sweep_ns {
                table.sweep(now, self.max_keys);
            }
            if table.tracked + new_keys > self.max_keys {
                // Fail closed: every tracked key still owes, and evicting one would forgive it.
                let first_new = pending.iter().position(|p| p.is_new).unwrap_or(0);
                return Ok(Decision {
                    allowed: false,
                    remaining: 0,
                    retry_after_ns: table.next_sweep_ns.saturating_sub(now).max(1),
                    reset_after_ns: reset_after,
                    refused: Some(first_new),
                });
            }
        }
        for p in &pending {
            let keys = &mut table.rules[p.rule].keys;
            match keys.get_mut(p.key) {
                Some(tat) => *tat = p.new_tat,
                None => {
                    keys.insert(p.key.into(), p.new_tat);
                }
            }
        }
        table.tracked += new_keys;
        Ok(Decision {
            allowed: true,
            remaining,
            retry_after_ns: 0,
            reset_after_ns: reset_after,
            refused: None,
        })
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("max_keys", &self.max_keys)
            .field("tracked", &self.len())
            .finish_non_exhaustive()
    }
}
