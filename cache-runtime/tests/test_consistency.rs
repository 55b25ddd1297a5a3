//! Consistency of `clear()` / `invalidate()` with computations in flight: a
//! clear always wins, and it only touches what it names.
//!
//! - Once `f::clear()` (or `f::invalidate(k)` for key `k`) has returned, no
//!   caller is ever served a value whose computation started before it, not
//!   even by joining that computation as a waiter. The computation still
//!   returns its value to the caller that ran it (and to callers that were
//!   already waiting for it before the clear), but does not store it.
//! - Invalidating one key leaves the computations of the other keys alone:
//!   they are stored as usual.
//! - A value computed by a call that started after the clear *is* stored.
//! - A `validate` that fails is called once for that call, and the value it
//!   rejected is released once.
//!
//! The stress tests run for [`DURATION`] each, in parallel; the global clear
//! (`cache_data::clear()`) has its own binary, `test_consistency_global.rs`, so
//! that it cannot disturb the exact counts asserted here.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use cache_runtime::{Stats, cache_data, cache_resource};

/// How long each stress test hammers its cache.
const DURATION: Duration = Duration::from_secs(5);

/// How long any wait for another thread may take before the test fails
/// (generous: the machine may be loaded).
const PATIENCE: Duration = Duration::from_secs(30);

/// Keys used by the stress tests.
const KEYS: u64 = 4;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Polls `done` every millisecond; panics after [`PATIENCE`].
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A gate a function body waits at until the test opens it, so the test
/// controls exactly when a computation finishes.
struct Gate {
    entered: AtomicUsize,
    open: AtomicBool,
}

impl Gate {
    const fn new() -> Self {
        Gate {
            entered: AtomicUsize::new(0),
            open: AtomicBool::new(false),
        }
    }

    /// Called by a body (sync): blocks this thread until the gate is open.
    fn pass(&self) {
        self.entered.fetch_add(1, SeqCst);
        wait_until("the test to open the gate", || self.open.load(SeqCst));
    }

