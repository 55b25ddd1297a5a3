//! `on_session_start` / `on_session_end`, including expiry and eviction, on
//! the memory store.

mod session_common;

use std::time::Duration;

use session_common::*;
use state::{EndReason, MemoryStore};

#[tokio::test]
async fn start_and_end_hooks_run_once() {
    hooks(MemoryStore::new()).await;
}

#[tokio::test]
async fn expiry_runs_the_end_hook() {
    let store = MemoryStore::builder()
        .idle_timeout(Duration::from_millis(100))
        .build();
    let log = HookLog::default();
    let mut c = Client::new(app(log.install(layer(store.clone()))));
    c.ok("/visit").await;
    let id = c
        .cookie
        .as_deref()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.run_pending_tasks();
    let ended = log.ended.lock().unwrap().clone();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(
        (ended[0].0.to_string(), ended[0].1),
        (id, EndReason::Expired)
    );
    assert_eq!(log.counts(), (1, 1));
}

#[tokio::test]
async fn eviction_runs_the_end_hook() {
    let store = MemoryStore::builder().max_sessions(1).build();
    let log = HookLog::default();
    let app = app(log.install(layer(store.clone())));
    let mut first = Client::new(app.clone());
    first.ok("/visit").await;
    store.run_pending_tasks();
    let mut second = Client::new(app);
    second.ok("/visit").await;
    store.run_pending_tasks();
    assert_eq!(log.counts(), (2, 1));
    assert_eq!(log.ended.lock().unwrap()[0].1, EndReason::Evicted);
    assert_eq!(
        second.ok("/visits").await,
        "1",
        "the newest session is kept"
    );
    assert_eq!(
        first.ok("/visits").await,
        "0",
        "the evicted one starts over"
    );
}

#[tokio::test]
async fn session_scoped_caches_follow_the_session() {
    session_common::cache_scope::session_scoped_caches(MemoryStore::new()).await;
}

#[tokio::test]
async fn an_expired_session_releases_its_cached_resources() {
    let store = MemoryStore::builder()
        .idle_timeout(Duration::from_millis(100))
        .build();
    let maintained = store.clone();
    session_common::cache_scope::session_scoped_caches_end_on_expiry(
        store,
        Duration::from_millis(200),
        move || maintained.run_pending_tasks(),
    )
    .await;
}
