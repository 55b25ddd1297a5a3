//! `scope = "session"` cached functions under a `SessionLayer`: keyed to the
//! browser's session with no code in the handler, a session created (and its
//! cookie set) for a browser without one, and entries dropped (resources
//! released once) when the session ends.
//!
//! Every computation returns a serial number of its own, so a response tells
//! a hit (an old serial) from a miss without global counters that the other
//! tests of the binary would disturb.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use cache_runtime::session::InSessionExt;
use cache_runtime::{cache_data, cache_resource};
use state::{Session, SessionLayer, SessionStore};

use super::{Client, request};

static SERIAL: AtomicU64 = AtomicU64::new(1);
/// The serials of the connections `on_release` closed, in order.
static CLOSED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn next_serial() -> u64 {
    SERIAL.fetch_add(1, Ordering::SeqCst)
}

/// `n` and the serial of the computation that produced it.
#[cache_data(scope = "session")]
fn square(n: u64) -> String {
    format!("{}#{}", n * n, next_serial())
}

/// A connection per session, numbered.
struct Conn(u64);

fn close(conn: &Conn) {
    CLOSED.lock().unwrap().push(conn.0);
}

#[cache_resource(scope = "session", on_release = close)]
fn connection() -> Conn {
    Conn(next_serial())
}

/// Whether `serial` was closed, and how many times.
pub fn times_closed(serial: u64) -> usize {
    CLOSED
        .lock()
        .unwrap()
        .iter()
        .filter(|&&s| s == serial)
        .count()
}

/// The routes: none of the cached ones extracts `Session`.
pub fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/square/{n}",
            get(|Path(n): Path<u64>| async move { square(n) }),
        )
        .route(
            "/square-async/{n}",
            get(|Path(n): Path<u64>| async move {
                // A task spawned for the request keeps its session.
                tokio::spawn(async move { square(n) }.in_current_session())
                    .await
                    .unwrap()
            }),
        )
        .route("/clear", get(|| async { square::clear() }))
        .route("/conn", get(|| async { connection().0.to_string() }))
        .route("/end", get(|s: Session| async move { s.end().await }))
        .route(
            "/keys",
            get(|s: Session| async move { s.keys().await.join(",") }),
        )
        .layer(layer)
}

/// The serial in a `/square` response.
fn serial(body: &str) -> u64 {
    body.split_once('#').unwrap().1.parse().unwrap()
}

/// The whole behaviour on one store.
pub async fn session_scoped_caches(store: impl SessionStore) {
    let app = app(super::layer(store));
    let mut ann = Client::new(app.clone());
    let first = ann.ok("/square/3").await;
    assert!(first.starts_with("9#"), "{first}");
    let cookie = ann.cookie.clone().expect("a new browser got a session");
    assert_eq!(ann.ok("/square/3").await, first, "ann's entry: a hit");
    assert_eq!(ann.cookie.as_ref(), Some(&cookie), "the same session");
    assert_eq!(
        ann.ok("/keys").await,
        "",
        "the library's own record stays hidden"
    );
    assert_eq!(
        ann.ok("/square-async/3").await,
        first,
        "a spawned task hits it too"
    );

    let mut bob = Client::new(app.clone());
    let bobs = bob.ok("/square/3").await;
    assert_ne!(serial(&bobs), serial(&first), "bob has entries of his own");
    assert_ne!(bob.cookie, ann.cookie);

    // `f::clear()` in a request clears that session's entries only.
    ann.ok("/clear").await;
    let again = ann.ok("/square/3").await;
    assert_ne!(serial(&again), serial(&first));
    assert_eq!(bob.ok("/square/3").await, bobs, "bob's entry stayed");

    // Ending the session drops its entries and releases its resources once.
    let conn: u64 = ann.ok("/conn").await.parse().unwrap();
    assert_eq!(ann.ok("/conn").await, conn.to_string());
    ann.ok("/end").await;
    assert!(ann.cookie.is_none());
    assert_eq!(times_closed(conn), 1);
    let (_, replayed, _) = request(&app, "/square/3", Some(&cookie)).await;
    assert_ne!(replayed, again, "the ended session's entries are gone");
    let fresh: u64 = ann.ok("/conn").await.parse().unwrap();
    assert_ne!(fresh, conn, "a new session, a new connection");
    assert!(ann.cookie.is_some());
    assert_eq!(times_closed(conn), 1, "released once");

    // A cookie the server never issued is not adopted: what was cached under
    // it goes with the response, and its cookie is removed.
    let forged = format!("{}={}", super::COOKIE, "ab".repeat(16));
    let mut mallory = Client::new(app.clone());
    mallory.cookie = Some(forged.clone());
    let one = mallory.ok("/square/4").await;
    assert!(mallory.cookie.is_none(), "{:?}", mallory.last_set_cookie);
    let (_, two, _) = request(&app, "/square/4", Some(&forged)).await;
    assert_ne!(
        serial(&one),
        serial(&two),
        "nothing was kept under the forged id"
    );
}

/// An idle session's entries go when the store expires it (after `wait`;
/// `notice` makes the store act on it, e.g. the memory store's maintenance).
pub async fn session_scoped_caches_end_on_expiry(
    store: impl SessionStore,
    wait: Duration,
    notice: impl Fn(),
) {
    let app = app(super::layer(store));
    let mut ann = Client::new(app);
    let conn: u64 = ann.ok("/conn").await.parse().unwrap();
    let deadline = tokio::time::Instant::now() + wait + Duration::from_secs(10);
    tokio::time::sleep(wait).await;
    while times_closed(conn) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expired session's connection was never released"
        );
        notice();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(times_closed(conn), 1);
}
