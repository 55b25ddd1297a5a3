//! `refresh_mode = "background"`: between the `ttl` and the hard deadline a
//! stale value is returned at once while one refresh per key runs on the
//! bounded pool; past the hard deadline the call recomputes; failures keep
//! the stale value and cool the key down; a clear during a refresh wins.
//!
//! The refresh pool is process-wide (4 workers), so the tests run one at a
//! time.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use cache_runtime::{Outcome, cache_data, cache_resource, trace};

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Polls `done` for up to 5 s.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting: {what}"
        );
        sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_stale_value_is_returned_at_once_and_refreshed_behind() {
    let _serial = one_at_a_time();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "200ms", refresh_mode = "background", max_stale = "5s")]
    fn quote(symbol: &str) -> String {
        let n = CALLS.fetch_add(1, SeqCst) + 1;
        if n > 1 {
            sleep(Duration::from_millis(300)); // a slow refresh
        }
        format!("{symbol}#{n}")
    }
    assert_eq!(quote("ACME"), "ACME#1");
    sleep(Duration::from_millis(250));
    let start = Instant::now();
    let (value, calls) = trace(|| quote("ACME"));
    assert_eq!(value, "ACME#1", "the stale value, at once");
    assert!(
        start.elapsed() < Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(calls[0].outcome, Outcome::Stale);
    // Meanwhile every call still gets the stale value, and no second refresh.
    assert_eq!(quote("ACME"), "ACME#1");
    eventually("the refresh", || quote::stats().refreshes.succeeded == 1);
    assert_eq!(quote("ACME"), "ACME#2", "the refreshed value");
    assert_eq!(CALLS.load(SeqCst), 2);
    let stats = quote::stats();
    assert_eq!(stats.misses, 1, "a refresh is not a call: {stats:?}");
    assert_eq!(stats.hits, 3);
    assert!(stats.stale_hits >= 2);
    assert!(stats.refreshes.compute_time >= Duration::from_millis(250));
    // The listing says how long a value may be served stale.
    let info = cache_runtime::functions()
        .into_iter()
        .find(|f| f.name.ends_with("::quote") && f.ttl == Some(Duration::from_millis(200)))
        .expect("quote is listed");
    assert_eq!(info.max_stale, Some(Duration::from_secs(5)));
}

#[test]
fn past_the_hard_deadline_the_call_recomputes() {
    let _serial = one_at_a_time();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "100ms", refresh_mode = "background", max_stale = "100ms")]
    fn reading(sensor: u32) -> usize {
        sensor as usize * 100 + CALLS.fetch_add(1, SeqCst)
    }
    assert_eq!(reading(1), 100);
    sleep(Duration::from_millis(250));
    let (value, calls) = trace(|| reading(1));
    assert_eq!(value, 101, "recomputed while the caller waited");
    assert_eq!(calls[0].outcome, Outcome::Miss);
    assert_eq!(reading::stats().stale_hits, 0);

    // With the default stale window (one more ttl), 400 ms is still stale.
    static DEFAULT_CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "300ms", refresh_mode = "background")]
    fn default_window(x: u32) -> usize {
        x as usize + DEFAULT_CALLS.fetch_add(1, SeqCst)
    }
    default_window(0);
    sleep(Duration::from_millis(400));
    let (_, calls) = trace(|| default_window(0));
    assert_eq!(calls[0].outcome, Outcome::Stale);
}

#[test]
fn concurrent_callers_start_one_refresh_per_key() {
    let _serial = one_at_a_time();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "300ms", refresh_mode = "background", max_stale = "10s")]
    fn page(n: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        sleep(Duration::from_millis(100));
        n
    }
    // Written at about 100 and 200 ms: both stale after 500 ms.
    page(1);
    page(2);
    sleep(Duration::from_millis(350));
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..20 {
                    assert_eq!(page(1), 1);
                    assert_eq!(page(2), 2);
                }
            });
        }
    });
    eventually("both refreshes", || page::stats().refreshes.succeeded == 2);
    assert_eq!(
        CALLS.load(SeqCst),
        4,
        "two computations and one refresh per key"
    );
}

#[test]
fn a_failed_refresh_keeps_the_stale_value_and_cools_down() {
    let _serial = one_at_a_time();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static FAIL: AtomicBool = AtomicBool::new(false);
    #[cache_data(ttl = "100ms", refresh_mode = "background", max_stale = "1s")]
    fn rate(pair: &str) -> Result<String, String> {
        CALLS.fetch_add(1, SeqCst);
        if FAIL.load(SeqCst) {
            Err(format!("{pair}: feed down"))
        } else {
            Ok(format!("{pair}: 1.08"))
        }
    }
    assert_eq!(rate("EURUSD").unwrap(), "EURUSD: 1.08");
    FAIL.store(true, SeqCst);
    sleep(Duration::from_millis(150));
    assert_eq!(
        rate("EURUSD").unwrap(),
        "EURUSD: 1.08",
        "stale, refresh started"
    );
    eventually("the failed refresh", || rate::stats().refreshes.failed == 1);
    // Cooling down: the stale value is served and no refresh starts.
    for _ in 0..5 {
        assert_eq!(rate("EURUSD").unwrap(), "EURUSD: 1.08");
    }
    sleep(Duration::from_millis(50));
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "one failed refresh, then the cooldown"
    );
    let stats = rate::stats();
    assert_eq!((stats.refreshes.failed, stats.refreshes.succeeded), (1, 0));
    assert_eq!(stats.errors, 0, "a refresh's error is not a caller's");
    // Past the hard deadline the caller computes, and gets the error.
    sleep(Duration::from_millis(1000));
    assert_eq!(rate("EURUSD"), Err("EURUSD: feed down".to_owned()));
    FAIL.store(false, SeqCst);
}

