//! `max_entries`: least-recently-used eviction, as Streamlit does.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::cache_data;

#[test]
fn evicts_the_least_recently_used_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_entries = 2)]
    fn square(x: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        x * x
    }
    // Streamlit's verified case: max_entries=2, calls 1, 2, 1, 3, 1 => 3 computations.
    for x in [1, 2, 1, 3, 1] {
        assert_eq!(square(x), x * x);
    }
    assert_eq!(
        CALLS.load(SeqCst),
        3,
        "1 was used more recently than 2, so 2 was evicted"
    );
    square(2);
    assert_eq!(CALLS.load(SeqCst), 4);
    let stats = square::stats();
    assert_eq!(stats.entries, 2);
    assert!(stats.evictions >= 2);
}

#[test]
fn the_newest_value_is_always_admitted() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    const LIMIT: usize = 3;
    #[cache_data(max_entries = LIMIT)]
    fn id(x: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        x
    }
    // Hammer a few keys so a frequency-based policy would refuse newcomers.
    for _ in 0..50 {
        id(1);
        id(2);
    }
    id(100);
    let before = CALLS.load(SeqCst);
    id(100);
    assert_eq!(
        CALLS.load(SeqCst),
        before,
        "a new key is cached at once (LRU, not TinyLFU)"
    );
}
