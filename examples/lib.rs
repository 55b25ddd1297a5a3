//! Runnable examples live beside this file; see `examples/README.md`.
//!
//! The dashboard app lives in this library (module [`dashboard`]) so that its
//! browser test can run it in-process; `dashboard_main.rs` is its binary.

pub mod dashboard;
