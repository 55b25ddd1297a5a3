//! What makes up a key: values of any `Serialize` type; `_` and skipped
//! parameters left out; `hash_with` for custom keys; maps and sets keyed by
//! their contents, whatever their iteration order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::cache_data;
use serde::Serialize;

#[derive(Serialize, Clone)]
struct Query {
    regions: Vec<String>,
    limit: Option<u32>,
}

#[test]
fn many_argument_types_key_by_value() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn run(
        query: &Query,
        weights: &[f64],
        scale: f64,
        extra: Option<(u8, char)>,
        tags: BTreeMap<String, i64>,
    ) -> usize {
        CALLS.fetch_add(1, SeqCst);
        query.regions.len()
            + weights.len()
            + scale as usize
            + extra.map_or(0, |e| e.0 as usize)
            + tags.len()
    }
    let query = Query {
        regions: vec!["asia".into(), "europe".into()],
        limit: Some(10),
    };
    let tags = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]);
    let first = run(&query, &[1.0, 2.5], 2.0, Some((1, 'x')), tags.clone());
    // Equal values built separately hit the same entry.
    let rebuilt_tags: BTreeMap<_, _> = [("b".to_owned(), 2), ("a".to_owned(), 1)]
        .into_iter()
        .collect();
    let weights: Vec<f64> = vec![1.0, 2.5];
    assert_eq!(
        run(&query.clone(), &weights, 2.0, Some((1, 'x')), rebuilt_tags),
        first
    );
    assert_eq!(CALLS.load(SeqCst), 1);
    // Any difference in any argument is a different key.
    run(&query, &[1.0, 2.5], 2.0, Some((1, 'y')), tags.clone());
    run(&query, &[1.0, 2.5], 2.5, Some((1, 'x')), tags.clone());
    run(
        &Query {
            limit: None,
            ..query.clone()
        },
        &[1.0, 2.5],
        2.0,
        Some((1, 'x')),
        tags.clone(),
    );
    run(&query, &[1.0], 2.0, Some((1, 'x')), tags);
    assert_eq!(CALLS.load(SeqCst), 5);
}

#[test]
fn adjacent_arguments_do_not_run_together() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn join(a: &str, b: &str) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("{a}|{b}")
    }
    // Length-prefixed encoding: ("ab", "c") and ("a", "bc") are different keys.
    assert_eq!(join("ab", "c"), "ab|c");
    assert_eq!(join("a", "bc"), "a|bc");
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[test]
fn underscore_parameters_are_left_out() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    struct Logger;
    #[cache_data]
    fn compute(x: u32, _logger: &Logger) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        x
    }
    compute(1, &Logger);
    compute(1, &Logger);
    assert_eq!(CALLS.load(SeqCst), 1);
    assert!(
        compute::invalidate(1),
        "invalidate takes only the key arguments"
    );
}

#[test]
fn skip_attribute_leaves_a_parameter_out() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn report(id: u64, #[cache(skip)] request_id: String) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("report {id} (first asked by {request_id})")
    }
    assert_eq!(report(1, "r1".into()), "report 1 (first asked by r1)");
    assert_eq!(report(1, "r2".into()), "report 1 (first asked by r1)");
    assert_eq!(CALLS.load(SeqCst), 1);
}

#[test]
fn hash_with_keys_by_a_derived_value() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    /// Not `Serialize`: keyed by its URL instead (Streamlit's `hash_funcs`).
    struct Pool {
        url: String,
    }
    fn pool_url(pool: &Pool) -> &str {
        &pool.url
    }
    #[cache_data]
    fn count(#[cache(hash_with = pool_url)] pool: &Pool, table: &str) -> usize {
        CALLS.fetch_add(1, SeqCst);
        pool.url.len() + table.len()
    }
    let a = Pool {
        url: "db://a".into(),
    };
    count(&a, "t");
    count(
        &Pool {
            url: "db://a".into(),
        },
        "t",
    );
    assert_eq!(CALLS.load(SeqCst), 1);
    count(
        &Pool {
            url: "db://b".into(),
        },
        "t",
    );
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[test]
fn pattern_parameters_are_keyed_whole() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn area((width, height): (u32, u32), mut scale: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        scale += 0;
        width * height * scale
    }
    assert_eq!(area((2, 3), 1), 6);
    assert_eq!(area((2, 3), 1), 6);
    assert_eq!(area((3, 2), 1), 6);
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[test]
fn zero_argument_data_is_cached_once() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn config() -> Vec<(String, String)> {
        CALLS.fetch_add(1, SeqCst);
        vec![("region".into(), "eu".into())]
    }
    assert_eq!(config(), config());
    assert_eq!(CALLS.load(SeqCst), 1);
}

#[test]
fn floats_key_by_their_bits() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn half(x: f64) -> f64 {
        CALLS.fetch_add(1, SeqCst);
        x / 2.0
    }
    half(0.0);
    half(-0.0);
    half(f64::NAN);
    half(f64::NAN);
    assert_eq!(
        CALLS.load(SeqCst),
        3,
        "0.0 and -0.0 differ; the same NaN matches itself"
    );
}

/// `count` entries `("key-{i}", i)`, inserted in ascending order into a map
/// with the default capacity.
fn ascending_map(count: u32) -> HashMap<String, u32> {
    (0..count).map(|i| (format!("key-{i}"), i)).collect()
}

/// The same entries as [`ascending_map`], inserted in descending order into a
/// map with a much larger capacity (and its own hasher seed).
fn descending_map(count: u32) -> HashMap<String, u32> {
    let mut map = HashMap::with_capacity(count as usize * 16 + 100);
    for i in (0..count).rev() {
        map.insert(format!("key-{i}"), i);
    }
    map
}

