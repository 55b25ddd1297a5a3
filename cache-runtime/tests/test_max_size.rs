//! `max_size`: a byte bound on a function's values in memory, least recently
//! used first, each value weighed by its serialized size (or `size_with`);
//! and evictions counted per reason.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cache_runtime::{Kind, cache_data, cache_resource, functions, persist};

/// `n` bytes whose postcard encoding is `n + 1` bytes (a one-byte length).
fn blob(n: usize, fill: u8) -> Vec<u8> {
    assert!(n < 128);
    vec![fill; n]
}

#[test]
fn evicts_the_least_recently_used_bytes() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    // Room for two 40-byte values, not three.
    #[cache_data(max_size = 100)]
    fn chunk(x: u8) -> Vec<u8> {
        CALLS.fetch_add(1, SeqCst);
        blob(39, x)
    }
    // Streamlit's LRU rule, in bytes: 1, 2, 1, 3, 1 => 3 computations.
    for x in [1, 2, 1, 3, 1] {
        assert_eq!(chunk(x), blob(39, x));
    }
    assert_eq!(CALLS.load(SeqCst), 3, "1 was used more recently than 2");
    chunk(2);
    assert_eq!(CALLS.load(SeqCst), 4, "2 was evicted to make room for 3");
    let stats = chunk::stats();
    assert_eq!(stats.entries, 2);
    assert_eq!(stats.evicted.max_size, 2, "{stats:?}");
    assert_eq!(stats.evicted.max_entries, 0);
    assert_eq!(stats.evictions, stats.evicted.total());
}

#[test]
fn small_values_fill_the_budget_by_their_bytes() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    // "1KiB" is 1024 bytes: 25 values of 40 bytes fit, the 26th evicts one.
    #[cache_data(max_size = "1KiB")]
    fn chunk(x: u8) -> Vec<u8> {
        CALLS.fetch_add(1, SeqCst);
        blob(39, x)
    }
    for x in 0..25 {
        chunk(x);
    }
    for x in 0..25 {
        chunk(x);
    }
    assert_eq!(CALLS.load(SeqCst), 25, "25 values of 40 bytes fit in 1 KiB");
    chunk(25);
    chunk(0);
    assert_eq!(CALLS.load(SeqCst), 27, "the 26th value evicted the oldest");
    assert_eq!(chunk::stats().entries, 25);
}

#[test]
fn a_value_larger_than_max_size_is_stored_alone() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_size = 64)]
    fn sized(n: usize) -> Vec<u8> {
        CALLS.fetch_add(1, SeqCst);
        blob(n, 7)
    }
    sized(10);
    sized(20);
    assert_eq!(sized::stats().entries, 2);
    // 101 bytes > 64: stored anyway (as Streamlit), the others make room.
    sized(100);
    sized(100);
    assert_eq!(CALLS.load(SeqCst), 3, "the large value was cached");
    let stats = sized::stats();
    assert_eq!(stats.entries, 1, "{stats:?}");
    assert_eq!(stats.evicted.max_size, 2);
    // And it goes as soon as anything else is stored.
    sized(1);
    assert_eq!(sized::stats().entries, 1);
    sized(100);
    assert_eq!(CALLS.load(SeqCst), 5);
}

/// Not `Serialize`: weighed by hand.
#[derive(Clone, Debug, PartialEq)]
struct Frame {
    pixels: Vec<u32>,
}

fn frame_bytes(frame: &Frame) -> usize {
    frame.pixels.len() * 4
}

#[test]
fn size_with_weighs_values_that_are_not_serialize() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    // Each frame weighs 400 bytes by `frame_bytes`: two fit in 1000.
    #[cache_data(max_size = 1000, size_with = frame_bytes)]
    fn render(seed: u32) -> Frame {
        CALLS.fetch_add(1, SeqCst);
        Frame {
            pixels: vec![seed; 100],
        }
    }
    render(1);
    render(2);
    render(1);
    assert_eq!(CALLS.load(SeqCst), 2);
    render(3);
    assert_eq!(render::stats().entries, 2);
    render(1);
    assert_eq!(CALLS.load(SeqCst), 3, "2 went, 1 stayed");
    render(2);
    assert_eq!(CALLS.load(SeqCst), 4);
}

