//! `hash_funcs` is a list; a mistake in it is the only error (no
//! "`Connection` is not `Serialize`"), and the handle is still declared.
use cache_runtime::{cache_data, cache_resource};

struct Connection {
    url: String,
}

fn conn_key(conn: &Connection) -> String {
    conn.url.clone()
}

#[cache_data(hash_funcs = conn_key)]
fn count(conn: &Connection) -> usize {
    conn.url.len()
}

#[cache_resource(hash_funcs(Connection: conn_key))]
fn open(conn: &Connection) -> String {
    conn.url.clone()
}

fn main() {
    let conn = Connection { url: String::new() };
    let _ = count(&conn);
    count::clear();
    let _ = open(&conn);
    open::clear();
}
