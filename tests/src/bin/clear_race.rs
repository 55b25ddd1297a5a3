//! `clear_race`: "a clear always wins" through a persistent tier, across
//! processes (driven by `tests/tests/persist_clear_race.rs`).
//!
//! ```text
//! clear_race (disk DIR | redis URL) race SECONDS [--no-clear] [--shared-seq | --seq-at=HOST:PORT] [--clear-all]
//! clear_race (disk DIR | redis URL) check FLOOR --seq START
//! ```
//!
//! The cached `value(k)` returns the sequence number its body read when it
//! started (then lingers 0–2 ms). In `race`, three readers call it on four
//! keys while a clearer bumps the sequence number *before* each `value::clear()`
//! and publishes the floor once the clear returned: a call that starts after
//! that must never get a smaller value. The clearer pauses 0–0.5 ms between
//! clears, and 25 ms after every 16th so that a record written across a clear
//! lives long enough to be read. One reader drops the memory tier every 50
//! calls (`clear_memory`, memory only), so reads go through the persistent
//! tier too. When SECONDS are up the clearer stops and one final clear runs
//! while the readers are still reading (so computations in flight across it
//! are covered); the readers go on for 300 ms, then stop. It prints
//! `summary role=.. reads=.. clears=.. stale=.. misses=.. hits=.. disk_hits=..
//! redis_hits=.. persist_errors=..` and `final FLOOR=<seq of the final clear>`.
//!
//! `--seq-at=HOST:PORT`: as `--shared-seq`, on another Redis server (when the
//! cache's Redis is a cluster).
//!
//! `--clear-all`: the clearer clears everything (`cache_data::clear()`)
//! rather than the one function.
//!
//! `--no-clear`: no clearer and no final clear (another process clears); its
//! readers only count what they saw below the published floor.
//!
//! `--shared-seq` (Redis only): the sequence number and the published floor
//! live in Redis (`clear-race:seq`, `clear-race:cleared`, outside the cache's
//! prefix), so the values of processes sharing the Redis compare with each
//! other's clears.
//!
//! `check FLOOR --seq START`: a fresh process (its sequence number at START,
//! so a recomputed value is recognisable) calls `value(k)` for the four keys
//! and prints `key K = V (redis|disk|computed|memory)`; every value found in
//! the tier must be `>= FLOOR`. Ends with `check ok tier_hits=N` (exit 0) or
//! `check FAILED ..` (exit 1).

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use cache_runtime::persist::{self, Settings};
use cache_runtime::{Persist, Stats, cache_data};

/// Keys the readers cycle over.
const KEYS: u64 = 4;
/// Reader threads.
const READERS: usize = 3;
/// One reader drops the memory tier every this many calls.
const DROP_MEMORY_EVERY: u64 = 50;
/// Every this many clears the clearer pauses for [`QUIET`].
const QUIET_EVERY: u64 = 16;
const QUIET: Duration = Duration::from_millis(25);
/// How long the readers go on after the final clear.
const AFTER_FINAL_CLEAR: Duration = Duration::from_millis(300);

/// Redis keys of the shared sequence number and floor (not under the cache's
/// prefix, so no clear removes them).
const SHARED_SEQ: &str = "clear-race:seq";
const SHARED_CLEARED: &str = "clear-race:cleared";

/// The sequence number bodies read (when it is not shared).
static SEQ: AtomicU64 = AtomicU64::new(0);
/// The sequence number of the last clear that returned (in this process).
static CLEARED: AtomicU64 = AtomicU64::new(0);
static NOISE: AtomicU64 = AtomicU64::new(0);
/// Whether this process clears (`race` without `--no-clear`).
static CLEARING: AtomicBool = AtomicBool::new(false);
/// Whether clears clear everything (`--clear-all`), not only `value`.
static CLEAR_ALL: AtomicBool = AtomicBool::new(false);
static TIER: OnceLock<Persist> = OnceLock::new();
/// `host:port` of the Redis holding the shared sequence number, with `--shared-seq`.
static SHARED: OnceLock<String> = OnceLock::new();

/// The tier from the command line (set before the first call).
fn tier_from_args() -> Persist {
    *TIER
        .get()
        .expect("main sets the tier before the first call")
}

#[cache_data(persist = tier_from_args())]
fn value(k: u64) -> u64 {
    let _ = k;
    let seen = read_seq();
    thread::sleep(Duration::from_micros(noise() % 2_000));
    seen
}

