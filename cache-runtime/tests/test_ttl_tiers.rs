//! The `ttl` counts from the write in every tier: a value loaded from the disk
//! tier expires in memory at its record's deadline, not a full `ttl` after it
//! was loaded.
//!
//! A restart is simulated by dropping the memory tier
//! (`cache_runtime::__private::clear_memory`). Timing margins are wide (a 2 s
//! ttl, the load at +0.5 s, the check at +2.4 s) so a loaded machine does not
//! make the test flaky.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread::sleep;
use std::time::{Duration, Instant};

use cache_runtime::{Stats, cache_data};
use common::private_disk_folder;

const TTL: Duration = Duration::from_secs(2);
/// When the value is loaded back from disk, after the write.
const LOAD_AT: Duration = Duration::from_millis(500);
/// When the record has expired (with a margin) but a value loaded at
/// [`LOAD_AT`] would still be fresh if its clock had restarted at the load.
const CHECK_AT: Duration = Duration::from_millis(2400);

/// Sleeps until `at` after `start`.
fn sleep_until(start: Instant, at: Duration) {
    if let Some(left) = at.checked_sub(start.elapsed()) {
        sleep(left);
    }
}

/// Writes, restarts, loads from disk at [`LOAD_AT`], and checks that the
/// loaded value is gone at [`CHECK_AT`]. `call` returns the body's run count.
fn expect_record_deadline(short_name: &str, call: &dyn Fn() -> usize, stats: fn() -> Stats) {
    private_disk_folder("ttl-tiers");
    assert_eq!(call(), 1, "the first call computes");
    // The record was written before now, so it expires before `written + TTL`.
    let written = Instant::now();
    assert_eq!(stats().misses, 1);

    cache_runtime::__private::clear_memory(short_name);
    sleep_until(written, LOAD_AT);
    assert_eq!(call(), 1, "loaded from disk, not recomputed");
    let loaded_at = written.elapsed();
    assert!(
        loaded_at < TTL,
        "the machine stalled so long ({loaded_at:?}) that the record expired before the load"
    );
    assert_eq!(stats().disk_hits, 1, "{:?}", stats());
    assert_eq!(stats().misses, 1);

    sleep_until(written, CHECK_AT);
    assert_eq!(
        call(),
        2,
        "the value loaded from disk outlived its record's deadline (written + ttl): \
         its ttl restarted when it was loaded"
    );
    assert_eq!(stats().misses, 2, "{:?}", stats());
}

#[test]
fn a_value_loaded_from_disk_expires_at_its_record_deadline() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = TTL, persist = "disk")]
    fn stamped(x: u32) -> usize {
        let _ = x;
        RUNS.fetch_add(1, SeqCst) + 1
    }
    expect_record_deadline("stamped", &|| stamped(1), stamped::stats);
}

#[test]
fn an_async_value_loaded_from_disk_expires_at_its_record_deadline() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = TTL, persist = "disk")]
    async fn stamped_async(x: u32) -> usize {
        let _ = x;
        RUNS.fetch_add(1, SeqCst) + 1
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    expect_record_deadline(
        "stamped_async",
        &|| runtime.block_on(stamped_async(1)),
        stamped_async::stats,
    );
}