    /// Called by a body (async): yields to the executor until the gate is open.
    async fn pass_async(&self) {
        self.entered.fetch_add(1, SeqCst);
        let deadline = Instant::now() + PATIENCE;
        while !self.open.load(SeqCst) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the test to open the gate"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Blocks until `n` bodies have reached the gate.
    fn wait_entered(&self, n: usize) {
        wait_until("a body to reach the gate", || {
            self.entered.load(SeqCst) >= n
        });
    }

    /// Waits (async) until `n` bodies have reached the gate.
    async fn wait_entered_async(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.entered.load(SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for a body to reach the gate"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn open(&self) {
        self.open.store(true, SeqCst);
    }
}

/// A minimal executor (as in `test_concurrency.rs`): the async functions here
/// must work without any runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    struct ThreadWaker(thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

/// Joins a thread, failing the test if it does not finish within [`PATIENCE`].
fn join<T>(handle: thread::JoinHandle<T>) -> T {
    wait_until("a caller thread to finish", || handle.is_finished());
    handle.join().expect("the caller thread panicked")
}

// ---------------------------------------------------------------------------
// 1. A clear always wins (stress)
// ---------------------------------------------------------------------------

/// The shared state of one stress run: the sequence number every body reads,
/// and per key the lowest value a call that starts now may return.
struct Race {
    seq: AtomicU64,
    floors: [AtomicU64; KEYS as usize],
    noise: AtomicU64,
}

impl Race {
    const fn new() -> Self {
        Race {
            seq: AtomicU64::new(0),
            floors: [const { AtomicU64::new(0) }; KEYS as usize],
            noise: AtomicU64::new(0),
        }
    }

    /// A cheap pseudo-random number (splitmix64), to vary the timing.
    fn noise(&self) -> u64 {
        let mut x = self.noise.fetch_add(0x9E37_79B9_7F4A_7C15, SeqCst);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    /// The body of every stress function: reads the sequence number when it
    /// starts, then lingers a little to widen the race window.
    fn body(&self) -> u64 {
        let seen = self.seq.load(SeqCst);
        thread::yield_now();
        thread::sleep(Duration::from_micros(self.noise() % 200));
        seen
    }
}

/// How the clearer thread clears.
enum Clearing {
    /// `f::clear()`: publishes one floor for every key.
    Function(fn()),
    /// `f::invalidate(k)` for each key in turn, publishing that key's floor
    /// as soon as its invalidate returned.
    EachKey(fn(u64)),
}

/// Three readers call `call(k)` on random keys while one clearer clears in a
/// loop, for [`DURATION`]. The clearer bumps the sequence number *before*
/// clearing, so a body that started after the bump reads the new number; once
/// the clear returned, a value read before the bump must never be served.
fn stress(
    what: &str,
    race: &'static Race,
    call: fn(u64) -> u64,
    clearing: Clearing,
    stats: fn() -> Stats,
) {
    const READERS: usize = 3;
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let (mut reads, mut stale, mut first_stale) = (0u64, 0u64, None);
                while !stop.load(SeqCst) {
                    let key = race.noise() % KEYS;
                    let floor = race.floors[key as usize].load(SeqCst);
                    let value = call(key);
                    reads += 1;
                    if value < floor {
                        stale += 1;
                        first_stale.get_or_insert((key, value, floor));
                    }
                }
                (reads, stale, first_stale)
            })
        })
        .collect();
    let clearer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut clears = 0u64;
            while !stop.load(SeqCst) {
                let seq = race.seq.fetch_add(1, SeqCst) + 1;
                match clearing {
                    Clearing::Function(clear) => {
                        clear();
                        for floor in &race.floors {
                            floor.store(seq, SeqCst);
                        }
                    }
                    Clearing::EachKey(invalidate) => {
                        for key in 0..KEYS {
                            invalidate(key);
                            race.floors[key as usize].store(seq, SeqCst);
                        }
                    }
                }
                clears += 1;
                // Let some values live long enough to be hit.
                thread::sleep(Duration::from_micros(race.noise() % 500));
            }
            clears
        })
    };
    thread::sleep(DURATION);
    stop.store(true, SeqCst);
    let clears = clearer.join().expect("the clearer panicked");
    let (mut reads, mut stale, mut first_stale) = (0, 0, None);
    for reader in readers {
        let (r, s, first) = reader.join().expect("a reader panicked");
        reads += r;
        stale += s;
        first_stale = first_stale.or(first);
    }
    let stats = stats();
    eprintln!("{what}: {reads} reads, {clears} clears, {stale} stale, {stats:?}");
    assert_eq!(
        stale,
        0,
        "{what}: {stale} of {reads} reads returned a value computed before a clear that had \
         already returned (first: {}); {clears} clears, {stats:?}",
        first_stale.map_or_else(String::new, |(key, value, floor)| format!(
            "key {key} returned {value}, floor {floor}"
        )),
    );
    assert!(
        clears > 100,
        "{what}: the clearer barely ran ({clears} clears)"
    );
    assert!(
        stats.hits > 0,
        "{what}: the stress never hit the cache: {stats:?}"
    );
    assert!(
        stats.misses > 100,
        "{what}: the stress barely missed: {stats:?}"
    );
}

#[test]
fn a_function_clear_always_wins() {
    static RACE: Race = Race::new();
    #[cache_data]
    fn raced(k: u64) -> u64 {
        let _ = k;
        RACE.body()
    }
    stress(
        "f::clear()",
        &RACE,
        raced,
        Clearing::Function(raced::clear),
        raced::stats,
    );
}

#[test]
fn an_invalidate_always_wins() {
    static RACE: Race = Race::new();
    #[cache_data]
    fn raced(k: u64) -> u64 {
        let _ = k;
        RACE.body()
    }
    stress(
        "f::invalidate(k)",
        &RACE,
        raced,
        Clearing::EachKey(|k| {
            raced::invalidate(k);
        }),
        raced::stats,
    );
}

#[test]
fn an_async_function_clear_always_wins() {
    static RACE: Race = Race::new();
    #[cache_data]
    async fn raced(k: u64) -> u64 {
        let _ = k;
        RACE.body()
    }
    stress(
        "async f::clear()",
        &RACE,
        |k| block_on(raced(k)),
        Clearing::Function(raced::clear),
        raced::stats,
    );
}

// ---------------------------------------------------------------------------
// 2. Per-key generations: invalidating one key spares the others
// ---------------------------------------------------------------------------

