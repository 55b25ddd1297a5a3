//! The invariants of the per-thread front table (`src/front.rs`) that sits in
//! front of moka: whatever a thread's table holds, a call must answer exactly
//! what moka alone would have answered.
//!
//! 1. Exact keys: arguments packed into one word (`i32`, `bool`, `u8`, `i8`,
//!    `u16`, `char`, `i64`) and hashed byte keys (`&str, u32`, with enough
//!    keys to grow the table and overflow its sets) never share an answer.
//! 2. A `ttl` counts from the write: front hits never serve a value past its
//!    deadline, and never extend it.
//! 3. `max_entries` stays exact LRU on one thread with front hits in between,
//!    and the bound holds.
//! 4. An eviction, `invalidate` or `clear` made by another thread is seen by
//!    this thread's very next call.
//! 5. Errors and panics are stored nowhere, front table included.
//! 6. Stats are exact (`hits + misses == calls`) on one thread, on four, and
//!    over 10,000 short-lived threads, whose tables do not grow memory
//!    without bound.
//! 7. Resources: one `Arc` for every thread, `validate` on every hit (front
//!    hits included), and a failing `validate` releases once and recomputes
//!    once even when three threads' tables hold the old value.
//! 8. `front = false` frees a cleared value at once; with the front table it
//!    is freed by the same thread's next call.
//! 9. A clear or invalidate wins against readers hitting their front tables.
//! 10. A function without arguments keeps its entry in a thread-local of its
//!     own: a clear, an invalidate, a deadline or a failed `validate` is seen
//!     by that thread's very next call, stats stay exact and `trace` sees
//!     every hit.

mod common;

use common::{Clearing, Race, rss_bytes, stress};

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use cache_runtime::{Stats, cache_data, cache_resource};

/// How long any wait for another thread may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A job for a [`Worker`].
type Job = Box<dyn FnOnce() + Send>;

/// A thread that lives across the steps of a test, so that its front tables
/// keep what earlier steps put there while other threads act in between.
struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Worker {
    fn spawn() -> Self {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let thread = thread::spawn(move || {
            for job in inbox {
                job();
            }
        });
        Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    /// Runs `job` on this worker's thread and returns its result.
    fn run<R: Send + 'static>(&self, job: impl FnOnce() -> R + Send + 'static) -> R {
        let (reply, answer) = mpsc::channel();
        self.jobs
            .as_ref()
            .expect("the worker is running")
            .send(Box::new(move || {
                let _ = reply.send(job());
            }))
            .expect("the worker thread is alive");
        answer
            .recv_timeout(PATIENCE)
            .expect("the worker thread panicked or hung")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !thread::panicking()
        {
            panic!("a worker thread panicked");
        }
    }
}

/// Calls every combination three times over (forward, backward, forward):
/// the first pass computes, the second hits moka and fills this thread's
/// front table, the third hits the front table where it kept the entry.
/// Every call must return `expected(args)`, each distinct combination must
/// compute exactly once, and the stats must count the rest as hits.
fn expect_exact_keys<A, V>(
    what: &str,
    combinations: &[A],
    call: impl Fn(A) -> V,
    expected: impl Fn(A) -> V,
    runs: &AtomicUsize,
    stats: fn() -> Stats,
) where
    A: Copy + Eq + Hash + Debug,
    V: PartialEq + Debug,
{
    let distinct: HashSet<A> = combinations.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        combinations.len(),
        "{what}: the test's combinations must be distinct"
    );
    for pass in 1..=3 {
        let order: Box<dyn Iterator<Item = &A>> = if pass == 2 {
            Box::new(combinations.iter().rev())
        } else {
            Box::new(combinations.iter())
        };
        for &args in order {
            assert_eq!(
                call(args),
                expected(args),
                "{what}: pass {pass}: the call with {args:?} returned another call's value"
            );
        }
        assert_eq!(
            runs.load(SeqCst),
            combinations.len(),
            "{what}: after pass {pass}, each of the {} distinct combinations must have computed \
             exactly once",
            combinations.len()
        );
    }
    let stats = stats();
    let n = combinations.len() as u64;
    assert_eq!(
        (stats.misses, stats.hits),
        (n, 2 * n),
        "{what}: {n} misses then {} hits expected: {stats:?}",
        2 * n
    );
}

// ---------------------------------------------------------------------------
// 1. Exact keys: word packing is injective, byte keys compare bytes
// ---------------------------------------------------------------------------

#[test]
fn two_i32_arguments_never_share_an_answer() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn pair(a: i32, b: i32) -> (i32, i32) {
        RUNS.fetch_add(1, SeqCst);
        (a, b)
    }
    let values = [
        i32::MIN,
        i32::MIN + 1,
        -65_536,
        -65_535,
        -256,
        -1,
        0,
        1,
        255,
        256,
        i32::from(u16::MAX),
        65_536,
        i32::MAX - 1,
        i32::MAX,
    ];
    let combinations: Vec<(i32, i32)> = values
        .iter()
        .flat_map(|&a| values.iter().map(move |&b| (a, b)))
        .collect();
    expect_exact_keys(
        "pair(i32, i32)",
        &combinations,
        |(a, b)| pair(a, b),
        |(a, b)| (a, b),
        &RUNS,
        pair::stats,
    );
}

#[test]
fn a_bool_and_a_u8_never_share_an_answer() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn flagged(flag: bool, x: u8) -> (bool, u8) {
        RUNS.fetch_add(1, SeqCst);
        (flag, x)
    }
    // Every combination, (true, 0) against (false, 0) and (false, 255) among them.
    let combinations: Vec<(bool, u8)> = [false, true]
        .into_iter()
        .flat_map(|flag| (0..=u8::MAX).map(move |x| (flag, x)))
        .collect();
    expect_exact_keys(
        "flagged(bool, u8)",
        &combinations,
        |(flag, x)| flagged(flag, x),
        |(flag, x)| (flag, x),
        &RUNS,
        flagged::stats,
    );
}

