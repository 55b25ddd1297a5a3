//! `#[cache(hash_with = path)]` keys a non-`Serialize` argument by what `path` returns.
#![deny(warnings)]
use cache_runtime::cache_data;

struct Connection {
    url: String,
}

fn by_url(conn: &&Connection) -> String {
    conn.url.clone()
}

#[cache_data]
fn count_rows(#[cache(hash_with = by_url)] conn: &Connection, table: &str) -> usize {
    conn.url.len() + table.len()
}

fn main() {
    let conn = Connection {
        url: String::from("db://a"),
    };
    assert_eq!(count_rows(&conn, "users"), 11);
    assert_eq!(count_rows(&conn, "users"), 11);
    assert_eq!(count_rows::stats().hits, 1);
    assert!(count_rows::invalidate(&conn, "users"));
}
