#![deny(warnings)]
//! Generic functions: a cache per instantiation.

use cache_runtime::{cache_data, cache_resource};
use serde::Serialize;

#[cache_data(ttl = "1m", max_entries = 10)]
pub fn top<T>(mut xs: Vec<T>, n: usize) -> Vec<T>
where
    T: Serialize + Clone + Ord + Send + Sync,
{
    xs.sort();
    xs.into_iter().rev().take(n).collect()
}

#[cache_data]
fn pair<'a, A: Serialize + Clone + Send + Sync, B: Serialize>(a: &'a A, _b: &B) -> A {
    a.clone()
}

#[cache_resource]
fn default_of<T: Default + Send + Sync>() -> T {
    T::default()
}

#[cache_data]
async fn echo<T: Serialize + Clone + Send + Sync>(x: T) -> Result<T, String> {
    Ok(x)
}

fn main() {
    let _ = top(vec![1u8, 2], 1);
    let _ = pair(&1u32, &"x");
    let _ = default_of::<String>();
    let _ = echo(1u8);
    top::clear();
    let _ = top::invalidate(vec![1u8], 1) || default_of::invalidate::<String>();
    let _ = (top::stats(), pair::stats(), default_of::stats(), echo::stats());
    top::warm(vec![1i64], 1);
    let _ = echo::warm(2u8);
}
