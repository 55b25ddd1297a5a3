//! `ttl` as a `Duration` expression, a float, an integer and a string with units.
#![deny(warnings)]
use cache_runtime::cache_data;
use std::time::Duration;

#[cache_data(ttl = Duration::from_secs(5))]
fn a(x: u8) -> u8 {
    x
}

#[cache_data(ttl = 1.5)]
fn b(x: u8) -> u8 {
    x
}

#[cache_data(ttl = 90, max_entries = 10)]
fn c(x: u8) -> u8 {
    x
}

#[cache_data(ttl = "1h 30m")]
fn d(x: u8) -> u8 {
    x
}

const LIMIT: u64 = 10;

#[cache_data(ttl = Duration::from_millis(250), max_entries = LIMIT)]
fn e(x: u8) -> u8 {
    x
}

fn main() {
    assert_eq!(a(1) + b(1) + c(1) + d(1) + e(1), 5);
}
