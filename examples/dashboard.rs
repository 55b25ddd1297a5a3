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
//! | [`queries`] | a `#[cache_resource(validate, on_release)]` connection pool (r2d2); `#[cache_data(ttl, persist = "auto")]` view queries keyed by the filters (`max_size` on the chart's); hit/miss from `cache_runtime::trace`; `f::invalidate(..)`; a `refresh_mode = "background"` live tile; `scope = "session"` totals of saved views |
//! | [`chart`] | the chart, drawn on the server as SVG with `plotters` |
//! | [`pages`] | the HTML: filters, KPIs, chart, tables, and the session, saved views, context and cache panels; the page's script (in-place updates, the spinner, a first visit's context) |
//! | [`stream`] | the page sent in pieces: its frame at once, then what computes (the spinner text), then the data |
//! | [`app`] | typed query parameters (`state::Query`), session state (`state_keys!`, `Session`), request context (`Context`), the cache actions (`clear_function`, `invalidate`, `clear_all`), CSRF tokens, `/metrics`, `/_cache/running`, [`app::serve`] |
//!
//! Its tests: `tests/dashboard_http.rs` and `tests/dashboard_library.rs`
//! (in-process HTTP), `tests/dashboard_browser.rs` (headless Chromium
//! through chromedriver) and
//! `tests/dashboard_redis.rs` (two processes sharing one Redis).

pub mod app;
pub mod chart;
pub mod data;
pub mod pages;
pub mod queries;
pub mod stream;

pub use app::{Config, serve};