#[test]
fn max_size_takes_an_integer_expression() {
    const LIMIT: usize = 2 * 41;
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_size = LIMIT, name = "max_size_expression")]
    fn chunk(x: u8) -> Vec<u8> {
        CALLS.fetch_add(1, SeqCst);
        blob(40, x)
    }
    for x in [1, 2, 1, 3, 1, 2] {
        chunk(x);
    }
    assert_eq!(CALLS.load(SeqCst), 4);
    let info = functions()
        .into_iter()
        .find(|f| f.name == "max_size_expression")
        .expect("registered");
    assert_eq!(info.max_size, Some(82));
    assert_eq!(info.max_entries, None);
}

#[test]
fn async_functions_are_bounded_alike() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_size = "100b")]
    async fn chunk(x: u8) -> Vec<u8> {
        CALLS.fetch_add(1, SeqCst);
        blob(39, x)
    }
    common::block_on(async {
        for x in [1, 2, 1, 3, 1] {
            assert_eq!(chunk(x).await, blob(39, x));
        }
    });
    assert_eq!(CALLS.load(SeqCst), 3);
    assert_eq!(chunk::stats().evicted.max_size, 1);
}

#[test]
fn errors_weigh_nothing_and_are_never_stored() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_size = 100)]
    fn maybe(x: u8) -> Result<Vec<u8>, String> {
        CALLS.fetch_add(1, SeqCst);
        if x == 0 {
            Err("no".into())
        } else {
            Ok(blob(39, x))
        }
    }
    maybe(1).unwrap();
    maybe(2).unwrap();
    assert!(maybe(0).is_err());
    assert!(maybe(0).is_err());
    maybe(1).unwrap();
    maybe(2).unwrap();
    assert_eq!(CALLS.load(SeqCst), 4, "the errors evicted nothing");
    assert_eq!(maybe::stats().evictions, 0);
}

#[test]
fn with_persist_only_the_memory_copy_is_bounded() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = common::fresh_temp_dir("max_size_persist");
    persist::configure(persist::Settings::default().dir(&dir)).unwrap();
    #[cache_data(max_size = 100, persist = "disk")]
    fn chunk(x: u8) -> Vec<u8> {
        CALLS.fetch_add(1, SeqCst);
        blob(39, x)
    }
    for x in [1, 2, 3] {
        chunk(x);
    }
    assert_eq!(chunk::stats().entries, 2);
    // 1 left memory, not the disk.
    assert_eq!(chunk(1), blob(39, 1));
    assert_eq!(CALLS.load(SeqCst), 3);
    assert_eq!(chunk::stats().disk_hits, 1);
}

#[test]
fn evictions_are_counted_by_reason() {
    #[cache_data(max_entries = 1)]
    fn counted(x: u32) -> u32 {
        x
    }
    counted(1);
    counted(2);
    counted(3);
    let stats = counted::stats();
    assert_eq!(stats.evicted.max_entries, 2, "{stats:?}");
    assert_eq!((stats.evicted.ttl, stats.evicted.max_size), (0, 0));

    #[cache_data(ttl = "50ms")]
    fn short(x: u32) -> u32 {
        x
    }
    short(1);
    std::thread::sleep(Duration::from_millis(120));
    short(1);
    let stats = short::stats();
    assert_eq!(stats.evicted.ttl, 1, "{stats:?}");
    assert_eq!(stats.evictions, 1);

    static ALIVE: AtomicBool = AtomicBool::new(true);
    fn alive(_: &String) -> bool {
        ALIVE.load(SeqCst)
    }
    #[cache_resource(validate = alive)]
    fn connection() -> String {
        "conn".to_owned()
    }
    let first = connection();
    ALIVE.store(false, SeqCst);
    let second = connection();
    ALIVE.store(true, SeqCst);
    assert!(
        !Arc::ptr_eq(&first, &second),
        "a rejected value is replaced"
    );
    let stats = connection::stats();
    assert_eq!(stats.evicted.validate, 1, "{stats:?}");
    assert_eq!(stats.evictions, 1);
    let info = functions()
        .into_iter()
        .find(|f| f.name.ends_with("::connection") && f.kind == Kind::Resource)
        .expect("registered");
    assert_eq!(info.stats.evicted.validate, 1);
}
