//! The dashboard page, streamed: its frame at once, then a line for each
//! computation its data starts (the spinner text, Streamlit's "Running
//! `sales_series(...)`."), then the data's panels. The browser shows what
//! has arrived, so a slow miss says what it runs, with or without
//! JavaScript.

use std::cell::RefCell;
use std::convert::Infallible;
use std::sync::OnceLock;

use axum::body::Body;
use cache_runtime::observe::{self, ComputeStart, Observer, Subscription};
use cache_runtime::session::SessionScope;
use tokio::sync::mpsc::{self, UnboundedSender};

use super::pages;

thread_local! {
    /// The page this thread is loading the data of, if any: where the
    /// computations it starts are reported.
    static PAGE: RefCell<Option<UnboundedSender<String>>> = const { RefCell::new(None) };
}

/// Reports each outermost computation to the page loading on its thread.
/// Computations run on the calling thread, so a page sees its own only.
struct ToThePage;

impl Observer for ToThePage {
    fn compute_started(&self, start: &ComputeStart) {
        let (Some(text), 0, false) = (&start.spinner, start.depth, start.refresh) else {
            return;
        };
        PAGE.with_borrow(|page| {
            if let Some(page) = page {
                let _ = page.send(pages::running(text));
            }
        });
    }
}

/// This thread reports to `page` until the guard is dropped (a panic too).
struct Reporting;

impl Reporting {
    fn to(page: UnboundedSender<String>) -> Self {
        PAGE.with_borrow_mut(|current| *current = Some(page));
        Reporting
    }
}

impl Drop for Reporting {
    fn drop(&mut self) {
        PAGE.with_borrow_mut(|current| *current = None);
    }
}

/// A page's body: `start` at once; then, while `load` runs on tokio's
/// blocking pool (in the request's session `scope`), a
/// [`running`](pages::running) line for each computation it starts; then
/// the HTML `load` returns. Should `load` panic, the page ends with
/// [`dashboard_failed`](pages::dashboard_failed).
pub fn page(
    start: String,
    scope: Option<SessionScope>,
    load: impl FnOnce() -> String + Send + 'static,
) -> Body {
    static WATCHING: OnceLock<Subscription> = OnceLock::new();
    WATCHING.get_or_init(|| observe::subscribe_computations(ToThePage));

    let (chunks, received) = mpsc::unbounded_channel();
    let _ = chunks.send(start);
    let reports = chunks.clone();
    tokio::spawn(async move {
        let loaded = tokio::task::spawn_blocking(move || {
            let _reporting = Reporting::to(reports);
            match scope {
                Some(scope) => scope.run(load),
                None => load(),
            }
        })
        .await;
        let rest = loaded.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "loading a page's data failed");
            pages::dashboard_failed("the server stopped while loading it; reload to try again")
        });
        let _ = chunks.send(rest);
    });
    Body::from_stream(futures_util::stream::unfold(
        received,
        |mut received| async {
            let chunk = received.recv().await?;
            Some((Ok::<_, Infallible>(chunk), received))
        },
    ))
}
