//! `persist` on `async fn`: the tier's I/O runs on a blocking pool.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, persist};
use common::fresh_temp_dir;

static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cache_data(persist = "disk")]
async fn async_report(id: u64) -> Result<Vec<String>, String> {
    ASYNC_CALLS.fetch_add(1, SeqCst);
    tokio::task::yield_now().await;
    if id == 0 {
        Err("no report 0".into())
    } else {
        Ok(vec![format!("report {id}")])
    }
}

/// Async functions read and write the disk tier on a blocking pool.
#[tokio::test]
async fn async_functions_use_the_disk_tier() {
    let dir = fresh_temp_dir("async-test");
    persist::configure(persist::Settings::default().dir(&dir)).unwrap();
    assert_eq!(async_report(1).await.unwrap(), ["report 1"]);
    cache_runtime::__private::clear_memory("async_report");
    assert_eq!(async_report(1).await.unwrap(), ["report 1"]);
    assert_eq!(ASYNC_CALLS.load(SeqCst), 1);
    assert_eq!(async_report::stats().disk_hits, 1);
    assert!(async_report(0).await.is_err());
    cache_runtime::__private::clear_memory("async_report");
    assert!(async_report(0).await.is_err(), "errors are never persisted");
    assert_eq!(ASYNC_CALLS.load(SeqCst), 3);
    async_report::clear();
    let _ = std::fs::remove_dir_all(&dir);
}