#[test]
fn an_i8_a_u16_and_a_bool_never_share_an_answer() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn triple(a: i8, b: u16, c: bool) -> (i8, u16, bool) {
        RUNS.fetch_add(1, SeqCst);
        (a, b, c)
    }
    // -1 is 0xff as an i8: it must not be confused with b = 255 or with a
    // neighbour's bits (a sign extension into b or c would be).
    let a_values = [i8::MIN, -127, -2, -1, 0, 1, 2, i8::MAX];
    let b_values = [0, 1, 2, 255, 256, 0x7fff, 0x8000, 0xfffe, u16::MAX];
    let combinations: Vec<(i8, u16, bool)> = a_values
        .iter()
        .flat_map(|&a| {
            b_values
                .iter()
                .flat_map(move |&b| [false, true].map(|c| (a, b, c)))
        })
        .collect();
    expect_exact_keys(
        "triple(i8, u16, bool)",
        &combinations,
        |(a, b, c)| triple(a, b, c),
        |(a, b, c)| (a, b, c),
        &RUNS,
        triple::stats,
    );
}

#[test]
fn a_char_and_a_u32_never_share_an_answer() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn glyph(ch: char, n: u32) -> (char, u32) {
        RUNS.fetch_add(1, SeqCst);
        (ch, n)
    }
    let chars = [
        '\0',
        '\u{1}',
        'a',
        'b',
        'é',
        '\u{d7ff}',
        '\u{e000}',
        '\u{ffff}',
        '\u{10000}',
        char::MAX,
    ];
    let numbers = [
        0,
        1,
        2,
        0x1f_ffff,
        0x20_0000,
        1 << 31,
        u32::MAX - 1,
        u32::MAX,
    ];
    let combinations: Vec<(char, u32)> = chars
        .iter()
        .flat_map(|&ch| numbers.iter().map(move |&n| (ch, n)))
        .collect();
    expect_exact_keys(
        "glyph(char, u32)",
        &combinations,
        |(ch, n)| glyph(ch, n),
        |(ch, n)| (ch, n),
        &RUNS,
        glyph::stats,
    );
}

#[test]
fn an_i64_never_shares_an_answer() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn single(x: i64) -> i64 {
        RUNS.fetch_add(1, SeqCst);
        x
    }
    let mut values: Vec<i64> = (-300..300).collect();
    values.extend([
        i64::MIN,
        i64::MIN + 1,
        -(1 << 32) - 1,
        -(1 << 32),
        -(1 << 32) + 1,
        i64::from(i32::MIN) - 1,
        i64::from(i32::MIN),
        -65_536,
        65_535,
        65_536,
        i64::from(u32::MAX),
        1 << 32,
        (1 << 32) + 1,
        i64::MAX - 1,
        i64::MAX,
    ]);
    expect_exact_keys("single(i64)", &values, single, |x| x, &RUNS, single::stats);
}

#[test]
fn five_thousand_byte_keys_each_get_their_own_answer() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn labelled(name: &str, n: u32) -> String {
        RUNS.fetch_add(1, SeqCst);
        format!("{name}#{n}")
    }
    // Short keys (kept inline), long ones (on the heap), empty names, and
    // many keys sharing a name: more than the table's sets can hold at first.
    let keys: Vec<(String, u32)> = (0..5_000u32)
        .map(|i| match i % 4 {
            0 => (format!("k{i}"), i % 7),
            1 => (format!("a-much-longer-key-name-{i:08}"), 0),
            2 => (String::new(), i),
            _ => ("same".to_owned(), i),
        })
        .collect();
    let refs: Vec<(&str, u32)> = keys.iter().map(|(name, n)| (name.as_str(), *n)).collect();
    expect_exact_keys(
        "labelled(&str, u32)",
        &refs,
        |(name, n)| labelled(name, n),
        |(name, n)| format!("{name}#{n}"),
        &RUNS,
        labelled::stats,
    );
}

// ---------------------------------------------------------------------------
// 2. A ttl counts from the write
// ---------------------------------------------------------------------------

