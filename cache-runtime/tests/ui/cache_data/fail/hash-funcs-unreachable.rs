//! An entry's type inside a container `hash_funcs` does not look into.
use std::collections::HashMap;

use cache_runtime::cache_data;

struct Connection {
    url: String,
}

fn conn_key(conn: &Connection) -> String {
    conn.url.clone()
}

#[cache_data(hash_funcs(Connection = conn_key))]
fn count(conns: &HashMap<String, Connection>, backup: Option<Box<Connection>>) -> usize {
    conns.len() + backup.map_or(0, |c| c.url.len())
}

fn main() {}
