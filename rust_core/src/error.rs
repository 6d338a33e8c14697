//! The crate's one error type. The Python binding turns every variant into `ValueError`.

use std::fmt;

/// Why a call was rejected. Every variant carries a message that says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A quota parameter is out of range (rate, period, burst).
    InvalidQuota(String),
    /// A rate-limit check named a rule that was never set.
    UnknownRule(String),
    /// A check argument is out of range (cost, clock).
    InvalidCheck(String),
    /// Consensus input is malformed (lengths, weights, matrices, threshold, size).
    InvalidInput(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidQuota(m) => write!(f, "invalid quota: {m}"),
            Error::UnknownRule(name) => write!(f, "unknown rule {name:?}: call set_rule first"),
            Error::InvalidCheck(m) => write!(f, "invalid check: {m}"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
