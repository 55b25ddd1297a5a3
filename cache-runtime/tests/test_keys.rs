//! What makes up a key: values of any `Serialize` type; `_` and skipped
//! parameters left out; `hash_with` for custom keys.

use std::collections::BTreeMap;
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
