//! The live "orders today" tile (`#[cache_data(ttl = "5s", refresh_mode =
//! "background")]`): past its `ttl` a page gets the last count at once,
//! marked stale, while one refresh runs behind.
//!
//! A binary of its own: the tile is shared by every page of a process, so
//! another test's pages would start its refresh at their own times.

use std::time::{Duration, Instant};

mod support;
use support::{attribute, get, send, text};

/// The live tile (`refresh_mode = "background"`): past its 5 s `ttl` the
/// page gets the last count at once, marked stale, and a refresh runs
/// behind; the next page has the fresh count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_tile_refreshes_in_the_background() {
    let app = support::app("live-tile").await;
    let view = "/?region=north-america&from=2024-11-01&to=2024-11-30";
    let first = send(&app, get(view, None)).await;
    let first_as_of = text(&first.body, "live-as-of")
        .expect("the live tile")
        .to_owned();
    assert!(first.body.contains(r#"id="live-orders""#));
    assert_eq!(
        attribute(&first.body, "live-tile", "data-cache"),
        Some("hit"),
        "the first count is taken at start-up: no page waits for it"
    );
    tokio::time::sleep(Duration::from_millis(5_300)).await;
    let stale = send(&app, get(view, None)).await;
    assert_eq!(
        attribute(&stale.body, "live-tile", "data-cache"),
        Some("stale")
    );
    assert_eq!(
        text(&stale.body, "live-as-of"),
        Some(first_as_of.as_str()),
        "the last count, at once"
    );
    assert_eq!(
        text(&stale.body, "live-freshness"),
        Some("stale: refreshing in the background")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = send(&app, get(view, None)).await;
        if attribute(&page.body, "live-tile", "data-cache") == Some("hit") {
            assert_ne!(
                text(&page.body, "live-as-of"),
                Some(first_as_of.as_str()),
                "a new count"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the background refresh never landed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = cache_runtime::function("examples::dashboard::queries::orders_today")
        .expect("orders_today was called")
        .stats();
    assert!(stats.refreshes.succeeded >= 1);
}
