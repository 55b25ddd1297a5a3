#![deny(warnings)]
//! Every `cache_data` value is weighed for the memory budget when it can be:
//! by `size_with`, by its serialized size, or not at all.

use cache_runtime::cache_data;

fn bytes(value: &Vec<u8>) -> usize {
    value.len()
}

/// `size_with` alone weighs for the budget.
#[cache_data(size_with = bytes)]
fn chunk(x: u64) -> Vec<u8> {
    vec![0; x as usize]
}

/// Not `Serialize`: not weighed, still cached.
#[derive(Clone)]
struct Handle(std::sync::Arc<std::sync::Mutex<u32>>);

#[cache_data]
fn handle(x: u32) -> Handle {
    Handle(std::sync::Arc::new(std::sync::Mutex::new(x)))
}

#[cache_data(ttl = "1m")]
fn text(x: u32) -> String {
    x.to_string()
}

fn main() {
    let _ = (chunk(1), handle(2), text(3));
}
