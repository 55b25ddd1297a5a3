//! The flagship example: a sales dashboard on SQLite, the Rust counterpart of
//! a Streamlit data app, built on every part of the library.
//!
//! Run it with `cargo run --example dashboard` and open <http://127.0.0.1:8501/>
//! (`-- --help` for the flags; `--redis URL` shares sessions and cached
//! results between instances).
//!
//! | module | what it shows |
//! |---|---|
//! | [`data`] | the SQLite file: ~464,000 orders generated deterministically on first start |
//! | [`queries`] | a `#[cache_resource(validate, on_release)]` connection pool and `#[cache_data(ttl, max_entries, persist)]` queries keyed by the filters; hit/miss from `f::stats()`; `f::invalidate(..)` |
//! | [`chart`] | the chart, drawn on the server as SVG with `plotters` |
//! | [`pages`] | the HTML: filters, KPIs, chart, tables, and the session, context and cache panels |
//! | [`app`] | typed query parameters (`state::Query`), session state (`state_keys!`, `Session`), request context (`Context`), the cache actions (`clear_function`, `invalidate`, `clear_all`), [`app::serve`] |
//!
//! Its tests: `tests/dashboard_http.rs` (in-process HTTP),
//! `tests/dashboard_browser.rs` (headless Chromium through chromedriver) and
//! `tests/dashboard_redis.rs` (two processes sharing one Redis).

pub mod app;
pub mod chart;
pub mod data;
pub mod pages;
pub mod queries;

pub use app::{Config, serve};
