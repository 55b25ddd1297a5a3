//! Runnable examples live beside this file; see `examples/README.md`.
//!
//! The dashboard app lives in this library (module [`dashboard`]) so that its
//! browser test can run it in-process; `dashboard_main.rs` is its binary.

pub mod dashboard;

/// The workspace README's Rust snippets, compiled and run as doctests
/// (`cargo test -p examples --doc`), so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeSnippets;
