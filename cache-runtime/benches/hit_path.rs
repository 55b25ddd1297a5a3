//! The cost of a cache hit: `#[cache_data]` / `#[cache_resource]` against raw
//! `moka::sync::Cache::get`, the `cached` crate, a hand-written
//! `Mutex<HashMap>` memo and `std::sync::LazyLock`.
//!
//! Every cache is prefilled before measuring, and each iteration hits one of
//! `KEYS` prefilled keys in turn, so only the cache machinery is measured (the
//! value is a `u64`, whose clone is free).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p cache-runtime --bench hit_path -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```
#![allow(missing_docs)]

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::sync::{Arc, LazyLock, Mutex};

use cache_runtime::{cache_data, cache_resource};
use criterion::{Criterion, criterion_group, criterion_main};
use moka::policy::EvictionPolicy;

/// Distinct prefilled keys each case cycles through.
const KEYS: u64 = 64;
/// The bound every bounded cache is given.
const CAPACITY: u64 = 1000;

/// The work a "miss" would do: cheap, the value is all that matters.
fn compute(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn compute_str(table: &str, limit: u32) -> u64 {
    compute(table.len() as u64 ^ u64::from(limit))
}

/// The `&str` arguments of the `(&str, u32)` cases, one per key.
static TABLES: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..KEYS).map(|i| format!("table-{i}")).collect());

fn str_key(i: u64) -> (&'static str, u32) {
    (TABLES[i as usize].as_str(), i as u32)
}

/// Cycles through the `KEYS` prefilled keys.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> u64 {
        self.0 = (self.0 + 1) % KEYS;
        self.0
    }
}

// --- ours --------------------------------------------------------------------

#[cache_data(max_entries = 1000)]
fn ours_u64(id: u64) -> u64 {
    compute(id)
}

#[cache_data(max_entries = 1000)]
fn ours_str_u32(table: &str, limit: u32) -> u64 {
    compute_str(table, limit)
}

// --- cached ------------------------------------------------------------------

#[cached::proc_macro::cached(max_size = 1000)]
fn cached_u64(id: u64) -> u64 {
    compute(id)
}

// `cached` turns the `&str` into an owned `String` key on every call.
#[cached::proc_macro::cached(max_size = 1000)]
fn cached_str_u32(table: &str, limit: u32) -> u64 {
    compute_str(table, limit)
}

// --- raw moka ----------------------------------------------------------------

/// Raw moka, configured as ours is (bounded, LRU) but with moka's default
/// hasher (SipHash-1-3) and the argument itself as the key.
fn raw_moka<K>() -> moka::sync::Cache<K, u64>
where
    K: Hash + Eq + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .eviction_policy(EvictionPolicy::lru())
        .build()
}

/// A borrowed `(&str, u32)` that looks up a `(String, u32)` moka key without
/// allocating: it hashes exactly as the owned tuple does.
#[derive(Clone, Copy)]
struct StrU32<'a>(&'a str, u32);

impl Hash for StrU32<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.0, self.1).hash(state);
    }
}

