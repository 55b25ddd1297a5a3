//! `ttl`: entries expire a fixed time after they were written; reads do not extend it.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread::sleep;
use std::time::Duration;

use cache_runtime::cache_data;

#[test]
fn entries_expire_after_ttl_from_write() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "300ms")]
    fn stamp(x: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        x
    }
    stamp(1);
    // Read repeatedly for most of the TTL: reads must not push expiry back.
    for _ in 0..5 {
        sleep(Duration::from_millis(40));
        stamp(1);
    }
    assert_eq!(CALLS.load(SeqCst), 1);
    sleep(Duration::from_millis(200));
    stamp(1);
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "the entry expired 300ms after it was written"
    );
    assert!(stamp::stats().evictions >= 1 || stamp::stats().entries == 1);
}

#[test]
fn ttl_forms_all_work() {
    #[cache_data(ttl = 1)]
    fn seconds(x: u8) -> u8 {
        x
    }
    #[cache_data(ttl = 0.25)]
    fn fractional(x: u8) -> u8 {
        x
    }
    #[cache_data(ttl = Duration::from_millis(250))]
    fn expression(x: u8) -> u8 {
        x
    }
    #[cache_data(ttl = "1h30m")]
    fn compound(x: u8) -> u8 {
        x
    }
    for f in [seconds, fractional, expression, compound] {
        assert_eq!(f(7), 7);
        assert_eq!(f(7), 7);
    }
    let infos = cache_runtime::cache_data::functions();
    let ttl_of = |name: &str| {
        infos
            .iter()
            .find(|i| i.short_name() == name)
            .and_then(|i| i.ttl)
    };
    assert_eq!(ttl_of("seconds"), Some(Duration::from_secs(1)));
    assert_eq!(ttl_of("fractional"), Some(Duration::from_millis(250)));
    assert_eq!(ttl_of("expression"), Some(Duration::from_millis(250)));
    assert_eq!(ttl_of("compound"), Some(Duration::from_secs(5400)));
}

#[tokio::test]
async fn async_ttl_counts_from_when_the_value_was_computed() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(ttl = "300ms")]
    async fn slow(x: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(250)).await;
        x
    }
    slow(1).await;
    // 150ms after the value existed (400ms after the call started) it is still fresh.
    tokio::time::sleep(Duration::from_millis(150)).await;
    slow(1).await;
    assert_eq!(CALLS.load(SeqCst), 1);
}