#[test]
fn invalidating_another_key_keeps_a_computation_in_flight() {
    static GATE: Gate = Gate::new();
    static RUNS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
    #[cache_data]
    fn per_key(k: u64) -> u64 {
        RUNS[k as usize].fetch_add(1, SeqCst);
        if k == 1 {
            GATE.pass();
        }
        k * 10
    }
    per_key(2);
    let owner = thread::spawn(|| per_key(1));
    GATE.wait_entered(1);
    assert!(per_key::invalidate(2), "key 2 was cached");
    GATE.open();
    assert_eq!(join(owner), 10);
    assert_eq!(per_key(1), 10);
    assert_eq!(
        RUNS[1].load(SeqCst),
        1,
        "invalidating key 2 must not stop key 1's computation from being stored"
    );
    assert_eq!(per_key::stats().hits, 1, "{:?}", per_key::stats());
}

#[test]
fn invalidating_another_key_keeps_an_async_computation_in_flight() {
    static GATE: Gate = Gate::new();
    static RUNS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
    #[cache_data]
    async fn per_key(k: u64) -> u64 {
        RUNS[k as usize].fetch_add(1, SeqCst);
        if k == 1 {
            GATE.pass();
        }
        k * 10
    }
    block_on(per_key(2));
    let owner = thread::spawn(|| block_on(per_key(1)));
    GATE.wait_entered(1);
    assert!(per_key::invalidate(2), "key 2 was cached");
    GATE.open();
    assert_eq!(join(owner), 10);
    assert_eq!(block_on(per_key(1)), 10);
    assert_eq!(
        RUNS[1].load(SeqCst),
        1,
        "invalidating key 2 must not stop key 1's computation from being stored"
    );
}

// ---------------------------------------------------------------------------
// 3. A clear during a computation
// ---------------------------------------------------------------------------

#[test]
fn a_clear_during_a_computation_is_not_undone_by_it() {
    static GATE: Gate = Gate::new();
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn numbered(k: u64) -> u64 {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        if run == 1 {
            GATE.pass();
        }
        let _ = k;
        run
    }
    let owner = thread::spawn(|| numbered(1));
    GATE.wait_entered(1);
    numbered::clear();
    GATE.open();
    assert_eq!(join(owner), 1, "the owner gets the value it computed");
    assert_eq!(
        numbered(1),
        2,
        "the value computed across the clear was not stored: the next call recomputes"
    );
    assert_eq!(numbered(1), 2, "and that value is stored");
    assert_eq!(RUNS.load(SeqCst), 2);
}

#[test]
fn a_call_that_starts_after_a_clear_never_gets_the_old_value() {
    static GATE: Gate = Gate::new();
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    fn numbered(k: u64) -> u64 {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        if run == 1 {
            GATE.pass();
        }
        let _ = k;
        run
    }
    let owner = thread::spawn(|| numbered(1));
    GATE.wait_entered(1);
    numbered::clear();
    // Starts after the clear returned, while the old computation is in flight:
    // it may wait for it, but must not be handed its value.
    let late = thread::spawn(|| numbered(1));
    thread::sleep(Duration::from_millis(100));
    GATE.open();
    assert_eq!(join(owner), 1, "the owner gets the value it computed");
    assert_eq!(
        join(late),
        2,
        "a call that started after clear() returned got the value computed before it"
    );
    assert_eq!(numbered(1), 2, "the fresh value is stored");
    assert_eq!(RUNS.load(SeqCst), 2);
}

#[test]
fn a_clear_during_an_async_computation_is_not_undone_by_it() {
    static GATE: Gate = Gate::new();
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    async fn numbered(k: u64) -> u64 {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        if run == 1 {
            GATE.pass();
        }
        let _ = k;
        run
    }
    let owner = thread::spawn(|| block_on(numbered(1)));
    GATE.wait_entered(1);
    numbered::clear();
    let late = thread::spawn(|| block_on(numbered(1)));
    thread::sleep(Duration::from_millis(100));
    GATE.open();
    assert_eq!(join(owner), 1, "the owner gets the value it computed");
    assert_eq!(
        join(late),
        2,
        "a call that started after clear() returned got the value computed before it"
    );
    assert_eq!(block_on(numbered(1)), 2, "the fresh value is stored");
    assert_eq!(RUNS.load(SeqCst), 2);
}