#[test]
fn front_hits_never_serve_past_the_deadline_nor_extend_it() {
    const TTL: Duration = Duration::from_millis(150);
    const RUN_FOR: Duration = Duration::from_millis(400);
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data(ttl = "150ms")]
    fn stamped(k: u32) -> u64 {
        let _ = k;
        RUNS.fetch_add(1, SeqCst) + 1
    }

    struct Call {
        start: Instant,
        end: Instant,
        value: u64,
    }
    let first_start = Instant::now();
    assert_eq!(stamped(7), 1);
    let t_after = Instant::now();
    let mut calls = vec![Call {
        start: first_start,
        end: t_after,
        value: 1,
    }];
    while t_after.elapsed() < RUN_FOR {
        let start = Instant::now();
        let value = stamped(7);
        calls.push(Call {
            start,
            end: Instant::now(),
            value,
        });
        // Continuous, but not so dense that the record takes much memory.
        thread::sleep(Duration::from_micros(20));
    }

    // The call that computed each value (the first to return it): its value's
    // deadline lies between its start + ttl and its end + ttl.
    let mut computed: Vec<&Call> = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let newest = computed.last().map_or(0, |c| c.value);
        assert!(
            call.value == newest || call.value == newest + 1,
            "call {i} returned value {} after value {newest}: values must be computed in order",
            call.value
        );
        if call.value == newest + 1 {
            computed.push(call);
        }
    }
    assert_eq!(
        RUNS.load(SeqCst),
        computed.len() as u64,
        "every computation's value was returned by the call that computed it"
    );
    assert!(
        computed.len() >= 2,
        "{} calls over {RUN_FOR:?} never recomputed after the {TTL:?} ttl",
        calls.len()
    );
    for (i, call) in calls.iter().enumerate() {
        let maker = computed[(call.value - 1) as usize];
        let latest_deadline = maker.end + TTL;
        assert!(
            call.start <= latest_deadline,
            "call {i} started {:?} after the deadline of value {} (at most {TTL:?} after the call \
             that computed it returned) and still got that value",
            call.start - latest_deadline,
            call.value
        );
    }
    for pair in computed.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        assert!(
            new.end >= old.start + TTL,
            "value {} was recomputed {:?} after value {} was computed, before its {TTL:?} ttl",
            new.value,
            new.end - old.start,
            old.value
        );
    }
    // After each recompute, the next calls hit again: one miss per deadline.
    for (i, call) in calls.iter().enumerate().take(calls.len() - 1) {
        // (Unless this thread was descheduled for a whole ttl in between.)
        if i > 0 && call.value != calls[i - 1].value && calls[i + 1].start < call.start + TTL {
            assert_eq!(
                calls[i + 1].value,
                call.value,
                "the call after the recompute of value {} recomputed again",
                call.value
            );
        }
    }
}

#[test]
fn a_front_hit_just_past_a_short_ttl_is_a_miss() {
    const TTL: Duration = Duration::from_millis(5);
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data(ttl = "5ms")]
    fn brief(k: u32) -> u64 {
        let _ = k;
        RUNS.fetch_add(1, SeqCst) + 1
    }
    let mut warmed = 0;
    for k in 0..20 {
        let first_start = Instant::now();
        let first = brief(k);
        let t_after = Instant::now();
        // A moka hit fills this thread's front table, the next one hits it.
        let (second, third) = (brief(k), brief(k));
        // The deadline is at least a ttl after the first call started.
        if first_start.elapsed() < TTL {
            assert_eq!(
                (second, third),
                (first, first),
                "key {k}: calls before the deadline must hit"
            );
            warmed += 1;
        }
        while t_after.elapsed() <= TTL {
            std::hint::spin_loop();
        }
        let runs = RUNS.load(SeqCst);
        let late = brief(k);
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 1,
            "key {k}: a call {:?} after the computing call returned must not be served its \
             {TTL:?}-ttl value",
            t_after.elapsed()
        );
        assert_ne!(late, first, "key {k}: the expired value was returned");
    }
    assert!(
        warmed > 0,
        "the front table was never filled before the deadline"
    );
}

// ---------------------------------------------------------------------------
// 3. LRU with front hits
// ---------------------------------------------------------------------------

#[test]
fn streamlit_lru_sequence_computes_three_times() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_entries = 2)]
    fn square(x: u32) -> u32 {
        RUNS.fetch_add(1, SeqCst);
        x * x
    }
    for x in [1, 2, 1, 3, 1] {
        assert_eq!(square(x), x * x);
    }
    assert_eq!(
        RUNS.load(SeqCst),
        3,
        "max_entries = 2, calls 1, 2, 1, 3, 1: 2 was evicted, 1 stayed"
    );
}

#[test]
fn front_hits_count_as_uses_for_lru() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_entries = 2)]
    fn square(x: u32) -> u32 {
        RUNS.fetch_add(1, SeqCst);
        x * x
    }
    // 1 and 2 are both in this thread's front table after their second
    // calls; 1's later hits are front hits only.
    for x in [1, 2, 1, 1, 1, 2, 1, 1, 3, 1] {
        assert_eq!(square(x), x * x);
    }
    assert_eq!(
        RUNS.load(SeqCst),
        3,
        "calls 1,2,1,1,1,2,1,1,3,1 with max_entries = 2: 2 was the least recently used \
         (1's front hits count), so 3 evicted 2 and 1 stayed"
    );
    assert_eq!(square(3), 9);
    assert_eq!(RUNS.load(SeqCst), 3, "3 is cached");
    assert_eq!(square(2), 4);
    assert_eq!(RUNS.load(SeqCst), 4, "2 was evicted");
}

#[test]
fn many_front_hits_between_misses_keep_lru_exact() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_entries = 2)]
    fn square(x: u32) -> u32 {
        RUNS.fetch_add(1, SeqCst);
        x * x
    }
    // Enough front hits to replay into moka several times on the way.
    for round in 0..50u32 {
        let (keep, drop) = (1000 + 2 * round, 1001 + 2 * round);
        square(keep);
        square(drop);
        for _ in 0..40 {
            square(keep);
        }
        let runs = RUNS.load(SeqCst);
        square(5000 + round);
        assert_eq!(square(keep), keep * keep);
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 1,
            "round {round}: {keep} had 40 front hits since {drop} was last used: the new key \
             must evict {drop}, not {keep}"
        );
        assert_eq!(square(drop), drop * drop);
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 2,
            "round {round}: {drop} must have been evicted"
        );
    }
}

#[test]
fn the_bound_holds_with_front_hits() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_entries = 2)]
    fn square(x: u32) -> u32 {
        RUNS.fetch_add(1, SeqCst);
        x * x
    }
    for x in 0..2_000 {
        // A miss, a moka hit that fills the front table, a front hit.
        for _ in 0..3 {
            assert_eq!(square(x), x * x);
        }
        if x.is_multiple_of(250) {
            let entries = square::stats().entries;
            assert!(entries <= 2, "after {x} keys: {entries} entries held");
        }
    }
    let stats = square::stats();
    assert!(stats.entries <= 2, "{stats:?}");
    assert_eq!(RUNS.load(SeqCst), 2_000);
    assert_eq!((stats.misses, stats.hits), (2_000, 4_000), "{stats:?}");
    assert!(stats.evictions >= 1_998, "{stats:?}");
}

