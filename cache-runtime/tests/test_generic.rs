//! Generic cached functions: each instantiation has a cache of its own (its
//! types are part of the function's identity), and the function's handle
//! clears and counts them all.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, cache_resource};
use serde::Serialize;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cache_data]
fn top<T: Serialize + Clone + Ord + Send + Sync>(mut xs: Vec<T>, n: usize) -> Vec<T> {
    CALLS.fetch_add(1, SeqCst);
    xs.sort();
    xs.into_iter().rev().take(n).collect()
}

#[test]
fn each_instantiation_has_its_own_entries_and_the_handle_covers_them_all() {
    assert_eq!(top(vec![3u32, 1, 2], 2), [3, 2]);
    assert_eq!(top(vec![3u32, 1, 2], 2), [3, 2]);
    assert_eq!(CALLS.load(SeqCst), 1, "the second call hit");
    let words = vec!["b".to_owned(), "c".to_owned(), "a".to_owned()];
    assert_eq!(top(words.clone(), 1), ["c"]);
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "another instantiation: its own cache"
    );
    // Equal key bytes, different types: never shared.
    assert_eq!(top(vec![3u64, 1, 2], 2), [3, 2]);
    assert_eq!(CALLS.load(SeqCst), 3);

    let stats = top::stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.entries),
        (1, 3, 3),
        "summed"
    );
    let names: Vec<_> = cache_runtime::functions()
        .into_iter()
        .map(|info| info.name)
        .filter(|name| name.contains("::top::<"))
        .collect();
    assert_eq!(
        names,
        [
            "test_generic::top::<alloc::string::String>",
            "test_generic::top::<u32>",
            "test_generic::top::<u64>",
        ],
        "listed per instantiation"
    );

    assert!(top::invalidate(vec![3u32, 1, 2], 2));
    assert_eq!(top::stats().entries, 2, "only the u32 entry went");
    top::clear();
    assert_eq!(top::stats().entries, 0, "every instantiation cleared");
    top(words, 1);
    assert_eq!(CALLS.load(SeqCst), 4);
}

#[test]
fn generic_resources_and_async_functions_work_too() {
    #[cache_resource]
    fn default_of<T: Default + Send + Sync>() -> T {
        T::default()
    }
    let a = default_of::<String>();
    assert!(std::sync::Arc::ptr_eq(&a, &default_of::<String>()));
    assert_eq!(*default_of::<u8>(), 0);
    assert_eq!(default_of::stats().entries, 2);
    assert!(default_of::invalidate::<u8>());
    assert_eq!(default_of::stats().entries, 1);
    default_of::clear();
    assert!(!std::sync::Arc::ptr_eq(&a, &default_of::<String>()));

    #[cache_data]
    async fn doubled<T: Serialize + Clone + Send + Sync + std::ops::Add<Output = T>>(x: T) -> T {
        x.clone() + x
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(doubled(2u8)), 4);
    assert_eq!(runtime.block_on(doubled(2.5f64)), 5.0);
    assert_eq!(runtime.block_on(doubled(2u8)), 4);
    assert_eq!(doubled::stats().hits, 1);
    runtime.block_on(doubled::warm(1u16));
    assert_eq!(doubled::stats().entries, 3);
}
