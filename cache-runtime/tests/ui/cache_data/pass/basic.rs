#![deny(warnings)]
use cache_runtime::cache_data;

#[cache_data(ttl = "10m", max_entries = 100)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    assert_eq!(square(4), 16);
    assert_eq!(square(4), 16);
    assert_eq!(square::stats().hits, 1);
    assert!(square::invalidate(4));
    square::clear();
}
