//! A first tour of `#[cache_data]` and `#[cache_resource]`: a slow query that
//! becomes instant on the second call (with a spinner on the terminal while
//! it runs), a shared connection, a price served stale while it is
//! refreshed, a byte-bounded cache, and the stats.
//!
//! Run with: `cargo run --example quickstart`

use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use cache_runtime::{cache_data, cache_resource};

/// A stand-in for a database connection: not `Clone`, not `Serialize`.
struct Connection {
    url: String,
}

fn is_alive(connection: &Connection) -> bool {
    !connection.url.is_empty()
}

fn close(connection: &Connection) {
    println!("  (closing connection to {})", connection.url);
}

/// Opened once per URL; every caller shares the same `Arc<Connection>`.
#[cache_resource(validate = is_alive, on_release = close)]
fn connect(url: &str) -> Connection {
    sleep(Duration::from_millis(200)); // the handshake
    Connection {
        url: url.to_owned(),
    }
}

/// A slow query: cached per `(region, year)` for ten minutes, at most 100
/// entries. While it runs, a terminal shows a spinner with the time elapsed
/// (Streamlit's `show_spinner`; the default text is "Running `revenue(...)`.").
#[cache_data(
    ttl = "10m",
    max_entries = 100,
    show_spinner = "Querying revenue…",
    show_time = true
)]
fn revenue(region: &str, year: u16) -> Result<Vec<(u8, f64)>, String> {
    if year < 2000 {
        return Err(format!("no data before 2000 (asked for {year})")); // never cached
    }
    let db = connect("sqlite://sales.db");
    sleep(Duration::from_millis(900)); // the query
    let base = region.len() as f64 * 1000.0 + f64::from(year - 2000) * 10.0;
    let _ = &db.url;
    Ok((1..=12)
        .map(|month| (month, base + f64::from(month) * 7.5))
        .collect())
}

/// A live price: served for 1 s, then (for up to 10 s more) the stale price
/// is returned at once while a fresh one is fetched behind.
#[cache_data(ttl = "1s", refresh_mode = "background", max_stale = "10s")]
fn price(symbol: &str) -> f64 {
    sleep(Duration::from_millis(400)); // the feed
    let elapsed = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    symbol.len() as f64 * 10.0 + elapsed.floor()
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Thumbnails, bounded by bytes rather than by count: at most 64 KiB of them.
#[cache_data(max_size = "64KiB")]
fn thumbnail(id: u32) -> Vec<u8> {
    vec![id as u8; 16 * 1024] // 16 KiB each
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!("{label:<42} {:>8.2?}", start.elapsed());
    value
}

fn main() {
    println!("== #[cache_data]: a copy of the value for every caller");
    let first = timed("revenue(\"europe\", 2024)  miss", || {
        revenue("europe", 2024).unwrap()
    });
    let second = timed("revenue(\"europe\", 2024)  hit", || {
        revenue("europe", 2024).unwrap()
    });
    assert_eq!(first, second);
    timed("revenue(\"asia\", 2024)    miss (new key)", || {
        revenue("asia", 2024).unwrap()
    });
    let error = timed("revenue(\"asia\", 1990)    error, not cached", || {
        revenue("asia", 1990).unwrap_err()
    });
    println!("  -> {error}");

    println!("\n== #[cache_resource]: one shared Arc");
    let a = connect("sqlite://sales.db");
    let b = connect("sqlite://sales.db");
    println!(
        "connect(..) twice gives the same Arc: {}",
        Arc::ptr_eq(&a, &b)
    );

    println!("\n== refresh_mode = \"background\": stale while revalidating");
    START.get_or_init(Instant::now);
    price::warm("ACME"); // computed and stored now, off the request path
    timed("price(\"ACME\")  hit (warmed)", || price("ACME"));
    sleep(Duration::from_millis(1100));
    let stale = timed("price(\"ACME\")  past its ttl: stale, at once", || {
        price("ACME")
    });
    sleep(Duration::from_millis(500)); // the refresh runs behind
    let fresh = timed("price(\"ACME\")  refreshed", || price("ACME"));
    println!("  -> {stale} then {fresh}");

    println!("\n== max_size: a byte budget, least recently used first");
    for id in 0..6 {
        thumbnail(id);
    }
    let s = thumbnail::stats();
    println!(
        "6 thumbnails of 16 KiB (+3 bytes of length) under 64 KiB: {} kept, {} evicted by max_size",
        s.entries, s.evicted.max_size
    );

    println!("\n== every cached function, with its stats");
    for info in cache_runtime::functions() {
        let s = info.stats;
        println!(
            "{:<12} {:?}: {} hits, {} misses, {} errors, {} entries, {:.0?} computing, ~{:.0?} saved",
            info.short_name(),
            info.kind,
            s.hits,
            s.misses,
            s.errors,
            s.entries,
            s.compute_time,
            s.time_saved()
        );
    }

    println!("\n== clearing");
    revenue::invalidate("europe", 2024); // one entry  (Streamlit: revenue.clear("europe", 2024))
    timed("revenue(\"europe\", 2024)  miss after invalidate", || {
        revenue("europe", 2024).unwrap()
    });
    revenue::clear(); // this function (Streamlit: revenue.clear())
    cache_runtime::cache_resource::clear(); // every resource, calling on_release
}
