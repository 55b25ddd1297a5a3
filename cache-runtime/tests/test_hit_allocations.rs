//! A cache hit allocates nothing on the heap beyond what cloning the value
//! needs.
//!
//! The counting allocator is global, so every check lives in one `#[test]`: no
//! other test thread of this binary can allocate while a region is measured.
//! (`unsafe_code` is forbidden workspace-wide, so the allocator comes from
//! `stats_alloc` rather than a hand-written `GlobalAlloc`.)

use std::alloc::System;
use std::hint::black_box;

use cache_runtime::{cache_data, cache_resource};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, Stats, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Hits measured between two of moka's housekeeping runs: fewer than moka's
/// read-log flush point (64 reads), so no hit triggers one.
const WINDOW: u64 = 32;
/// Windows measured per case.
const ROUNDS: u64 = 300;
/// Consecutive hits measured for the steady state, housekeeping included.
const HITS: u64 = 10_000;
/// Distinct keys each case cycles through.
const KEYS: u64 = 16;
/// moka runs its housekeeping from a read once 64 reads are logged.
const MOKA_READ_LOG_FLUSH_POINT: u64 = 64;

#[cache_data]
fn by_id(id: u64) -> u64 {
    id * 3
}

#[cache_data(max_entries = 1000)]
fn by_table(table: &str, limit: u32) -> u64 {
    table.len() as u64 + u64::from(limit)
}

#[cache_data]
fn bytes(id: u64) -> Vec<u8> {
    vec![id as u8; 32]
}

#[cache_resource]
fn shared() -> String {
    String::from("shared")
}

const TABLES: [&str; KEYS as usize] = [
    "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13", "t14",
    "t15",
];

fn hit_by_id(i: u64) {
    assert_eq!(by_id(black_box(i % KEYS)), (i % KEYS) * 3);
}

fn hit_by_table(i: u64) {
    let (table, limit) = black_box((TABLES[(i % KEYS) as usize], (i % KEYS) as u32));
    assert_eq!(
        by_table(table, limit),
        table.len() as u64 + u64::from(limit)
    );
}

fn hit_bytes(i: u64) {
    assert_eq!(bytes(black_box(i % KEYS)).len(), 32);
}

fn warm_up(hit: fn(u64)) {
    for i in 0..KEYS * 4 {
        hit(i);
    }
}

/// `ROUNDS` windows of `WINDOW` hits, each right after `housekeep` ran moka's
/// pending tasks (outside the measured region).
fn between_housekeeping(hit: fn(u64), housekeep: fn()) -> (u64, Stats) {
    warm_up(hit);
    let mut total = Stats::default();
    for round in 0..ROUNDS {
        housekeep();
        let region = Region::new(GLOBAL);
        for i in 0..WINDOW {
            hit(round * WINDOW + i);
        }
        total = add(total, region.change());
    }
    (ROUNDS * WINDOW, total)
}

fn add(a: Stats, b: Stats) -> Stats {
    Stats {
        allocations: a.allocations + b.allocations,
        deallocations: a.deallocations + b.deallocations,
        reallocations: a.reallocations + b.reallocations,
        bytes_allocated: a.bytes_allocated + b.bytes_allocated,
        bytes_deallocated: a.bytes_deallocated + b.bytes_deallocated,
        bytes_reallocated: a.bytes_reallocated + b.bytes_reallocated,
    }
}

/// `HITS` consecutive hits, moka's read-triggered housekeeping included.
fn consecutive(hit: fn(u64)) -> Stats {
    warm_up(hit);
    let region = Region::new(GLOBAL);
    for i in 0..HITS {
        hit(i);
    }
    region.change()
}

#[test]
fn hits_allocate_only_the_clone() {
    // What the runtime itself does on a hit: serialize into the thread-local
    // buffer, hash, look up by reference, clone. No allocation but the clone.
    let (hits, u64_hits) = between_housekeeping(hit_by_id, || {
        by_id::stats();
    });
    assert_eq!(
        (u64_hits.allocations, u64_hits.reallocations),
        (0, 0),
        "{hits} hits, u64 argument, u64 value: {u64_hits:?}"
    );
    let (hits, str_hits) = between_housekeeping(hit_by_table, || {
        by_table::stats();
    });
    assert_eq!(
        (str_hits.allocations, str_hits.reallocations),
        (0, 0),
        "{hits} hits, (&str, u32) arguments, u64 value: {str_hits:?}"
    );
    let (hits, vec_hits) = between_housekeeping(hit_bytes, || {
        bytes::stats();
    });
    assert_eq!(
        (vec_hits.allocations, vec_hits.reallocations),
        (hits as usize, 0),
        "{hits} hits, u64 argument, Vec<u8> value (one clone per hit): {vec_hits:?}"
    );
    assert_eq!(vec_hits.bytes_allocated, hits as usize * 32);

    // The zero-argument resource never touches moka on a hit.
    warm_up(|_| assert_eq!(shared().as_str(), "shared"));
    let region = Region::new(GLOBAL);
    for _ in 0..HITS {
        assert_eq!(shared().as_str(), "shared");
    }
    let singleton_hits = region.change();
    assert_eq!(
        (singleton_hits.allocations, singleton_hits.reallocations),
        (0, 0),
        "{HITS} hits, zero-argument cache_resource: {singleton_hits:?}"
    );

    // Consecutive hits also run moka's housekeeping once every 64 logged reads
    // (`BaseCache::apply_reads_if_needed`); it ends with
    // `crossbeam_epoch::pin().flush()`, which moves the thread's garbage bag to
    // the global queue in a new ~2 KiB node: one allocation per run, inside
    // moka, as for a raw `moka::sync::Cache::get`. Nothing else may allocate.
    let most = (HITS / MOKA_READ_LOG_FLUSH_POINT) as usize + 4;
    for (what, clones, stats) in [
        ("u64 argument, u64 value", 0, consecutive(hit_by_id)),
        (
            "(&str, u32) arguments, u64 value",
            0,
            consecutive(hit_by_table),
        ),
        (
            "u64 argument, Vec<u8> value",
            HITS as usize,
            consecutive(hit_bytes),
        ),
    ] {
        let moka = stats.allocations - clones;
        assert!(
            stats.allocations >= clones && moka <= most && stats.reallocations == 0,
            "{HITS} consecutive hits, {what}: {stats:?}, expected {clones} clones \
             and at most {most} moka housekeeping allocations"
        );
        eprintln!("{HITS} consecutive hits, {what}: {moka} moka housekeeping allocations");
    }

    // Every measured call was a hit.
    assert_eq!(by_id::stats().misses, KEYS);
    assert_eq!(by_table::stats().misses, KEYS);
    assert_eq!(bytes::stats().misses, KEYS);
    assert_eq!(shared::stats().misses, 1);
}
