//! How many deep copies a call makes of a `#[cache_data]` value: a hit hands
//! the caller exactly one clone, a miss at most one (the computed value goes to
//! the cache, one copy to the caller), whether the value was computed, loaded
//! from the disk tier, sync or async. `#[cache_resource]` never copies.
//!
//! Each test has its own value type (`Big<TAG>`) with its own clone counter, so
//! tests running in parallel do not see each other's copies.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, cache_resource};
use common::private_disk_folder;
use serde::{Deserialize, Serialize};

/// One clone counter per test.
static CLONES: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];

const SYNC: usize = 0;
const ASYNC: usize = 1;
const RESULT: usize = 2;
const DISK: usize = 3;
const RESOURCE: usize = 4;
const SINGLETON: usize = 5;
const ASYNC_RESOURCE: usize = 6;
const ASYNC_DISK: usize = 7;

/// A value whose every deep copy is counted in `CLONES[TAG]`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Big<const TAG: usize> {
    payload: Vec<u64>,
}

impl<const TAG: usize> Big<TAG> {
    fn new(n: u64) -> Self {
        Big {
            payload: (0..1000).map(|i| i * n).collect(),
        }
    }
}

impl<const TAG: usize> Clone for Big<TAG> {
    fn clone(&self) -> Self {
        CLONES[TAG].fetch_add(1, SeqCst);
        Big {
            payload: self.payload.clone(),
        }
    }
}

/// The copies of `Big<TAG>` made while running `call`.
fn copies<const TAG: usize, T>(call: impl FnOnce() -> T) -> (T, usize) {
    let before = CLONES[TAG].load(SeqCst);
    let value = call();
    (value, CLONES[TAG].load(SeqCst) - before)
}

#[test]
fn a_miss_copies_at_most_once_and_a_hit_exactly_once() {
    #[cache_data]
    fn big(n: u64) -> Big<SYNC> {
        Big::new(n)
    }
    let (value, miss) = copies::<SYNC, _>(|| big(3));
    assert_eq!(value, Big::new(3));
    assert!(miss <= 1, "a miss deep-copied the value {miss} times");
    let (value, hit) = copies::<SYNC, _>(|| big(3));
    assert_eq!(value, Big::new(3));
    assert_eq!(hit, 1, "a hit deep-copies the value exactly once");
    assert_eq!((big::stats().misses, big::stats().hits), (1, 1));
}

#[test]
fn an_async_miss_copies_at_most_once_and_a_hit_exactly_once() {
    #[cache_data]
    async fn big(n: u64) -> Big<ASYNC> {
        Big::new(n)
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (value, miss) = copies::<ASYNC, _>(|| runtime.block_on(big(3)));
    assert_eq!(value, Big::new(3));
    assert!(miss <= 1, "a miss deep-copied the value {miss} times");
    let (value, hit) = copies::<ASYNC, _>(|| runtime.block_on(big(3)));
    assert_eq!(value, Big::new(3));
    assert_eq!(hit, 1, "a hit deep-copies the value exactly once");
}

#[test]
fn a_result_miss_copies_at_most_once_and_a_hit_exactly_once() {
    #[cache_data]
    fn big(n: u64) -> Result<Big<RESULT>, String> {
        Ok(Big::new(n))
    }
    let (value, miss) = copies::<RESULT, _>(|| big(3));
    assert_eq!(value, Ok(Big::new(3)));
    assert!(miss <= 1, "a miss deep-copied the value {miss} times");
    let (value, hit) = copies::<RESULT, _>(|| big(3));
    assert_eq!(value, Ok(Big::new(3)));
    assert_eq!(hit, 1, "a hit deep-copies the value exactly once");
}

#[test]
fn a_disk_miss_and_a_disk_load_copy_at_most_once() {
    private_disk_folder("copies-test");
    #[cache_data(persist = "disk")]
    fn big_on_disk(n: u64) -> Big<DISK> {
        Big::new(n)
    }
    let (value, miss) = copies::<DISK, _>(|| big_on_disk(3));
    assert_eq!(value, Big::new(3));
    assert!(miss <= 1, "a miss deep-copied the value {miss} times");

    // A restarted process: the value comes from the disk.
    cache_runtime::__private::clear_memory("big_on_disk");
    let (value, load) = copies::<DISK, _>(|| big_on_disk(3));
    assert_eq!(value, Big::new(3));
    assert_eq!(big_on_disk::stats().disk_hits, 1, "loaded from the disk");
    assert!(
        load <= 1,
        "a load from disk deep-copied the value {load} times"
    );

    let (value, hit) = copies::<DISK, _>(|| big_on_disk(3));
    assert_eq!(value, Big::new(3));
    assert_eq!(hit, 1, "a hit deep-copies the value exactly once");
    assert_eq!(big_on_disk::stats().misses, 1);
}

#[test]
fn an_async_disk_miss_and_disk_load_copy_at_most_once() {
    private_disk_folder("copies-test");
    #[cache_data(persist = "disk")]
    async fn big_on_disk_async(n: u64) -> Big<ASYNC_DISK> {
        Big::new(n)
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (value, miss) = copies::<ASYNC_DISK, _>(|| runtime.block_on(big_on_disk_async(3)));
    assert_eq!(value, Big::new(3));
    assert!(miss <= 1, "a miss deep-copied the value {miss} times");

    cache_runtime::__private::clear_memory("big_on_disk_async");
    let (value, load) = copies::<ASYNC_DISK, _>(|| runtime.block_on(big_on_disk_async(3)));
    assert_eq!(value, Big::new(3));
    assert_eq!(
        big_on_disk_async::stats().disk_hits,
        1,
        "loaded from the disk"
    );
    assert!(
        load <= 1,
        "a load from disk deep-copied the value {load} times"
    );

    let (value, hit) = copies::<ASYNC_DISK, _>(|| runtime.block_on(big_on_disk_async(3)));
    assert_eq!(value, Big::new(3));
    assert_eq!(hit, 1, "a hit deep-copies the value exactly once");
}

#[test]
fn a_resource_is_never_copied() {
    #[cache_resource]
    fn shared(n: u64) -> Big<RESOURCE> {
        Big::new(n)
    }
    let (first, miss) = copies::<RESOURCE, _>(|| shared(3));
    let (again, hit) = copies::<RESOURCE, _>(|| shared(3));
    assert_eq!((miss, hit), (0, 0), "a resource is shared, never cloned");
    assert!(std::sync::Arc::ptr_eq(&first, &again));
}

#[test]
fn a_singleton_resource_is_never_copied() {
    #[cache_resource]
    fn shared() -> Big<SINGLETON> {
        Big::new(3)
    }
    let (first, miss) = copies::<SINGLETON, _>(shared);
    let (again, hit) = copies::<SINGLETON, _>(shared);
    assert_eq!((miss, hit), (0, 0), "a resource is shared, never cloned");
    assert!(std::sync::Arc::ptr_eq(&first, &again));
}

#[test]
fn an_async_resource_is_never_copied() {
    #[cache_resource]
    async fn shared(n: u64) -> Big<ASYNC_RESOURCE> {
        Big::new(n)
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (first, miss) = copies::<ASYNC_RESOURCE, _>(|| runtime.block_on(shared(3)));
    let (again, hit) = copies::<ASYNC_RESOURCE, _>(|| runtime.block_on(shared(3)));
    assert_eq!((miss, hit), (0, 0), "a resource is shared, never cloned");
    assert!(std::sync::Arc::ptr_eq(&first, &again));
}