// ---------------------------------------------------------------------------
// 4. Another thread's eviction, invalidate and clear
// ---------------------------------------------------------------------------

#[test]
fn an_eviction_by_another_thread_is_seen_at_once() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(max_entries = 1)]
    fn only(x: u32) -> u32 {
        RUNS.fetch_add(1, SeqCst);
        x + 100
    }
    let (a, b) = (Worker::spawn(), Worker::spawn());
    for round in 0..20 {
        let runs = RUNS.load(SeqCst);
        // A computes 1, fills its front table, hits it.
        a.run(|| {
            for _ in 0..5 {
                assert_eq!(only(1), 101);
            }
        });
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 1,
            "round {round}: A computed 1 once"
        );
        // B's 2 evicts 1 (max_entries = 1).
        assert_eq!(b.run(|| only(2)), 102);
        assert_eq!(RUNS.load(SeqCst), runs + 2);
        // A's front table still holds 1: its next call must not be served it.
        assert_eq!(a.run(|| only(1)), 101);
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 3,
            "round {round}: 1 was evicted by B's call; A's next call must compute it again"
        );
        // And now 2 is evicted (B's front table holds it).
        assert_eq!(b.run(|| only(2)), 102);
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 4,
            "round {round}: A's 1 evicted B's 2"
        );
        // Leave 2 cached and 1 evicted for the next round's first call to compute.
    }
}

#[test]
fn an_invalidate_by_another_thread_is_seen_at_once() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn versioned(k: u32) -> (u32, u64) {
        (k, RUNS.fetch_add(1, SeqCst) + 1)
    }
    let (a, b) = (Worker::spawn(), Worker::spawn());
    let held = a.run(|| {
        let first = versioned(5);
        for _ in 0..5 {
            assert_eq!(versioned(5), first);
        }
        let _ = versioned(6);
        let _ = versioned(6);
        first
    });
    assert!(b.run(|| versioned::invalidate(5)), "key 5 was cached");
    let after = a.run(|| versioned(5));
    assert_ne!(
        after, held,
        "A was served the value B invalidated (from its front table)"
    );
    assert_eq!(after.0, 5);
    let runs = RUNS.load(SeqCst);
    a.run(|| versioned(6));
    assert_eq!(RUNS.load(SeqCst), runs, "invalidating 5 must not touch 6");

    // B invalidates and recomputes: A gets B's new value, not its old one.
    let mine = a.run(|| {
        let v = versioned(5);
        assert_eq!(versioned(5), v);
        v
    });
    let theirs = b.run(|| {
        versioned::invalidate(5);
        versioned(5)
    });
    assert_ne!(theirs, mine);
    let runs = RUNS.load(SeqCst);
    assert_eq!(
        a.run(|| versioned(5)),
        theirs,
        "A must be served the value B stored after invalidating"
    );
    assert_eq!(RUNS.load(SeqCst), runs, "and without recomputing it");
}

#[test]
fn a_clear_by_another_thread_is_seen_at_once() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn versioned(name: &str) -> (String, u64) {
        (name.to_owned(), RUNS.fetch_add(1, SeqCst) + 1)
    }
    #[cache_data(max_entries = 4)]
    fn bounded(k: u8) -> u64 {
        let _ = k;
        RUNS.fetch_add(1, SeqCst) + 1
    }
    let (a, b) = (Worker::spawn(), Worker::spawn());
    for round in 0..20 {
        let (held, held_bounded) = a.run(|| {
            let first = (versioned("x"), bounded(3));
            for _ in 0..5 {
                assert_eq!((versioned("x"), bounded(3)), first);
            }
            first
        });
        b.run(|| {
            versioned::clear();
            bounded::clear();
        });
        let runs = RUNS.load(SeqCst);
        let after = a.run(|| (versioned("x"), bounded(3)));
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 2,
            "round {round}: both functions were cleared by B: A's next calls must compute"
        );
        assert_ne!(after.0, held, "round {round}: A was served a cleared value");
        assert_ne!(
            after.1, held_bounded,
            "round {round}: A was served a cleared value"
        );
    }
}

// ---------------------------------------------------------------------------
// 5. Errors and panics are stored nowhere
// ---------------------------------------------------------------------------

#[test]
fn an_error_is_stored_nowhere() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn flaky(k: u32) -> Result<u64, String> {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        if run == 1 {
            Err(format!("run {run} fails"))
        } else {
            Ok(u64::from(k) * 1000 + run)
        }
    }
    assert_eq!(flaky(4), Err("run 1 fails".to_owned()));
    assert_eq!(
        flaky(4),
        Ok(4002),
        "the error was not stored: the body runs again"
    );
    for _ in 0..5 {
        assert_eq!(flaky(4), Ok(4002), "the value is cached (moka, then front)");
    }
    assert_eq!(RUNS.load(SeqCst), 2);
    let stats = flaky::stats();
    assert_eq!(
        (stats.misses, stats.errors, stats.hits, stats.entries),
        (2, 1, 5, 1),
        "{stats:?}"
    );
}

