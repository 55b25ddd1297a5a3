//! `crate = path` for a crate that re-exports cache-runtime under another name.
#![deny(warnings)]

mod facade {
    pub use cache_runtime as caching;
}

use facade::caching::cache_data;

#[cache_data(crate = facade::caching, ttl = 60)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    assert_eq!(square(4), 16);
    square::clear();
    assert_eq!(square::stats().hits, 0);
}
