//! `hash_funcs(Type = path)` keys every parameter of a type by what `path`
//! returns: plain, `&`, `Option`, `Vec`, slices, arrays and nestings of
//! them, on both macros; a parameter's own `hash_with` wins.
#![deny(warnings)]
use cache_runtime::{cache_data, cache_resource};
use std::sync::Arc;

mod db {
    /// Not `Serialize`: keyed by its URL.
    pub(crate) struct Connection {
        pub(crate) url: String,
        pub(crate) queries: u32,
    }
}

use db::Connection;

/// Not `Serialize`: keyed by a digest of its values.
struct Frame {
    values: Vec<f64>,
}

fn conn_key(conn: &Connection) -> &str {
    &conn.url
}

fn frame_digest(frame: &Frame) -> Vec<u64> {
    frame.values.iter().map(|v| v.to_bits()).collect()
}

fn conn(url: &str) -> Connection {
    Connection {
        url: url.to_owned(),
        queries: 0,
    }
}

#[cache_data(hash_funcs(Connection = conn_key, Frame = frame_digest))]
fn total(conn: &Connection, frame: Frame, scale: u32) -> f64 {
    let _ = conn.queries;
    frame.values.iter().sum::<f64>() * f64::from(scale)
}

#[cache_data(hash_funcs(Connection = conn_key))]
fn describe(
    owned: Connection,
    maybe: Option<Connection>,
    maybe_ref: &Option<Connection>,
    list: Vec<Connection>,
    slice: &[Connection],
    array: [&Connection; 2],
    nested: Option<&[db::Connection]>,
) -> usize {
    owned.url.len()
        + maybe.map_or(0, |c| c.url.len())
        + maybe_ref.as_ref().map_or(0, |c| c.url.len())
        + list.len()
        + slice.len()
        + array.len()
        + nested.map_or(0, <[Connection]>::len)
}

fn url_len(conn: &&Connection) -> usize {
    conn.url.len()
}

#[cache_data(hash_funcs(db::Connection = conn_key))]
fn pair(#[cache(hash_with = url_len)] first: &Connection, second: &db::Connection) -> String {
    format!("{}+{}", first.url, second.url)
}

#[cache_resource(hash_funcs(Connection = conn_key))]
fn session(conn: &Connection, user: &str) -> String {
    format!("{}@{}", user, conn.url)
}

struct Pool {
    size: u32,
}

impl Pool {
    #[cache_data(hash_funcs(Connection = conn_key))]
    fn weight(#[cache(skip)] &self, _note: &str, conns: &[Connection]) -> u32 {
        self.size * conns.len() as u32
    }
}

fn main() {
    let a = conn("db://a");
    let mut a_again = conn("db://a");
    a_again.queries = 7;

    let frame = || Frame {
        values: vec![1.0, 2.0],
    };
    assert_eq!(total(&a, frame(), 2), 6.0);
    assert_eq!(total(&a_again, frame(), 2), 6.0);
    assert_eq!(total::stats().hits, 1);
    assert!(total::invalidate(&conn("db://a"), frame(), 2));

    let call = || {
        describe(
            conn("o"),
            Some(conn("m")),
            &None,
            vec![conn("l1"), conn("l2")],
            &[conn("s")],
            [&conn("x"), &conn("y")],
            Some(&[conn("n")]),
        )
    };
    // owned 1, maybe 1, maybe_ref 0, list 2, slice 1, array 2, nested 1.
    assert_eq!(call(), 8);
    assert_eq!(call(), 8);
    assert_eq!(describe::stats().hits, 1);

    assert_eq!(pair(&a, &a_again), "db://a+db://a");
    assert_eq!(pair::stats().misses, 1);

    let s: Arc<String> = session(&a, "ann");
    assert!(Arc::ptr_eq(&s, &session(&a_again, "ann")));

    let pool = Pool { size: 3 };
    assert_eq!(pool.weight("first", &[conn("p")]), 3);
    assert_eq!(pool.weight("second", &[conn("p")]), 3);
    assert_eq!(Pool::weight_cache_stats().hits, 1);
}