impl moka::Equivalent<(String, u32)> for StrU32<'_> {
    fn equivalent(&self, key: &(String, u32)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

// --- benches -----------------------------------------------------------------

fn hit_u64(c: &mut Criterion) {
    let moka = raw_moka::<u64>();
    let memo: Mutex<HashMap<u64, u64>> = Mutex::new(HashMap::new());
    for id in 0..KEYS {
        ours_u64(id);
        cached_u64(id);
        moka.insert(id, compute(id));
        memo.lock().unwrap().insert(id, compute(id));
    }
    moka.run_pending_tasks();
    // Applies moka's pending writes to our cache too.
    assert_eq!(ours_u64::stats().entries, KEYS);

    let mut group = c.benchmark_group("hit_u64");
    let mut keys = Keys(0);
    group.bench_function("cache_data", |b| {
        b.iter(|| ours_u64(black_box(keys.next())))
    });
    group.bench_function("moka_get", |b| b.iter(|| moka.get(&black_box(keys.next()))));
    group.bench_function("cached_max_size", |b| {
        b.iter(|| cached_u64(black_box(keys.next())))
    });
    group.bench_function("mutex_hashmap", |b| {
        b.iter(|| {
            let id = black_box(keys.next());
            memo.lock().unwrap().get(&id).copied()
        })
    });
    group.finish();
    assert!(
        ours_u64::stats().misses == KEYS,
        "every measured call was a hit"
    );
}

fn hit_str_u32(c: &mut Criterion) {
    let moka = raw_moka::<(String, u32)>();
    let memo: Mutex<HashMap<(String, u32), u64>> = Mutex::new(HashMap::new());
    for i in 0..KEYS {
        let (table, limit) = str_key(i);
        ours_str_u32(table, limit);
        cached_str_u32(table, limit);
        moka.insert((table.to_owned(), limit), compute_str(table, limit));
        memo.lock()
            .unwrap()
            .insert((table.to_owned(), limit), compute_str(table, limit));
    }
    moka.run_pending_tasks();
    assert_eq!(ours_str_u32::stats().entries, KEYS);

    let mut group = c.benchmark_group("hit_str_u32");
    let mut keys = Keys(0);
    group.bench_function("cache_data", |b| {
        b.iter(|| {
            let (table, limit) = black_box(str_key(keys.next()));
            ours_str_u32(table, limit)
        })
    });
    // The idiomatic lookup: build the owned key (one `String` allocation).
    group.bench_function("moka_get_owned_key", |b| {
        b.iter(|| {
            let (table, limit) = black_box(str_key(keys.next()));
            moka.get(&(table.to_owned(), limit))
        })
    });
    // The best raw moka can do: a borrowed key through `Equivalent`.
    group.bench_function("moka_get_borrowed_key", |b| {
        b.iter(|| {
            let (table, limit) = black_box(str_key(keys.next()));
            moka.get(&StrU32(table, limit))
        })
    });
    group.bench_function("cached_max_size", |b| {
        b.iter(|| {
            let (table, limit) = black_box(str_key(keys.next()));
            cached_str_u32(table, limit)
        })
    });
    // `HashMap<(String, u32), _>` cannot be queried by `(&str, u32)`: owned key.
    group.bench_function("mutex_hashmap", |b| {
        b.iter(|| {
            let (table, limit) = black_box(str_key(keys.next()));
            memo.lock()
                .unwrap()
                .get(&(table.to_owned(), limit))
                .copied()
        })
    });
    group.finish();
    assert!(
        ours_str_u32::stats().misses == KEYS,
        "every measured call was a hit"
    );
}

/// A resource worth sharing.
#[derive(Debug)]
struct Settings {
    threads: u64,
}

fn make_settings() -> Settings {
    Settings { threads: 8 }
}

#[cache_resource]
fn settings() -> Settings {
    make_settings()
}

static LAZY: LazyLock<Settings> = LazyLock::new(make_settings);
static LAZY_ARC: LazyLock<Arc<Settings>> = LazyLock::new(|| Arc::new(make_settings()));

fn singleton(c: &mut Criterion) {
    settings();
    LazyLock::force(&LAZY);
    LazyLock::force(&LAZY_ARC);

    let mut group = c.benchmark_group("singleton");
    group.bench_function("cache_resource", |b| b.iter(settings));
    group.bench_function("lazylock_deref", |b| b.iter(|| black_box(&*LAZY).threads));
    group.bench_function("lazylock_arc_clone", |b| {
        b.iter(|| Arc::clone(black_box(&*LAZY_ARC)))
    });
    group.finish();
    assert_eq!(settings::stats().misses, 1);
}

criterion_group!(benches, hit_u64, hit_str_u32, singleton);
criterion_main!(benches);
