//! Every argument shape the macro packs into one word or writes directly,
//! and `front = false`, compile without warnings.
#![deny(warnings)]

use std::sync::Arc;

use cache_runtime::{cache_data, cache_resource};

#[cache_data]
fn packed(a: u8, b: i8, c: u16, d: i16, e: bool, f: char) -> String {
    format!("{a}{b}{c}{d}{e}{f}")
}

#[cache_data]
fn wide(a: u64, b: i64) -> u128 {
    u128::from(a) + b.unsigned_abs() as u128
}

#[cache_data]
fn sizes(a: usize, b: isize, c: u32, d: i32) -> i128 {
    a as i128 + b as i128 + i128::from(c) + i128::from(d)
}

#[cache_data]
fn nothing() -> u64 {
    7
}

#[cache_data]
fn direct(name: &str, owned: String, bytes: &[u8], floats: Vec<f64>, singles: &[f32]) -> usize {
    name.len() + owned.len() + bytes.len() + floats.len() + singles.len()
}

#[cache_data(front = false)]
fn big(day: u32) -> Vec<u8> {
    vec![day as u8; 16]
}

#[cache_data(front = true, max_entries = 10)]
fn small(day: u32) -> u32 {
    day
}

#[cache_resource(front = false)]
fn pool() -> Vec<String> {
    Vec::new()
}

#[cache_resource]
fn model(size: u16) -> Vec<f32> {
    vec![0.0; usize::from(size)]
}

fn main() {
    assert_eq!(packed(1, -1, 2, -2, true, 'x'), "1-12-2truex");
    assert_eq!(wide(1, -2), 3);
    assert_eq!(sizes(1, -1, 2, -2), 0);
    assert_eq!(nothing(), 7);
    assert_eq!(direct("a", String::from("bc"), &[1], vec![1.0], &[2.0]), 6);
    assert_eq!(big(1).len(), 16);
    assert_eq!(small(3), 3);
    assert!(Arc::ptr_eq(&pool(), &pool()));
    assert_eq!(model(4).len(), 4);
    big::clear();
    pool::clear();
}