/// A cheap pseudo-random number (splitmix64 over a counter).
fn noise() -> u64 {
    let mut x = NOISE.fetch_add(0x9E37_79B9_7F4A_7C15, SeqCst);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn read_seq() -> u64 {
    match SHARED.get() {
        Some(addr) => redis_number(addr, &["GET", SHARED_SEQ]),
        None => SEQ.load(SeqCst),
    }
}

/// Bumps the sequence number; returns the new one.
fn bump_seq() -> u64 {
    match SHARED.get() {
        Some(addr) => redis_number(addr, &["INCR", SHARED_SEQ]),
        None => SEQ.fetch_add(1, SeqCst) + 1,
    }
}

/// The floor a call starting now must respect: the clearing process knows it,
/// another process sharing the sequence number reads what the clearer published.
fn floor() -> u64 {
    match SHARED.get() {
        Some(addr) if !CLEARING.load(SeqCst) => redis_number(addr, &["GET", SHARED_CLEARED]),
        _ => CLEARED.load(SeqCst),
    }
}

/// Clears with the clear's sequence number bumped first; returns it once the
/// clear returned and its floor is published.
fn clear_once() -> u64 {
    let seq = bump_seq();
    if CLEAR_ALL.load(SeqCst) {
        cache_runtime::cache_data::clear();
    } else {
        value::clear();
    }
    CLEARED.store(seq, SeqCst);
    if let Some(addr) = SHARED.get() {
        redis_number(addr, &["SET", SHARED_CLEARED, &seq.to_string()]);
    }
    seq
}

// ---------------------------------------------------------------------------
// The shared sequence number in Redis (one connection per thread)
// ---------------------------------------------------------------------------

thread_local! {
    static CONNECTION: RefCell<Option<redis::Connection>> = const { RefCell::new(None) };
}

/// Runs one command and returns its reply as a number (`nil` and `OK` are 0).
fn redis_number(addr: &str, args: &[&str]) -> u64 {
    CONNECTION.with(|cell| {
        let mut cell = cell.borrow_mut();
        let connection = cell.get_or_insert_with(|| {
            redis::Client::open(format!("redis://{addr}/"))
                .and_then(|client| client.get_connection())
                .expect("connect to redis for the shared seq")
        });
        let mut command = redis::cmd(args[0]);
        command.arg(&args[1..]);
        let reply: redis::Value = command.query(connection).expect("a redis reply");
        match reply {
            redis::Value::Int(n) => u64::try_from(n).expect("a non-negative redis integer"),
            redis::Value::Nil | redis::Value::Okay => 0,
            redis::Value::BulkString(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.parse().ok())
                .expect("a number in redis"),
            other => panic!("redis answered {other:?} to {args:?}"),
        }
    })
}

// ---------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------

/// What one reader saw.
#[derive(Default)]
struct Seen {
    reads: u64,
    stale: u64,
    first_stale: Option<(u64, u64, u64)>,
}

fn reader(index: usize, stop: &AtomicBool) -> Seen {
    let mut seen = Seen::default();
    let mut calls = 0u64;
    while !stop.load(SeqCst) {
        let key = (calls + index as u64) % KEYS;
        calls += 1;
        if index == 0 && calls.is_multiple_of(DROP_MEMORY_EVERY) {
            cache_runtime::__private::clear_memory("value");
        }
        let floor = floor();
        let got = value(key);
        seen.reads += 1;
        if got < floor {
            seen.stale += 1;
            seen.first_stale.get_or_insert((key, got, floor));
        }
    }
    seen
}

fn race(seconds: u64, clearing: bool) {
    CLEARING.store(clearing, SeqCst);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|index| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || reader(index, &stop))
        })
        .collect();
    let stop_clearing = Arc::new(AtomicBool::new(false));
    let clearer = clearing.then(|| {
        let stop = Arc::clone(&stop_clearing);
        thread::spawn(move || {
            let mut clears = 0u64;
            while !stop.load(SeqCst) {
                clear_once();
                clears += 1;
                // Let some values live long enough to be hit, and now and then
                // long enough for a record written across the clear to be
                // read (a reader waiting on another process's Redis lock polls
                // every 20 ms).
                let pause = if clears.is_multiple_of(QUIET_EVERY) {
                    QUIET
                } else {
                    Duration::from_micros(noise() % 500)
                };
                thread::sleep(pause);
            }
            clears
        })
    });
    thread::sleep(Duration::from_secs(seconds));
    stop_clearing.store(true, SeqCst);
    let mut clears = clearer.map_or(0, |c| c.join().expect("the clearer panicked"));
    // The final clear, with the readers still running: computations in flight
    // across it must not write their records; those started after it do.
    let final_floor = clearing.then(|| {
        clears += 1;
        let floor = clear_once();
        thread::sleep(AFTER_FINAL_CLEAR);
        floor
    });
    stop.store(true, SeqCst);
    let mut total = Seen::default();
    for reader in readers {
        let seen = reader.join().expect("a reader panicked");
        total.reads += seen.reads;
        total.stale += seen.stale;
        total.first_stale = total.first_stale.or(seen.first_stale);
    }
    let stats: Stats = value::stats();
    println!(
        "summary role={} reads={} clears={clears} stale={} misses={} hits={} disk_hits={} \
         redis_hits={} persist_errors={}",
        if clearing { "clearer" } else { "reader" },
        total.reads,
        total.stale,
        stats.misses,
        stats.hits,
        stats.disk_hits,
        stats.redis_hits,
        stats.persist_errors,
    );
    if let Some((key, got, floor)) = total.first_stale {
        println!("first_stale key={key} value={got} floor={floor}");
    }
    if let Some(floor) = final_floor {
        println!("final FLOOR={floor}");
    }
}

