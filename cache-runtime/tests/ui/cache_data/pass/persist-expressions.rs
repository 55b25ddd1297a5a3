//! `persist` as "auto", a function call, a path, and `None` (memory only).
#![deny(warnings)]
use cache_runtime::{Persist, cache_data, persist};

fn my_tier() -> Persist {
    Persist::Disk
}

fn optional_tier() -> Option<Persist> {
    Some(Persist::Disk)
}

#[cache_data(persist = "auto")]
fn a(x: u8) -> u8 {
    x
}

#[cache_data(persist = my_tier())]
fn b(x: u8) -> u8 {
    x
}

#[cache_data(persist = Persist::Disk, ttl = "1h")]
fn c(x: u8) -> u8 {
    x
}

#[cache_data(persist = None::<Persist>)]
fn d(x: u8) -> u8 {
    x
}

#[cache_data(persist = optional_tier())]
async fn e(x: u8) -> Result<u8, String> {
    Ok(x)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("cache-runtime-ui-persist-{}", std::process::id()));
    persist::configure(persist::Settings::default().dir(&dir)).unwrap();
    assert_eq!(a(1) + b(1) + c(1) + d(1), 4);
    let _ = e(1);
    d::clear();
    cache_runtime::cache_data::clear();
    let _ = std::fs::remove_dir_all(&dir);
}
