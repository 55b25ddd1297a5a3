//! The everyday path: misses, hits, copies, the companion handle.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, cache_resource};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
struct Filter {
    region: String,
    min: f64,
}

static LOADS: AtomicUsize = AtomicUsize::new(0);

#[cache_data]
fn load(table: &str, limit: u32) -> Vec<String> {
    LOADS.fetch_add(1, SeqCst);
    (0..limit).map(|i| format!("{table}-{i}")).collect()
}

#[test]
fn second_call_with_equal_arguments_is_a_hit() {
    let first = load("users", 3);
    let second = load("users", 3);
    assert_eq!(first, second);
    assert_eq!(LOADS.load(SeqCst), 1);
    load("users", 4);
    load(&String::from("users"), 3);
    assert_eq!(
        LOADS.load(SeqCst),
        2,
        "String and &str of the same text share a key"
    );
    let stats = load::stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (2, 2, 2));
}

#[test]
fn each_caller_gets_its_own_copy() {
    #[cache_data]
    fn numbers(n: usize) -> Vec<usize> {
        (0..n).collect()
    }
    let mut mine = numbers(3);
    mine.push(99);
    assert_eq!(numbers(3), vec![0, 1, 2]);
}

#[test]
fn struct_and_float_arguments() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn filtered(filter: &Filter, scale: f64) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("{}:{}", filter.region, filter.min * scale)
    }
    let f = Filter {
        region: "asia".into(),
        min: 1.5,
    };
    assert_eq!(filtered(&f, 2.0), "asia:3");
    assert_eq!(filtered(&f.clone(), 2.0), "asia:3");
    assert_eq!(CALLS.load(SeqCst), 1);
    filtered(
        &Filter {
            region: "asia".into(),
            min: 1.6,
        },
        2.0,
    );
    assert_eq!(CALLS.load(SeqCst), 2);
}

struct Connection {
    url: String,
}

#[cache_resource]
fn connect(url: &str) -> Connection {
    Connection {
        url: url.to_owned(),
    }
}

#[test]
fn resources_are_shared() {
    let a = connect("db://a");
    let b = connect("db://a");
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.url, "db://a");
    assert!(!std::sync::Arc::ptr_eq(&a, &connect("db://b")));
}
