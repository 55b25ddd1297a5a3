//! A function that does not fit is reported at the `hash_funcs` entry.
use cache_runtime::cache_data;

struct Connection {
    url: String,
}

struct Url(String);

// Takes the value instead of a reference.
fn conn_key(conn: Connection) -> String {
    conn.url
}

#[cache_data(hash_funcs(Connection = conn_key))]
fn count(conn: &Connection) -> usize {
    conn.url.len()
}

// Returns something that is not `Serialize`.
fn url_of(conn: &Connection) -> Url {
    Url(conn.url.clone())
}

#[cache_data(hash_funcs(Connection = url_of))]
fn size(conns: Vec<Connection>) -> usize {
    conns.len()
}

fn main() {}
