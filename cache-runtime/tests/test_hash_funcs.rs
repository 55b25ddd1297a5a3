//! `hash_funcs(Type = path)`: every key parameter of a type (through `&`,
//! `Option`, `Vec`, slices and arrays) is keyed by what `path` returns; a
//! parameter's own `hash_with` wins.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, cache_resource};

mod db {
    /// Not `Serialize`; its identity is its URL, not its live state.
    pub(crate) struct Connection {
        pub(crate) url: String,
        pub(crate) name: String,
        pub(crate) queries_run: u64,
    }
}

use db::Connection;

fn conn(url: &str) -> Connection {
    named(url, "main")
}

fn named(url: &str, name: &str) -> Connection {
    Connection {
        url: url.to_owned(),
        name: name.to_owned(),
        queries_run: 0,
    }
}

fn by_url(conn: &Connection) -> &str {
    &conn.url
}

fn by_name(conn: &&Connection) -> String {
    conn.name.clone()
}

#[test]
fn connections_with_the_same_url_share_an_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(hash_funcs(Connection = by_url))]
    fn count_rows(conn: &Connection, table: &str) -> usize {
        CALLS.fetch_add(1, SeqCst);
        conn.url.len() + table.len()
    }
    let fresh = conn("db://a");
    let mut busy = named("db://a", "replica");
    busy.queries_run = 1_000;
    assert_eq!(count_rows(&fresh, "users"), 11);
    assert_eq!(
        count_rows(&busy, "users"),
        11,
        "different state, same URL: a hit"
    );
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(count_rows::stats().hits, 1);

    // Another URL, or another table, is another key.
    count_rows(&conn("db://b"), "users");
    count_rows(&fresh, "orders");
    assert_eq!(CALLS.load(SeqCst), 3);
}

#[test]
fn hash_with_on_a_parameter_wins_over_hash_funcs() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    // `primary` is keyed by its name (`hash_with`), `backup` by its URL.
    #[cache_data(hash_funcs(Connection = by_url))]
    fn route(#[cache(hash_with = by_name)] primary: &Connection, backup: &Connection) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("{} -> {}", primary.name, backup.url)
    }
    let backup = conn("db://backup");
    route(&named("db://a", "eu"), &backup);
    // Same URL, another name: under `hash_funcs` this would be a hit, but
    // `hash_with` keys `primary` by its name, so it is a different key.
    route(&named("db://a", "us"), &backup);
    assert_eq!(CALLS.load(SeqCst), 2, "hash_with keyed primary by its name");
    // Another URL, same name: the same key for `primary`.
    route(&named("db://z", "eu"), &named("db://backup", "other"));
    assert_eq!(CALLS.load(SeqCst), 2, "and `backup` by its URL: a hit");
    assert_eq!(route::stats().hits, 1);
}

#[test]
fn vec_slice_and_option_parameters_key_each_item() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(hash_funcs(Connection = by_url))]
    fn plan(pool: Vec<Connection>, standby: Option<Connection>, extra: &[db::Connection]) -> usize {
        CALLS.fetch_add(1, SeqCst);
        pool.len() + usize::from(standby.is_some()) + extra.len()
    }
    let pool = || vec![conn("a"), conn("b")];
    assert_eq!(plan(pool(), None, &[]), 2);
    let mut busy = conn("a");
    busy.queries_run = 9;
    assert_eq!(plan(vec![busy, named("b", "other")], None, &[]), 2);
    assert_eq!(CALLS.load(SeqCst), 1, "equal URLs item by item: a hit");

    // Order, length, presence and where the items are all count.
    plan(vec![conn("b"), conn("a")], None, &[]);
    plan(vec![conn("a")], None, &[]);
    plan(vec![conn("ab")], None, &[]);
    plan(pool(), Some(conn("a")), &[]);
    plan(pool(), None, &[conn("a")]);
    plan(vec![conn("a")], None, &[conn("b")]);
    assert_eq!(CALLS.load(SeqCst), 7);
    plan(pool(), Some(named("a", "other")), &[]);
    assert_eq!(CALLS.load(SeqCst), 7, "Some of an equal URL: a hit");
}