#[test]
fn an_error_after_a_front_hit_is_stored_nowhere() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    static FAIL: AtomicBool = AtomicBool::new(false);
    #[cache_data]
    fn flaky(name: &str) -> Result<u64, String> {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        if FAIL.load(SeqCst) {
            Err(format!("{name}: run {run} fails"))
        } else {
            Ok(run)
        }
    }
    // The front table holds "a"; "a" is invalidated, then fails twice.
    assert_eq!(flaky("a"), Ok(1));
    assert_eq!(flaky("a"), Ok(1));
    assert_eq!(flaky("a"), Ok(1));
    assert!(flaky::invalidate("a"));
    FAIL.store(true, SeqCst);
    assert!(flaky("a").is_err());
    assert!(flaky("a").is_err(), "the error was not stored");
    FAIL.store(false, SeqCst);
    assert_eq!(
        flaky("a"),
        Ok(4),
        "neither the invalidated value nor an error was served"
    );
    assert_eq!(flaky("a"), Ok(4));
    assert_eq!(flaky("a"), Ok(4));
    assert_eq!(RUNS.load(SeqCst), 4);
}

#[test]
fn a_panic_is_stored_nowhere() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn fragile(k: u32) -> u64 {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        assert!(run != 1, "the first run panics (expected by the test)");
        u64::from(k) * 1000 + run
    }
    assert!(catch_unwind(|| fragile(3)).is_err());
    assert_eq!(
        fragile(3),
        3002,
        "the panic stored nothing: the body runs again"
    );
    for _ in 0..5 {
        assert_eq!(fragile(3), 3002);
    }
    assert_eq!(RUNS.load(SeqCst), 2);
    let stats = fragile::stats();
    assert_eq!(
        (stats.misses, stats.errors, stats.hits),
        (1, 1, 5),
        "{stats:?}"
    );
}

// ---------------------------------------------------------------------------
// 6. Stats are exact
// ---------------------------------------------------------------------------

#[test]
fn stats_are_exact_on_one_thread() {
    #[cache_data]
    fn modulo(x: u32) -> u32 {
        x % 10
    }
    #[cache_data]
    fn named(name: &str) -> usize {
        name.len()
    }
    for i in 0..1_000u32 {
        assert_eq!(modulo(i % 10), i % 10);
        assert_eq!(
            named(["a", "bb", "ccc"][(i % 3) as usize]),
            (i % 3) as usize + 1
        );
    }
    let stats = modulo::stats();
    assert_eq!((stats.misses, stats.hits), (10, 990), "{stats:?}");
    let stats = named::stats();
    assert_eq!((stats.misses, stats.hits), (3, 997), "{stats:?}");
}

#[test]
fn stats_are_exact_across_four_threads() {
    const THREADS: usize = 4;
    const CALLS: u64 = 20_000;
    const KEYS: u64 = 16;
    const BOUNDED_EVERY: u64 = 8;
    #[cache_data]
    fn shared(x: u64) -> u64 {
        x * 3
    }
    #[cache_data(max_entries = 8)]
    fn bounded(x: u64) -> u64 {
        x * 3
    }
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        for t in 0..THREADS as u64 {
            let start = &start;
            scope.spawn(move || {
                start.wait();
                for i in 0..CALLS {
                    let x = (i + t) % KEYS;
                    assert_eq!(shared(x), x * 3);
                    // The bounded function thrashes (16 keys, 8 entries):
                    // mostly misses, evictions and waits, so fewer calls.
                    if i.is_multiple_of(BOUNDED_EVERY) {
                        assert_eq!(bounded(x), x * 3);
                    }
                }
            });
        }
    });
    let calls = THREADS as u64 * CALLS;
    let stats = shared::stats();
    assert_eq!(
        stats.hits + stats.misses,
        calls,
        "every call is a hit or a miss: {stats:?}"
    );
    assert_eq!(stats.misses, KEYS, "one computation per key: {stats:?}");
    let stats = bounded::stats();
    assert_eq!(
        stats.hits + stats.misses,
        calls / BOUNDED_EVERY,
        "every call of the bounded function is a hit or a miss: {stats:?}"
    );
}

#[test]
fn stats_are_exact_over_ten_thousand_short_lived_threads() {
    const THREADS: u64 = 10_000;
    const BATCH: u64 = 64;
    const KEYS: u64 = 8;
    #[cache_data]
    fn brief(x: u64) -> u64 {
        x + 1
    }
    #[cache_resource]
    fn handle(x: u64) -> u64 {
        x + 1
    }
    // Warm up: the first batch of threads sets up the per-thread slots.
    brief(0);
    handle(0);
    let before = rss_bytes();
    let started = Instant::now();
    let mut spawned = 0;
    while spawned < THREADS {
        let batch: Vec<_> = (spawned..(spawned + BATCH).min(THREADS))
            .map(|t| {
                thread::spawn(move || {
                    for _ in 0..3 {
                        let x = t % KEYS;
                        assert_eq!(brief(x), x + 1);
                        assert_eq!(*handle(x), x + 1);
                    }
                })
            })
            .collect();
        spawned += batch.len() as u64;
        for thread in batch {
            thread.join().expect("a short-lived thread panicked");
        }
    }
    let grown = rss_bytes().saturating_sub(before);
    let calls = THREADS * 3 + 1;
    let stats = brief::stats();
    assert_eq!(
        stats.hits + stats.misses,
        calls,
        "no hit of an exited thread may be lost: {stats:?}"
    );
    assert_eq!(stats.misses, KEYS, "{stats:?}");
    let stats = handle::stats();
    assert_eq!(stats.hits + stats.misses, calls, "{stats:?}");
    assert_eq!(stats.misses, KEYS, "{stats:?}");
    eprintln!(
        "{THREADS} threads in {:?}; RSS grew by {} KiB",
        started.elapsed(),
        grown / 1024
    );
    assert!(
        grown < 64 << 20,
        "RSS grew by {} MiB over {THREADS} short-lived threads: per-thread state is not reused",
        grown >> 20
    );
}

