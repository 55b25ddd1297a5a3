//! One-line bodies expand without nested braces: no `unused_braces` (or any
//! other) warning in the user's crate.
#![deny(warnings)]
use cache_runtime::{cache_data, cache_resource};
use std::sync::Arc;

#[cache_data]
fn double(x: u64) -> u64 { x * 2 }

#[cache_data]
fn constant(_x: u64) -> u64 { 7 }

#[cache_data(ttl = "1m")]
async fn triple(x: u64) -> u64 { x * 3 }

#[cache_data]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> { text.parse() }

#[cache_data]
fn parse_doubled(text: &str) -> Result<u32, std::num::ParseIntError> { Ok(text.parse::<u32>()? * 2) }

#[cache_data]
async fn parse_async(text: String) -> Result<u32, std::num::ParseIntError> { text.parse() }

#[cache_data]
fn add((a, b): (u32, u32)) -> u32 { a + b }

#[cache_data]
fn sum([a, b, c]: [u32; 3], Pair { left, right }: Pair) -> u32 { a + b + c + left + right }

#[cache_data]
async fn add_async((a, b): (u32, u32)) -> u32 { a + b }

#[derive(Clone, serde::Serialize)]
struct Pair {
    left: u32,
    right: u32,
}

#[derive(serde::Serialize)]
struct Rect {
    w: u32,
    h: u32,
}

impl Rect {
    #[cache_data]
    fn area(&self) -> u32 { self.w * self.h }
}

struct Client {
    base: u32,
}

impl Client {
    const STEP: u32 = 10;

    #[cache_data]
    fn offset(#[cache(skip)] &self, n: u32) -> u32 { self.base + n }

    #[cache_data]
    async fn offset_async(#[cache(skip)] &self, n: u32) -> u32 { self.base + n }

    /// Associated function: the body mentions `Self`, so the macro knows it is in an `impl`.
    #[cache_data]
    fn step(n: u32) -> u32 { Self::STEP * n }
}

#[cache_resource]
fn settings() -> Vec<String> { vec![String::from("a")] }

#[cache_resource]
fn connect(url: &str) -> String { url.to_owned() }

#[cache_resource]
fn try_connect(url: &str) -> Result<String, String> { Ok(url.to_owned()) }

#[cache_resource]
fn pair_resource((a, b): (u32, u32)) -> u32 { a * b }

#[cache_resource]
async fn pool() -> Vec<u8> { vec![1, 2, 3] }

fn main() {
    assert_eq!(double(2), 4);
    assert_eq!(double(2), 4);
    assert_eq!(double::stats().hits, 1);
    assert_eq!(constant(1), 7);
    assert_eq!(parse("21"), Ok(21));
    assert!(parse("x").is_err());
    assert_eq!(parse_doubled("21"), Ok(42));
    assert_eq!(add((1, 2)), 3);
    assert!(add::invalidate((1, 2)));
    assert_eq!(sum([1, 2, 3], Pair { left: 4, right: 5 }), 15);

    let r = Rect { w: 2, h: 3 };
    assert_eq!(r.area(), 6);
    assert!(r.area_cache_invalidate());
    let c = Client { base: 1 };
    assert_eq!(c.offset(2), 3);
    assert!(Client::offset_cache_invalidate(2));
    assert_eq!(Client::step(2), 20);
    Client::step_cache_clear();

    assert!(Arc::ptr_eq(&settings(), &settings()));
    assert_eq!(*connect("db://a"), "db://a");
    assert!(Arc::ptr_eq(&connect("db://a"), &connect("db://a")));
    assert_eq!(*try_connect("db://b").unwrap(), "db://b");
    assert_eq!(*pair_resource((2, 3)), 6);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(triple(2).await, 6);
        assert_eq!(parse_async(String::from("5")).await, Ok(5));
        assert_eq!(add_async((3, 4)).await, 7);
        assert_eq!(c.offset_async(5).await, 6);
        assert!(Arc::ptr_eq(&pool().await, &pool().await));
    });
}
