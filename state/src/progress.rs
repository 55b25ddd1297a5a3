//! What is computing for a browser right now: the spinner texts of the
//! outermost cached computations (`show_spinner`, Streamlit's "Running
//! `sales_series(...)`.") running in requests of its session, for a page
//! that shows them while a slow request is pending.
//!
//! Mount [`handler`] and poll it from the page while a request runs:
//!
//! ```
//! use axum::{routing::get, Router};
//! use state::{MemoryStore, SessionLayer};
//!
//! let app: Router = Router::new()
//!     .route("/_cache/running", get(state::progress::handler))
//!     .layer(SessionLayer::new(MemoryStore::new()));
//! ```
//!
//! ```js
//! // In the page, while `fetch("/slow-panel")` is pending:
//! const poll = setInterval(async () => {
//!   const running = await (await fetch("/_cache/running")).json();
//!   status.textContent = running.map((r) => r.text).join(" ");
//! }, 250);
//! ```
//!
//! A computation belongs to a session when its request carried the
//! session's cookie, or made the session (a first write, or a
//! `scope = "session"` call); [`track`] starts the bookkeeping, which every
//! [`SessionLayer`](crate::SessionLayer) does when it is made.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use axum::Json;
use cache_runtime::observe::{self, ComputeEnd, ComputeStart, Observer, Subscription};
use serde::Serialize;

use crate::session::{Session, SessionId};

/// A computation running for a session.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Running {
    /// Its spinner text, e.g. "Running `sales_series(...)`.".
    pub text: String,
    /// The cached function's full name.
    pub function: String,
    /// How long it has been running, in milliseconds.
    pub elapsed_ms: u64,
    /// Whether its function asks to show the time elapsed (`show_time`).
    pub show_time: bool,
}

struct Computing {
    session: String,
    text: String,
    function: &'static str,
    show_time: bool,
    since: Instant,
}

#[derive(Default)]
struct Tracker {
    running: Mutex<HashMap<u64, Computing>>,
}

impl Observer for Tracker {
    fn compute_started(&self, start: &ComputeStart) {
        // What a spinner would show: outermost misses with a text, of a session.
        let (Some(text), Some(session), 0, false) =
            (&start.spinner, &start.session, start.depth, start.refresh)
        else {
            return;
        };
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                start.id,
                Computing {
                    session: session.clone(),
                    text: text.clone(),
                    function: start.function,
                    show_time: start.show_time,
                    since: Instant::now(),
                },
            );
    }

    fn compute_finished(&self, end: &ComputeEnd) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&end.id);
    }
}

static TRACKER: OnceLock<(&'static Tracker, Subscription)> = OnceLock::new();

/// Starts keeping track of the computations running for each session (once
/// per process; a `SessionLayer` calls it).
pub fn track() {
    TRACKER.get_or_init(|| {
        let tracker: &'static Tracker = Box::leak(Box::default());
        let subscription = observe::subscribe_computations(Forward(tracker));
        (tracker, subscription)
    });
}

/// Hands a subscription's events to the process's one tracker.
struct Forward(&'static Tracker);

impl Observer for Forward {
    fn compute_started(&self, start: &ComputeStart) {
        self.0.compute_started(start);
    }
    fn compute_finished(&self, end: &ComputeEnd) {
        self.0.compute_finished(end);
    }
}

/// The computations running for the session `id`, oldest first.
pub fn running_for(id: SessionId) -> Vec<Running> {
    let Some((tracker, _)) = TRACKER.get() else {
        return Vec::new();
    };
    let id = id.to_string();
    let running = tracker
        .running
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut found: Vec<_> = running
        .values()
        .filter(|computing| computing.session == id)
        .map(|computing| {
            let elapsed = computing.since.elapsed();
            (
                computing.since,
                Running {
                    text: computing.text.clone(),
                    function: computing.function.to_owned(),
                    elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                    show_time: computing.show_time,
                },
            )
        })
        .collect();
    found.sort_by_key(|(since, _)| *since);
    found.into_iter().map(|(_, running)| running).collect()
}

/// An axum handler: the computations running for the request's session, as
/// a JSON array of [`Running`] (empty for a browser without a session).
pub async fn handler(session: Session) -> Json<Vec<Running>> {
    let id = session.id().await.ok().flatten();
    Json(id.map(running_for).unwrap_or_default())
}