// ---------------------------------------------------------------------------
// 7. Resources
// ---------------------------------------------------------------------------

/// A resource value; it knows the [`Probe`] that opened it, so one
/// `validate` and one `on_release` serve every resource here.
#[derive(Debug)]
struct Conn {
    id: usize,
    probe: &'static Probe,
}

/// What a resource test observes.
#[derive(Debug)]
struct Probe {
    opened: AtomicUsize,
    checks: AtomicUsize,
    /// A value with this id fails `validate` (ids start at 1).
    revoked: AtomicUsize,
    released: Mutex<Vec<usize>>,
}

impl Probe {
    const fn new() -> Self {
        Probe {
            opened: AtomicUsize::new(0),
            checks: AtomicUsize::new(0),
            revoked: AtomicUsize::new(0),
            released: Mutex::new(Vec::new()),
        }
    }
    fn open(&'static self) -> Conn {
        Conn {
            id: self.opened.fetch_add(1, SeqCst) + 1,
            probe: self,
        }
    }
    fn released(&self) -> Vec<usize> {
        self.released.lock().unwrap().clone()
    }
}

/// The `validate` of every resource here.
fn check(conn: &Conn) -> bool {
    conn.probe.checks.fetch_add(1, SeqCst);
    conn.probe.revoked.load(SeqCst) != conn.id
}

/// The `on_release` of every resource here.
fn release(conn: &Conn) {
    conn.probe.released.lock().unwrap().push(conn.id);
}

#[test]
fn a_resource_is_one_arc_for_every_thread() {
    static SINGLE: Probe = Probe::new();
    static KEYED: Probe = Probe::new();
    #[cache_resource]
    fn single() -> Conn {
        SINGLE.open()
    }
    #[cache_resource]
    fn keyed(id: u32) -> Conn {
        let _ = id;
        KEYED.open()
    }
    let start = Barrier::new(4);
    let seen: Vec<(Arc<Conn>, Vec<Arc<Conn>>)> = thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let one = single();
                    for _ in 0..100 {
                        assert!(Arc::ptr_eq(&one, &single()), "one thread, two values");
                    }
                    let values: Vec<_> = (0..4).map(keyed).collect();
                    for _ in 0..25 {
                        for (id, conn) in values.iter().enumerate() {
                            assert!(Arc::ptr_eq(conn, &keyed(id as u32)));
                        }
                    }
                    (one, values)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let (one, keyed_values) = &seen[0];
    for (other, other_keyed) in &seen[1..] {
        assert!(
            Arc::ptr_eq(one, other),
            "two threads got different values of the zero-argument resource"
        );
        for (id, conn) in other_keyed.iter().enumerate() {
            assert!(
                Arc::ptr_eq(conn, &keyed_values[id]),
                "two threads got different values for key {id}"
            );
        }
    }
    assert!(Arc::ptr_eq(one, &single()), "the main thread sees it too");
    assert_eq!(SINGLE.opened.load(SeqCst), 1);
    assert_eq!(KEYED.opened.load(SeqCst), 4);
}

#[test]
fn validate_runs_on_every_hit_front_hits_included() {
    static SINGLE: Probe = Probe::new();
    static KEYED: Probe = Probe::new();
    #[cache_resource(validate = check)]
    fn single() -> Conn {
        SINGLE.open()
    }
    #[cache_resource(validate = check)]
    fn keyed(name: &str) -> Conn {
        let _ = name;
        KEYED.open()
    }
    // One thread: a miss, a moka hit, then front hits.
    for _ in 0..50 {
        single();
        keyed("a");
    }
    let stats = single::stats();
    assert_eq!((stats.misses, stats.hits), (1, 49), "{stats:?}");
    assert_eq!(
        SINGLE.checks.load(SeqCst) as u64,
        stats.hits,
        "validate must run on every hit of the zero-argument resource"
    );
    let stats = keyed::stats();
    assert_eq!((stats.misses, stats.hits), (1, 49), "{stats:?}");
    assert_eq!(KEYED.checks.load(SeqCst) as u64, stats.hits);

    let checks = KEYED.checks.load(SeqCst);
    keyed("b");
    assert_eq!(
        KEYED.checks.load(SeqCst),
        checks,
        "a miss validates nothing"
    );

    // Four threads, every value already stored: every call is a hit.
    let (single_hits, keyed_hits) = (single::stats().hits, keyed::stats().hits);
    let (single_checks, keyed_checks) = (SINGLE.checks.load(SeqCst), KEYED.checks.load(SeqCst));
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for i in 0..1_000 {
                    single();
                    keyed(if i % 2 == 0 { "a" } else { "b" });
                }
            });
        }
    });
    let single_stats = single::stats();
    assert_eq!(single_stats.misses, 1, "{single_stats:?}");
    assert_eq!(
        (SINGLE.checks.load(SeqCst) - single_checks) as u64,
        single_stats.hits - single_hits,
        "validate calls must equal hits across threads (front hits included)"
    );
    let keyed_stats = keyed::stats();
    assert_eq!(keyed_stats.misses, 2, "{keyed_stats:?}");
    assert_eq!(
        (KEYED.checks.load(SeqCst) - keyed_checks) as u64,
        keyed_stats.hits - keyed_hits,
        "validate calls must equal hits across threads (front hits included)"
    );
}

