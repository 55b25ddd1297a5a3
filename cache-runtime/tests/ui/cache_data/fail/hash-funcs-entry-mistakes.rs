//! Mistakes in single entries, each reported at its token, all at once; the
//! parameters of those types are not also reported as not `Serialize`.
use cache_runtime::cache_data;

struct Connection {
    url: String,
}

struct Frame;

fn conn_key(conn: &Connection) -> String {
    conn.url.clone()
}

#[cache_data(hash_funcs(Connection = conn_key, Connection = conn_key, Frame = |_: &Frame| 1))]
fn count(conn: &Connection, frame: &Frame) -> usize {
    let _ = frame;
    conn.url.len()
}

#[cache_data(hash_funcs(&Connection = conn_key, (u8, Frame) = conn_key))]
fn pair(conn: &Connection, frames: (u8, Frame)) -> usize {
    let _ = frames;
    conn.url.len()
}

#[cache_data(hash_funcs())]
fn plain(x: u32) -> u32 {
    x
}

fn main() {
    let conn = Connection { url: String::new() };
    let _ = count(&conn, &Frame) + pair(&conn, (1, Frame)) + plain(1) as usize;
    count::clear();
}
