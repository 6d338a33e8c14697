//! CODE's Rust core: keyed GCRA rate limiting ([`ratelimit`]) and answer consensus
//! ([`consensus`]). The Python binding lives in one file behind the `python` feature, so
//! `cargo test` never links Python.

// A stray print would corrupt a stdio MCP transport.
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(not(feature = "python"), forbid(unsafe_code))]

pub mod consensus;
pub mod error;
pub mod kappa;
pub mod ratelimit;
pub mod text;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