#[test]
fn nested_containers_and_references() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(hash_funcs(Connection = by_url))]
    fn spread(groups: &[Vec<&Connection>], fallback: Option<&[Connection; 2]>) -> usize {
        CALLS.fetch_add(1, SeqCst);
        groups.iter().map(Vec::len).sum::<usize>() + fallback.map_or(0, |f| f.len())
    }
    let (a, b) = (conn("a"), conn("b"));
    let pair = [conn("x"), conn("y")];
    assert_eq!(spread(&[vec![&a], vec![&a, &b]], Some(&pair)), 5);
    let other_a = named("a", "copy");
    let other_pair = [named("x", "1"), named("y", "2")];
    assert_eq!(
        spread(&[vec![&other_a], vec![&a, &b]], Some(&other_pair)),
        5
    );
    assert_eq!(CALLS.load(SeqCst), 1);
    // The same items grouped differently are another key.
    spread(&[vec![&a, &a], vec![&b]], Some(&pair));
    spread(&[vec![&a], vec![&a, &b]], None);
    assert_eq!(CALLS.load(SeqCst), 3);
}

#[test]
fn invalidate_takes_any_value_with_the_same_key() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(hash_funcs(Connection = by_url))]
    fn tables(conn: &Connection, replicas: Vec<Connection>) -> Vec<String> {
        CALLS.fetch_add(1, SeqCst);
        vec![conn.url.clone(); replicas.len() + 1]
    }
    tables(&conn("db://a"), vec![conn("r1")]);
    assert!(!tables::invalidate(&conn("db://a"), vec![conn("r2")]));
    assert!(tables::invalidate(
        &named("db://a", "other"),
        vec![named("r1", "other")]
    ));
    assert_eq!(tables::stats().entries, 0);
    tables(&conn("db://a"), vec![conn("r1")]);
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "the entry was gone: the body ran again"
    );
}

#[test]
fn the_written_path_decides() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    struct Frame<T> {
        values: Vec<T>,
    }
    fn digest64(frame: &Frame<f64>) -> Vec<u64> {
        frame.values.iter().map(|v| v.to_bits()).collect()
    }
    fn digest32(frame: &Frame<f32>) -> Vec<u32> {
        frame.values.iter().map(|v| v.to_bits()).collect()
    }
    // An entry may leave out leading segments: `Connection` applies to a
    // parameter written `db::Connection`. Generic arguments must be equal.
    #[cache_data(hash_funcs(Connection = by_url, Frame<f64> = digest64, Frame<f32> = digest32))]
    fn sum(conn: &db::Connection, wide: Frame<f64>, narrow: &Frame<f32>) -> f64 {
        CALLS.fetch_add(1, SeqCst);
        let _ = &conn.url;
        wide.values.iter().sum::<f64>() + narrow.values.iter().map(|&v| f64::from(v)).sum::<f64>()
    }
    let wide = || Frame {
        values: vec![1.0, 2.0],
    };
    let narrow = Frame { values: vec![0.5] };
    assert_eq!(sum(&conn("a"), wide(), &narrow), 3.5);
    assert_eq!(sum(&named("a", "x"), wide(), &narrow), 3.5);
    assert_eq!(CALLS.load(SeqCst), 1);
    sum(&conn("a"), Frame { values: vec![2.0] }, &narrow);
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[test]
fn cache_resource_methods_and_async_functions() {
    static OPENS: AtomicUsize = AtomicUsize::new(0);
    #[cache_resource(hash_funcs(Connection = by_url))]
    fn session(conn: &Connection) -> String {
        OPENS.fetch_add(1, SeqCst);
        format!("session on {}", conn.url)
    }
    let first = session(&conn("db://a"));
    assert!(Arc::ptr_eq(&first, &session(&named("db://a", "other"))));
    assert_eq!(OPENS.load(SeqCst), 1);

    struct Router {
        region: String,
    }
    impl Router {
        #[cache_data(hash_funcs(Connection = by_url))]
        fn pick(#[cache(skip)] &self, candidates: &[Connection]) -> String {
            format!("{}:{}", self.region, candidates[0].url)
        }
    }
    let router = Router {
        region: "eu".into(),
    };
    assert_eq!(router.pick(&[conn("a")]), "eu:a");
    assert_eq!(router.pick(&[named("a", "b")]), "eu:a");
    assert_eq!(Router::pick_cache_stats().hits, 1);
    assert!(Router::pick_cache_invalidate(&[conn("a")]));

    static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(hash_funcs(Connection = by_url))]
    async fn fetch(pool: Vec<Connection>, limit: u32) -> usize {
        ASYNC_CALLS.fetch_add(1, SeqCst);
        pool.len() + limit as usize
    }
    assert_eq!(common::block_on(fetch(vec![conn("a")], 1)), 2);
    assert_eq!(common::block_on(fetch(vec![named("a", "z")], 1)), 2);
    assert_eq!(ASYNC_CALLS.load(SeqCst), 1);
}