/// Three threads hold the resource in their front tables; it then fails
/// `validate`. Each thread's next call gets the one replacement, the old
/// value is released once and the body runs once.
fn expect_one_replacement_for_three_threads(probe: &'static Probe, call: fn() -> Arc<Conn>) {
    const THREADS: usize = 3;
    let phase = Barrier::new(THREADS + 1);
    let seen: Vec<(Arc<Conn>, Arc<Conn>, Arc<Conn>)> = thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let phase = &phase;
                scope.spawn(move || {
                    // A miss (or a wait), a moka hit that fills the front
                    // table, front hits.
                    let old = call();
                    for _ in 0..4 {
                        assert!(Arc::ptr_eq(&old, &call()));
                    }
                    phase.wait();
                    phase.wait(); // the old value is revoked
                    let new = call();
                    phase.wait();
                    let again = call();
                    (old, new, again)
                })
            })
            .collect();
        phase.wait();
        assert_eq!(probe.opened.load(SeqCst), 1, "one value for three threads");
        probe.revoked.store(1, SeqCst);
        phase.wait();
        phase.wait(); // every thread made its call after the revocation
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let (old, new, _) = &seen[0];
    assert_eq!(old.id, 1);
    for (i, (their_old, their_new, again)) in seen.iter().enumerate() {
        assert!(
            Arc::ptr_eq(their_old, old),
            "thread {i} had another old value"
        );
        assert_ne!(
            their_new.id, 1,
            "thread {i}'s first call after the value failed validate was served it"
        );
        assert!(
            Arc::ptr_eq(their_new, new),
            "thread {i} got another replacement (ids {} and {})",
            their_new.id,
            new.id
        );
        assert!(
            Arc::ptr_eq(again, new),
            "thread {i}'s replacement is cached"
        );
    }
    assert_eq!(
        probe.opened.load(SeqCst),
        2,
        "the failed value is recomputed exactly once"
    );
    assert_eq!(
        probe.released(),
        [1],
        "the value that failed validate is released exactly once"
    );
}

#[test]
fn a_failing_validate_replaces_the_value_in_every_threads_front() {
    static PROBE: Probe = Probe::new();
    #[cache_resource(validate = check, on_release = release)]
    fn pooled() -> Conn {
        PROBE.open()
    }
    expect_one_replacement_for_three_threads(&PROBE, pooled);
}

#[test]
fn a_failing_validate_replaces_a_keyed_value_in_every_threads_front() {
    static PROBE: Probe = Probe::new();
    #[cache_resource(validate = check, on_release = release)]
    fn pooled(url: &str) -> Conn {
        let _ = url;
        PROBE.open()
    }
    expect_one_replacement_for_three_threads(&PROBE, || pooled("db://front"));
}

// ---------------------------------------------------------------------------
// 8. front = false frees a removed value at once
// ---------------------------------------------------------------------------

/// A value that counts its live copies in `live` (each computation gets a
/// counter of its own, so a test can tell when that value is freed).
#[derive(Debug)]
struct Tracked {
    live: &'static AtomicUsize,
}

impl Tracked {
    fn new(live: &'static AtomicUsize) -> Self {
        live.fetch_add(1, SeqCst);
        Tracked { live }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(self.live)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, SeqCst);
    }
}

#[test]
fn without_a_front_table_a_clear_frees_the_value_at_once() {
    static LIVE: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(front = false)]
    fn big(k: u32) -> Tracked {
        let _ = k;
        Tracked::new(&LIVE[RUNS.fetch_add(1, SeqCst)])
    }
    for _ in 0..5 {
        drop(big(1));
    }
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(LIVE[0].load(SeqCst), 1, "the cache holds one copy");
    big::clear();
    assert_eq!(
        LIVE[0].load(SeqCst),
        0,
        "with front = false, clear() must free the stored value before it returns (the \
         promise of `front = false`: removal frees a large value at once), but a copy is still \
         alive after clear() returned"
    );
}

#[test]
fn with_the_front_table_a_cleared_value_is_freed_by_the_threads_next_call() {
    static LIVE: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn big(k: u32) -> Tracked {
        let _ = k;
        Tracked::new(&LIVE[RUNS.fetch_add(1, SeqCst)])
    }
    // A miss, a moka hit that puts the entry in this thread's front table,
    // front hits.
    for _ in 0..5 {
        drop(big(1));
    }
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(LIVE[0].load(SeqCst), 1, "the cache holds one copy");
    big::clear();
    // With the front table (the default), this thread's table may still hold
    // the cleared entry here: it lets go of it when this thread next calls
    // `big` (any arguments), as documented in `front.rs` (another thread
    // that hit it holds it until *its* next call). So no assertion on
    // LIVE[0] at this point.
    drop(big(2));
    // The front table must have let go of it now. moka frees the copy it
    // held through crossbeam-epoch's deferred destruction, on one of its
    // next maintenance runs (`stats()` runs one), and that copy is not the
    // front table's business: wait for it, briefly.
    let deadline = Instant::now() + Duration::from_secs(1);
    while LIVE[0].load(SeqCst) != 0 && Instant::now() < deadline {
        let _ = big::stats();
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        LIVE[0].load(SeqCst),
        0,
        "the value cleared before this thread's next call of the function is still alive: \
         this thread's front table must let go of it on that call (moka's own maintenance ran \
         meanwhile)"
    );
    assert_eq!(LIVE[1].load(SeqCst), 1, "the new value is cached");
}

// ---------------------------------------------------------------------------
// 9. A clear or invalidate wins against front-table readers (stress)
// ---------------------------------------------------------------------------

// The harness of `test_consistency.rs` (`common::stress`): three readers, a
// clearer that bumps the sequence number before each clear and publishes the
// floor after it returned, 5 s per mode. Here every reader's calls are front
// hits between clears, and each answer must also be its own key's.

