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

#[cache_data(show_spinner = "Loading rows…", show_time = true)]
pub fn with_spinner_text(x: u64) -> u64 {
    x
}

#[cache_data(show_spinner = false)]
pub fn without_spinner(x: u64) -> u64 {
    x
}

#[cache_data(show_spinner = true, show_time = false)]
pub fn default_spinner(x: u64) -> u64 {
    x
}
