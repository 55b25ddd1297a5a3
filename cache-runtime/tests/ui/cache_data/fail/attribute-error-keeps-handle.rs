//! A mistake in the attribute is the only error: the function and its
//! handle are still declared, so calls and `f::clear()` resolve.
use cache_runtime::{cache_data, cache_resource};

#[cache_data(ttl = "10 parsecs", capacity = 10)]
fn square(x: u64) -> u64 {
    x * x
}

struct Conn;

#[cache_resource(max_entries = 0, persist = "disk")]
fn connect(url: &str) -> Conn {
    let _ = url;
    Conn
}

fn main() {
    let _ = square(2);
    square::clear();
    let _ = square::invalidate(2);
    let _ = square::stats();
    let _ = connect("db://a");
    connect::clear();
}