fn check(floor: u64, start: u64) -> ExitCode {
    SEQ.store(start, SeqCst);
    let mut tier_hits = 0;
    let mut failures = Vec::new();
    for key in 0..KEYS {
        let (got, source) = integration_tests::probe::source(|| value(key));
        println!("key {key} = {got} ({source})");
        match source {
            "disk" | "redis" => {
                tier_hits += 1;
                if got < floor {
                    failures.push(format!(
                        "key {key}: the {source} tier holds {got}, computed before the clear of \
                         floor {floor}"
                    ));
                }
            }
            "computed" if got != start => {
                failures.push(format!("key {key}: computed {got}, expected {start}"));
            }
            "computed" => {}
            _ => failures.push(format!("key {key}: a fresh process answered from memory")),
        }
    }
    if failures.is_empty() {
        println!("check ok tier_hits={tier_hits}");
        ExitCode::SUCCESS
    } else {
        println!(
            "check FAILED tier_hits={tier_hits}: {}",
            failures.join("; ")
        );
        ExitCode::FAILURE
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: clear_race (disk DIR | redis URL) (race SECONDS [--no-clear] [--shared-seq | --seq-at=HOST:PORT] [--clear-all] | \
         check FLOOR --seq START)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tier, place, mode, number, options @ ..] = args.as_slice() else {
        return usage();
    };
    let Ok(number) = number.parse::<u64>() else {
        return usage();
    };
    let settings = match tier.as_str() {
        "disk" => {
            TIER.set(Persist::Disk).expect("set once");
            Settings::default().dir(place)
        }
        "redis" => {
            TIER.set(Persist::Redis).expect("set once");
            let scratch: PathBuf =
                std::env::temp_dir().join(format!("clear-race-unused-{}", std::process::id()));
            Settings::default().dir(scratch).redis_url(place)
        }
        _ => return usage(),
    };
    persist::configure(settings).expect("configured once, before the first call");
    let flag = |name: &str| options.iter().any(|o| o == name);
    match mode.as_str() {
        "race" => {
            let seq_at = options.iter().find_map(|o| o.strip_prefix("--seq-at="));
            if let Some(addr) = seq_at {
                SHARED.set(addr.to_owned()).expect("set once");
            } else if flag("--shared-seq") {
                let Some(addr) = place.strip_prefix("redis://").filter(|_| tier == "redis") else {
                    eprintln!("--shared-seq needs `redis redis://HOST:PORT/`");
                    return usage();
                };
                let addr = addr.split('/').next().unwrap_or(addr).to_owned();
                SHARED.set(addr).expect("set once");
            }
            CLEAR_ALL.store(flag("--clear-all"), SeqCst);
            race(number, !flag("--no-clear"));
            ExitCode::SUCCESS
        }
        "check" => {
            let start = match options {
                [seq, start] if seq == "--seq" => start.parse().ok(),
                _ => None,
            };
            let Some(start) = start else {
                return usage();
            };
            check(number, start)
        }
        _ => usage(),
    }
}
