//! Parameters written as patterns are keyed by their whole value.
#![deny(warnings)]
use cache_runtime::cache_data;

#[cache_data]
fn add((a, b): (u32, u32), [c, d]: [u32; 2]) -> u32 {
    a + b + c + d
}

fn main() {
    assert_eq!(add((1, 2), [3, 4]), 10);
    assert_eq!(add((1, 2), [3, 4]), 10);
    assert_eq!(add::stats().hits, 1);
}