#[test]
fn a_panicking_refresh_keeps_the_stale_value() {
    let _serial = one_at_a_time();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "100ms", refresh_mode = "background", max_stale = "5s")]
    fn fragile(x: u32) -> u32 {
        if CALLS.fetch_add(1, SeqCst) == 1 {
            panic!("refresh panicked on purpose");
        }
        x
    }
    assert_eq!(fragile(7), 7);
    sleep(Duration::from_millis(120));
    assert_eq!(fragile(7), 7);
    eventually("the panicked refresh", || {
        fragile::stats().refreshes.failed == 1
    });
    assert_eq!(fragile(7), 7, "still the stale value");
}

#[test]
fn a_clear_during_a_refresh_wins() {
    let _serial = one_at_a_time();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static REFRESHING: AtomicBool = AtomicBool::new(false);
    static RELEASE: AtomicBool = AtomicBool::new(false);
    #[cache_data(ttl = "100ms", refresh_mode = "background", max_stale = "5s")]
    fn balance(account: u32) -> usize {
        let n = CALLS.fetch_add(1, SeqCst);
        if n == 1 {
            REFRESHING.store(true, SeqCst);
            while !RELEASE.load(SeqCst) {
                sleep(Duration::from_millis(1));
            }
        }
        account as usize * 1000 + n
    }
    assert_eq!(balance(1), 1000);
    sleep(Duration::from_millis(120));
    assert_eq!(balance(1), 1000, "stale");
    eventually("the refresh to start", || REFRESHING.load(SeqCst));
    balance::clear();
    RELEASE.store(true, SeqCst);
    eventually("the refresh to end", || {
        balance::stats().refreshes.succeeded == 1
    });
    assert_eq!(
        balance::stats().entries,
        0,
        "the refresh's value was not stored"
    );
    assert_eq!(balance(1), 1002, "computed after the clear");

    // An invalidate of the key wins too.
    REFRESHING.store(false, SeqCst);
    RELEASE.store(false, SeqCst);
    CALLS.store(1, SeqCst);
    sleep(Duration::from_millis(120));
    assert_eq!(balance(1), 1002, "stale");
    eventually("the refresh to start", || REFRESHING.load(SeqCst));
    assert!(balance::invalidate(1));
    RELEASE.store(true, SeqCst);
    eventually("the refresh to end", || {
        balance::stats().refreshes.succeeded == 2
    });
    assert_eq!(balance::stats().entries, 0);
}

#[test]
fn a_resource_releases_the_value_a_refresh_replaced() {
    let _serial = one_at_a_time();
    static RELEASED: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    struct Connection {
        id: u32,
    }
    fn close(connection: &Connection) {
        RELEASED.lock().unwrap().push(connection.id);
    }
    #[cache_resource(ttl = "100ms", refresh_mode = "background", max_stale = "5s", on_release = close)]
    fn connect(url: &str) -> Connection {
        assert!(!url.is_empty());
        Connection {
            id: OPENED.fetch_add(1, SeqCst) as u32,
        }
    }
    let first = connect("db://main");
    sleep(Duration::from_millis(120));
    let stale = connect("db://main");
    assert!(Arc::ptr_eq(&first, &stale), "the stale object, shared");
    eventually("the refresh", || connect::stats().refreshes.succeeded == 1);
    let fresh = connect("db://main");
    assert_eq!(fresh.id, 1);
    eventually("the release", || RELEASED.lock().unwrap().len() == 1);
    assert_eq!(*RELEASED.lock().unwrap(), vec![0], "the replaced one, once");
    connect::clear();
    assert_eq!(*RELEASED.lock().unwrap(), vec![0, 1]);
}

#[test]
fn async_functions_refresh_without_an_async_runtime() {
    let _serial = one_at_a_time();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "100ms", refresh_mode = "background", max_stale = "5s")]
    async fn prices(symbol: &str) -> Vec<String> {
        let n = CALLS.fetch_add(1, SeqCst);
        common::Yield(2).await;
        vec![format!("{symbol}#{n}")]
    }
    common::block_on(async {
        assert_eq!(prices("ACME").await, ["ACME#0"]);
        sleep(Duration::from_millis(120));
        assert_eq!(prices("ACME").await, ["ACME#0"], "stale");
    });
    eventually("the refresh", || prices::stats().refreshes.succeeded == 1);
    common::block_on(async {
        assert_eq!(prices("ACME").await, ["ACME#1"]);
    });
}

#[test]
fn a_saturated_pool_skips_rather_than_queues() {
    let _serial = one_at_a_time();
    static RELEASE: AtomicBool = AtomicBool::new(false);
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "100ms", refresh_mode = "background", max_stale = "10s")]
    fn slow(key: u32) -> u32 {
        if CALLS.fetch_add(1, SeqCst) >= 5 {
            STARTED.fetch_add(1, SeqCst);
            while !RELEASE.load(SeqCst) {
                sleep(Duration::from_millis(1));
            }
        }
        key
    }
    let workers = cache_runtime::refresh::workers();
    assert_eq!(workers, 4);
    for key in 0..5 {
        slow(key);
    }
    sleep(Duration::from_millis(120));
    for key in 0..4 {
        slow(key);
    }
    eventually("4 refreshes running", || STARTED.load(SeqCst) == 4);
    assert_eq!(slow(4), 4, "stale, its refresh skipped");
    assert_eq!(slow::stats().refreshes.skipped, 1);
    RELEASE.store(true, SeqCst);
    eventually("the refreshes", || slow::stats().refreshes.succeeded == 4);
    // The skipped key is refreshed by a later call.
    slow(4);
    eventually("the last refresh", || {
        slow::stats().refreshes.succeeded == 5
    });
}