// ---------------------------------------------------------------------------
// 4. An async waiter after a clear
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_waiter_recomputes_after_a_clear_and_stores_its_value() {
    static GATE: Gate = Gate::new();
    static RUNS: AtomicU64 = AtomicU64::new(0);
    #[cache_data]
    async fn fetch(k: u64) -> u64 {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        if run == 1 {
            GATE.pass_async().await;
        }
        let _ = k;
        run
    }
    let a = tokio::spawn(fetch(1));
    GATE.wait_entered_async(1).await;
    // B finds A's computation in flight and waits for it.
    let b = tokio::spawn(fetch(1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    fetch::clear();
    GATE.open();
    let a = tokio::time::timeout(PATIENCE, a)
        .await
        .expect("A finished")
        .unwrap();
    let b = tokio::time::timeout(PATIENCE, b)
        .await
        .expect("B finished")
        .unwrap();
    assert_eq!(a, 1, "A gets the value it computed");
    assert_eq!(b, 2, "B does not get the value computed before the clear");
    assert_eq!(
        fetch(1).await,
        2,
        "B's value was computed after the clear, so it is stored: a third call hits"
    );
    assert_eq!(RUNS.load(SeqCst), 2, "{:?}", fetch::stats());
}

// ---------------------------------------------------------------------------
// 5. A failing validate runs once
// ---------------------------------------------------------------------------

/// A resource that is neither `Clone` nor `Serialize`.
#[derive(Debug)]
struct Conn {
    id: usize,
}

/// What a resource test observes: whether `validate` passes, how often it ran,
/// how many values were opened, which were released.
struct Probe {
    valid: AtomicBool,
    checks: AtomicUsize,
    opened: AtomicUsize,
    released: Mutex<Vec<usize>>,
}

impl Probe {
    const fn new() -> Self {
        Probe {
            valid: AtomicBool::new(true),
            checks: AtomicUsize::new(0),
            opened: AtomicUsize::new(0),
            released: Mutex::new(Vec::new()),
        }
    }
    fn check(&self, _: &Conn) -> bool {
        self.checks.fetch_add(1, SeqCst);
        self.valid.load(SeqCst)
    }
    fn release(&self, conn: &Conn) {
        self.released.lock().unwrap().push(conn.id);
    }
    fn open(&self) -> Conn {
        Conn {
            id: self.opened.fetch_add(1, SeqCst),
        }
    }
    fn released(&self) -> Vec<usize> {
        self.released.lock().unwrap().clone()
    }

    /// `call` is a resource with `validate = check, on_release = release`.
    fn expect_one_check_per_failing_call(&self, call: &dyn Fn() -> Arc<Conn>) {
        let first = call();
        assert!(Arc::ptr_eq(&first, &call()), "a valid hit shares the value");
        let before = self.checks.load(SeqCst);
        self.valid.store(false, SeqCst);
        let second = call();
        assert_eq!(
            self.checks.load(SeqCst) - before,
            1,
            "one call whose cached value fails `validate` calls it exactly once"
        );
        self.valid.store(true, SeqCst);
        assert!(
            !Arc::ptr_eq(&first, &second),
            "the rejected value is replaced"
        );
        assert_eq!(self.opened.load(SeqCst), 2);
        assert_eq!(
            self.released(),
            [first.id],
            "the rejected value is released exactly once"
        );
        assert!(Arc::ptr_eq(&second, &call()), "the replacement is cached");
        assert_eq!(self.released(), [first.id]);
    }
}

#[test]
fn a_failing_validate_runs_once_without_arguments() {
    static PROBE: Probe = Probe::new();
    fn check(conn: &Conn) -> bool {
        PROBE.check(conn)
    }
    fn release(conn: &Conn) {
        PROBE.release(conn);
    }
    #[cache_resource(validate = check, on_release = release)]
    fn connection() -> Conn {
        PROBE.open()
    }
    PROBE.expect_one_check_per_failing_call(&connection);
}

#[test]
fn a_failing_validate_runs_once_with_an_argument() {
    static PROBE: Probe = Probe::new();
    fn check(conn: &Conn) -> bool {
        PROBE.check(conn)
    }
    fn release(conn: &Conn) {
        PROBE.release(conn);
    }
    #[cache_resource(validate = check, on_release = release)]
    fn connection(url: &str) -> Conn {
        let _ = url;
        PROBE.open()
    }
    PROBE.expect_one_check_per_failing_call(&|| connection("db://a"));
}

#[test]
fn a_failing_validate_runs_once_for_an_async_resource() {
    static PROBE: Probe = Probe::new();
    fn check(conn: &Conn) -> bool {
        PROBE.check(conn)
    }
    fn release(conn: &Conn) {
        PROBE.release(conn);
    }
    #[cache_resource(validate = check, on_release = release)]
    async fn connection() -> Conn {
        PROBE.open()
    }
    PROBE.expect_one_check_per_failing_call(&|| block_on(connection()));
}
