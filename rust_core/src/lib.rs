//! CODE's Rust core: keyed GCRA rate limiting ([`ratelimit`]) and answer consensus
//! ([`consensus`]). The Python binding lives in one file behind the `python` feature, so
//! `cargo test` never links Python.

// Lints (no unsafe code, no print!, clippy pedantic) are declared once, in Cargo.toml.

pub mod consensus;
pub mod error;
pub mod kappa;
pub mod ratelimit;
pub mod text;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