/// Asserts that two equal maps really iterate in different orders, so that a
/// hit between them proves the key does not depend on the order.
fn assert_iterates_differently<T: PartialEq + std::fmt::Debug>(
    a: impl IntoIterator<Item = T>,
    b: impl IntoIterator<Item = T>,
) {
    let a: Vec<T> = a.into_iter().collect();
    let b: Vec<T> = b.into_iter().collect();
    assert_ne!(
        a, b,
        "test precondition: the two collections iterate in different orders"
    );
}

#[test]
fn equal_hash_maps_built_differently_share_an_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn total(prices: &HashMap<String, u32>) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        prices.values().map(|&p| u64::from(p)).sum()
    }
    let first = ascending_map(64);
    let second = descending_map(64);
    assert_eq!(first, second);
    assert_iterates_differently(first.iter(), second.iter());

    assert_eq!(total(&first), 2016);
    assert_eq!(total(&second), 2016);
    assert_eq!(CALLS.load(SeqCst), 1, "the body ran once");
    let stats = total::stats();
    assert_eq!((stats.misses, stats.hits), (1, 1));
}

#[test]
fn equal_hash_sets_built_differently_share_an_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn largest(ids: HashSet<u64>) -> Option<u64> {
        CALLS.fetch_add(1, SeqCst);
        ids.into_iter().max()
    }
    let first: HashSet<u64> = (0..100u64).map(|i| i * 7919).collect();
    let mut second = HashSet::with_capacity(4096);
    for i in (0..100u64).rev() {
        second.insert(i * 7919);
    }
    assert_eq!(first, second);
    assert_iterates_differently(first.iter(), second.iter());

    assert_eq!(largest(first), Some(99 * 7919));
    assert_eq!(largest(second), Some(99 * 7919));
    assert_eq!(CALLS.load(SeqCst), 1, "the body ran once");
    assert_eq!(largest::stats().hits, 1);
}

#[test]
fn a_struct_holding_a_hash_map_is_keyed_by_its_contents() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Serialize, Clone, Debug, PartialEq)]
    struct Filter {
        table: String,
        columns: HashMap<String, u32>,
        limit: u32,
    }
    #[cache_data]
    fn run(filter: &Filter) -> usize {
        CALLS.fetch_add(1, SeqCst);
        filter.columns.len() + filter.limit as usize
    }
    let first = Filter {
        table: "sales".into(),
        columns: ascending_map(40),
        limit: 10,
    };
    let second = Filter {
        columns: descending_map(40),
        ..first.clone()
    };
    assert_eq!(first, second);
    assert_iterates_differently(first.columns.iter(), second.columns.iter());

    assert_eq!(run(&first), 50);
    assert_eq!(run(&second), 50);
    assert_eq!(CALLS.load(SeqCst), 1, "the body ran once");
    assert_eq!(run::stats().hits, 1);

    // A field that differs is still a different key.
    let other = Filter {
        limit: 11,
        ..second.clone()
    };
    assert_eq!(run(&other), 51);
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[test]
fn equal_btree_maps_built_differently_share_an_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn keys(map: BTreeMap<String, u32>) -> Vec<String> {
        CALLS.fetch_add(1, SeqCst);
        map.into_keys().collect()
    }
    let first: BTreeMap<String, u32> = ascending_map(30).into_iter().collect();
    let mut second = BTreeMap::new();
    for i in (0..30).rev() {
        second.insert(format!("key-{i}"), i);
    }
    assert_eq!(keys(first), keys(second));
    assert_eq!(CALLS.load(SeqCst), 1, "the body ran once");
    assert_eq!(keys::stats().hits, 1);
}

#[test]
fn a_vec_keeps_its_order() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn first_of(items: Vec<u32>) -> Option<u32> {
        CALLS.fetch_add(1, SeqCst);
        items.first().copied()
    }
    assert_eq!(first_of(vec![1, 2]), Some(1));
    assert_eq!(first_of(vec![2, 1]), Some(2));
    assert_eq!(CALLS.load(SeqCst), 2, "[1, 2] and [2, 1] are two keys");
    let stats = first_of::stats();
    assert_eq!((stats.misses, stats.hits), (2, 0));
}

#[test]
fn distinct_maps_are_distinct_keys() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn size(map: &HashMap<String, u32>) -> usize {
        CALLS.fetch_add(1, SeqCst);
        map.len()
    }
    let base = ascending_map(10);
    let mut other_value = base.clone();
    other_value.insert("key-3".into(), 300);
    let mut other_key = base.clone();
    other_key.remove("key-3");
    other_key.insert("key-X".into(), 3);
    let mut larger = base.clone();
    larger.insert("key-10".into(), 10);

    assert_eq!(size(&base), 10);
    assert_eq!(size(&other_value), 10);
    assert_eq!(size(&other_key), 10);
    assert_eq!(size(&larger), 11);
    assert_eq!(size(&HashMap::new()), 0);
    assert_eq!(CALLS.load(SeqCst), 5, "five different maps, five misses");
    assert_eq!(size::stats().hits, 0);
}

#[test]
fn invalidate_with_an_equal_map_in_another_order_removes_the_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn summary(map: &HashMap<String, u32>) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("{} entries", map.len())
    }
    let stored = ascending_map(50);
    let equal = descending_map(50);
    assert_iterates_differently(stored.iter(), equal.iter());

    assert_eq!(summary(&stored), "50 entries");
    assert!(
        summary::invalidate(&equal),
        "an equal map names the same entry"
    );
    assert_eq!(summary::stats().entries, 0);
    assert_eq!(summary(&stored), "50 entries");
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "the entry was gone: the body ran again"
    );
}
