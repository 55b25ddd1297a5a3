//! Clearing: per function, per entry, per kind, globally, and the registry.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{Kind, cache_data, cache_resource};

static DATA_CALLS: AtomicUsize = AtomicUsize::new(0);
static RELEASED: AtomicUsize = AtomicUsize::new(0);

#[cache_data]
fn rows(table: &str, limit: u32) -> Vec<u32> {
    DATA_CALLS.fetch_add(1, SeqCst);
    let _ = table;
    (0..limit).collect()
}

fn release(_: &String) {
    RELEASED.fetch_add(1, SeqCst);
}

#[cache_resource(on_release = release)]
fn session(name: &str) -> String {
    name.to_owned()
}

// One test, because the global clears touch every cache in this process.
#[test]
fn clear_invalidate_and_global_clears() {
    rows("a", 1);
    rows("a", 2);
    rows("b", 1);
    assert_eq!(DATA_CALLS.load(SeqCst), 3);

    // One entry, by the same arguments (Streamlit: f.clear(*args)).
    assert!(rows::invalidate("a", 2));
    assert!(!rows::invalidate("a", 2), "already gone");
    rows("a", 1);
    rows("a", 2);
    assert_eq!(DATA_CALLS.load(SeqCst), 4, "only (a, 2) was recomputed");

    // Every entry of one function (Streamlit: f.clear()).
    rows::clear();
    assert_eq!(rows::stats().entries, 0);
    rows("a", 1);
    assert_eq!(DATA_CALLS.load(SeqCst), 5);

    // The registry lists both functions, by kind.
    session("x");
    session("y");
    let names: Vec<_> = cache_runtime::functions()
        .iter()
        .map(|f| (f.short_name(), f.kind))
        .collect();
    assert!(names.contains(&("rows", Kind::Data)), "{names:?}");
    assert!(names.contains(&("session", Kind::Resource)), "{names:?}");
    assert_eq!(cache_runtime::cache_data::functions().len(), 1);
    assert_eq!(
        cache_runtime::cache_data::functions()[0].persist,
        None,
        "memory only"
    );
    let info = &cache_runtime::cache_resource::functions()[0];
    assert!(info.name.ends_with("test_clear::session"), "{}", info.name);
    assert_eq!(info.stats.entries, 2);

    // st.cache_data.clear() leaves resources alone.
    cache_runtime::cache_data::clear();
    assert_eq!(rows::stats().entries, 0);
    assert_eq!(session::stats().entries, 2);
    assert_eq!(RELEASED.load(SeqCst), 0);

    // st.cache_resource.clear() releases every resource.
    cache_runtime::cache_resource::clear();
    assert_eq!(session::stats().entries, 0);
    assert_eq!(RELEASED.load(SeqCst), 2);

    // By name, as a dashboard would.
    rows("c", 1);
    assert!(cache_runtime::clear_function(
        cache_runtime::cache_data::functions()[0].name
    ));
    assert!(!cache_runtime::clear_function("no::such::function"));
    assert_eq!(rows::stats().entries, 0);

    // Everything.
    rows("d", 1);
    session("z");
    cache_runtime::clear_all();
    assert_eq!((rows::stats().entries, session::stats().entries), (0, 0));
    assert_eq!(RELEASED.load(SeqCst), 3);

    // Counters survive clears.
    let stats = rows::stats();
    assert_eq!(stats.misses, DATA_CALLS.load(SeqCst) as u64);
    assert_eq!(stats.hits, 1, "(a, 1) survived the invalidation of (a, 2)");
}