#[test]
fn a_clear_wins_against_front_hits() {
    static RACE: Race = Race::new();
    #[cache_data]
    fn raced(k: u64) -> (u64, u64) {
        (k, RACE.body())
    }
    stress(
        "f::clear() (word keys)",
        &RACE,
        |k| own_answer(k, raced(k)),
        Clearing::Function(raced::clear),
        raced::stats,
    );
}

#[test]
fn an_invalidate_wins_against_front_hits() {
    static RACE: Race = Race::new();
    #[cache_data]
    fn raced(k: u64) -> (u64, u64) {
        (k, RACE.body())
    }
    stress(
        "f::invalidate(k) (word keys)",
        &RACE,
        |k| own_answer(k, raced(k)),
        Clearing::EachKey(|k| {
            raced::invalidate(k);
        }),
        raced::stats,
    );
}

/// Names for the byte-key stress, one long enough to be stored on the heap.
const NAMES: [&str; common::KEYS as usize] = [
    "zero",
    "one",
    "a name long enough for the heap: two",
    "three",
];

#[test]
fn an_invalidate_wins_against_front_hits_on_byte_keys() {
    static RACE: Race = Race::new();
    #[cache_data(max_entries = 16)]
    fn raced(name: &str) -> (u64, u64) {
        let k = NAMES.iter().position(|n| *n == name).unwrap() as u64;
        (k, RACE.body())
    }
    stress(
        "f::invalidate(name) (byte keys, bounded)",
        &RACE,
        |k| own_answer(k, raced(NAMES[k as usize])),
        Clearing::EachKey(|k| {
            raced::invalidate(NAMES[k as usize]);
        }),
        raced::stats,
    );
}

/// The sequence number of an answer to key `k`, which must be `k`'s own.
fn own_answer(k: u64, (key, seq): (u64, u64)) -> u64 {
    assert_eq!(key, k, "key {k} was answered with key {key}'s value");
    seq
}

// ---------------------------------------------------------------------------
// 10. Functions without arguments: each thread's own entry
// ---------------------------------------------------------------------------

#[test]
fn a_clear_or_invalidate_reaches_the_entry_a_thread_holds_for_a_function_without_arguments() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn version() -> u64 {
        RUNS.fetch_add(1, SeqCst) + 1
    }
    #[cache_resource]
    fn shared_version() -> u64 {
        RUNS.fetch_add(1, SeqCst) + 1
    }
    let (a, b) = (Worker::spawn(), Worker::spawn());
    for round in 0..20 {
        // A miss, a moka hit, a front hit that fills the thread's entry,
        // then hits on it.
        let held = a.run(|| {
            let first = (version(), *shared_version());
            for _ in 0..5 {
                assert_eq!((version(), *shared_version()), first);
            }
            first
        });
        let runs = RUNS.load(SeqCst);
        if round % 2 == 0 {
            b.run(|| {
                version::clear();
                shared_version::clear();
            });
        } else {
            b.run(|| {
                assert!(version::invalidate());
                assert!(shared_version::invalidate());
            });
        }
        let after = a.run(|| (version(), *shared_version()));
        assert_eq!(
            RUNS.load(SeqCst),
            runs + 2,
            "round {round}: B removed both values: A's next calls must compute"
        );
        assert_ne!(
            after.0, held.0,
            "round {round}: A was served a removed value"
        );
        assert_ne!(
            after.1, held.1,
            "round {round}: A was served a removed value"
        );
    }
}

#[test]
fn a_function_without_arguments_never_serves_past_its_deadline() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    const TTL: Duration = Duration::from_millis(150);
    #[cache_data(ttl = "150ms")]
    fn stamped() -> u64 {
        RUNS.fetch_add(1, SeqCst) + 1
    }
    // When the call that computed each value began and returned: its
    // deadline lies between the two, plus the ttl.
    let mut computed: Vec<(Instant, Instant)> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < 4 * TTL {
        let before = Instant::now();
        let run = stamped();
        let after = Instant::now();
        let run = usize::try_from(run).unwrap();
        if run > computed.len() {
            assert_eq!(run, computed.len() + 1, "one computation at a time");
            if let Some(&(began, _)) = computed.last() {
                assert!(
                    after.duration_since(began) >= TTL,
                    "value {} was replaced before its ttl was up",
                    run - 1
                );
            }
            computed.push((before, after));
        } else {
            let (_, returned) = computed[run - 1];
            assert!(
                before.duration_since(returned) < TTL,
                "value {run} was served {:?} after the call that computed it returned, \
                 past its {TTL:?} ttl",
                before.duration_since(returned)
            );
        }
    }
    let runs = RUNS.load(SeqCst);
    assert!(
        (4..=5).contains(&runs),
        "{runs} computations over four ttls: the deadline was not honoured"
    );
    assert_eq!(stamped::stats().misses, runs);
}

#[test]
fn stats_and_trace_count_every_hit_of_a_function_without_arguments() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn settings() -> Vec<u32> {
        RUNS.fetch_add(1, SeqCst);
        vec![1, 2, 3]
    }
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1_000 {
                    assert_eq!(settings(), [1, 2, 3]);
                }
            });
        }
    });
    let stats = settings::stats();
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(
        (stats.misses, stats.hits),
        (1, 3_999),
        "hits + misses must equal the calls: {stats:?}"
    );
    // Past the first calls, hits come from the thread's own entry; `trace`
    // still sees each of them.
    let ((), records) = cache_runtime::trace(|| {
        for _ in 0..3 {
            settings();
        }
    });
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(
        records
            .iter()
            .all(|record| record.outcome == cache_runtime::Outcome::Hit),
        "{records:?}"
    );
    assert_eq!(settings::stats().hits, 4_002);
}
