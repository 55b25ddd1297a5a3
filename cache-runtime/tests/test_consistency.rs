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
//! The stress tests run for [`common::DURATION`] each, in parallel; the global clear
//! (`cache_data::clear()`) has its own binary, `test_consistency_global.rs`, so
//! that it cannot disturb the exact counts asserted here.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use cache_runtime::{cache_data, cache_resource};
use common::{Clearing, Race, block_on, stress};

/// How long any wait for another thread may take before the test fails
/// (generous: the machine may be loaded).
const PATIENCE: Duration = Duration::from_secs(30);

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

/// Joins a thread, failing the test if it does not finish within [`PATIENCE`].
fn join<T>(handle: thread::JoinHandle<T>) -> T {
    wait_until("a caller thread to finish", || handle.is_finished());
    handle.join().expect("the caller thread panicked")
}

// ---------------------------------------------------------------------------
// 1. A clear always wins (stress)
// ---------------------------------------------------------------------------

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

/// The state of a function whose body counts its runs per key and, for key 1,
/// waits at a gate.
struct PerKey {
    gate: Gate,
    runs: [AtomicUsize; 3],
}

impl PerKey {
    const fn new() -> Self {
        PerKey {
            gate: Gate::new(),
            runs: [const { AtomicUsize::new(0) }; 3],
        }
    }

    /// The body: `k * 10`, after waiting at the gate for key 1.
    fn body(&self, k: u64) -> u64 {
        self.runs[k as usize].fetch_add(1, SeqCst);
        if k == 1 {
            self.gate.pass();
        }
        k * 10
    }

    /// `call` runs [`body`](Self::body): invalidating key 2 while key 1 is
    /// computed must not stop key 1's value from being stored.
    fn expect_invalidating_key_2_to_spare_key_1(
        &'static self,
        call: fn(u64) -> u64,
        invalidate: fn(u64) -> bool,
    ) {
        call(2);
        let owner = thread::spawn(move || call(1));
        self.gate.wait_entered(1);
        assert!(invalidate(2), "key 2 was cached");
        self.gate.open();
        assert_eq!(join(owner), 10);
        assert_eq!(call(1), 10);
        assert_eq!(
            self.runs[1].load(SeqCst),
            1,
            "invalidating key 2 must not stop key 1's computation from being stored"
        );
    }
}

#[test]
fn invalidating_another_key_keeps_a_computation_in_flight() {
    static STATE: PerKey = PerKey::new();
    #[cache_data]
    fn per_key(k: u64) -> u64 {
        STATE.body(k)
    }
    STATE.expect_invalidating_key_2_to_spare_key_1(per_key, per_key::invalidate);
    assert_eq!(per_key::stats().hits, 1, "{:?}", per_key::stats());
}

#[test]
fn invalidating_another_key_keeps_an_async_computation_in_flight() {
    static STATE: PerKey = PerKey::new();
    #[cache_data]
    async fn per_key(k: u64) -> u64 {
        STATE.body(k)
    }
    STATE.expect_invalidating_key_2_to_spare_key_1(|k| block_on(per_key(k)), per_key::invalidate);
}

// ---------------------------------------------------------------------------
// 3. A clear during a computation
// ---------------------------------------------------------------------------

/// The state of a function whose body returns its run number and, on its
/// first run, waits at a gate.
struct Numbered {
    gate: Gate,
    runs: AtomicU64,
}

impl Numbered {
    const fn new() -> Self {
        Numbered {
            gate: Gate::new(),
            runs: AtomicU64::new(0),
        }
    }

    /// The body (sync): the run number, after waiting at the gate on the first run.
    fn body(&self) -> u64 {
        let run = self.runs.fetch_add(1, SeqCst) + 1;
        if run == 1 {
            self.gate.pass();
        }
        run
    }

    /// The body (async): as [`body`](Self::body), yielding at the gate.
    async fn body_async(&self) -> u64 {
        let run = self.runs.fetch_add(1, SeqCst) + 1;
        if run == 1 {
            self.gate.pass_async().await;
        }
        run
    }

    /// Starts the first computation of key 1 on another thread (`call` runs
    /// [`body`](Self::body)), then clears while it waits at the gate.
    fn clear_during_the_first_run(
        &'static self,
        call: fn(u64) -> u64,
        clear: fn(),
    ) -> thread::JoinHandle<u64> {
        let owner = thread::spawn(move || call(1));
        self.gate.wait_entered(1);
        clear();
        owner
    }

    /// A call that starts after the clear returned, while the old computation
    /// is in flight, may wait for it, but must not be handed its value.
    fn expect_a_late_call_to_recompute(&'static self, call: fn(u64) -> u64, clear: fn()) {
        let owner = self.clear_during_the_first_run(call, clear);
        let late = thread::spawn(move || call(1));
        thread::sleep(Duration::from_millis(100));
        self.gate.open();
        assert_eq!(join(owner), 1, "the owner gets the value it computed");
        assert_eq!(
            join(late),
            2,
            "a call that started after clear() returned got the value computed before it"
        );
        assert_eq!(call(1), 2, "the fresh value is stored");
        assert_eq!(self.runs.load(SeqCst), 2);
    }
}

#[test]
fn a_clear_during_a_computation_is_not_undone_by_it() {
    static STATE: Numbered = Numbered::new();
    #[cache_data]
    fn numbered(k: u64) -> u64 {
        let _ = k;
        STATE.body()
    }
    let owner = STATE.clear_during_the_first_run(numbered, numbered::clear);
    STATE.gate.open();
    assert_eq!(join(owner), 1, "the owner gets the value it computed");
    assert_eq!(
        numbered(1),
        2,
        "the value computed across the clear was not stored: the next call recomputes"
    );
    assert_eq!(numbered(1), 2, "and that value is stored");
    assert_eq!(STATE.runs.load(SeqCst), 2);
}

#[test]
fn a_call_that_starts_after_a_clear_never_gets_the_old_value() {
    static STATE: Numbered = Numbered::new();
    #[cache_data]
    fn numbered(k: u64) -> u64 {
        let _ = k;
        STATE.body()
    }
    STATE.expect_a_late_call_to_recompute(numbered, numbered::clear);
}

#[test]
fn a_clear_during_an_async_computation_is_not_undone_by_it() {
    static STATE: Numbered = Numbered::new();
    #[cache_data]
    async fn numbered(k: u64) -> u64 {
        let _ = k;
        STATE.body()
    }
    STATE.expect_a_late_call_to_recompute(|k| block_on(numbered(k)), numbered::clear);
}

// ---------------------------------------------------------------------------
// 4. An async waiter after a clear
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_waiter_recomputes_after_a_clear_and_stores_its_value() {
    static STATE: Numbered = Numbered::new();
    #[cache_data]
    async fn fetch(k: u64) -> u64 {
        let _ = k;
        STATE.body_async().await
    }
    let a = tokio::spawn(fetch(1));
    STATE.gate.wait_entered_async(1).await;
    // B finds A's computation in flight and waits for it.
    let b = tokio::spawn(fetch(1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    fetch::clear();
    STATE.gate.open();
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
    assert_eq!(STATE.runs.load(SeqCst), 2, "{:?}", fetch::stats());
}

// ---------------------------------------------------------------------------
// 5. A failing validate runs once
// ---------------------------------------------------------------------------

/// A resource that is neither `Clone` nor `Serialize`; it knows the [`Probe`]
/// that opened it, so one `validate` and one `on_release` serve every test.
#[derive(Debug)]
struct Conn {
    id: usize,
    probe: &'static Probe,
}

/// The `validate` of every resource here: asks the value's probe.
fn check(conn: &Conn) -> bool {
    conn.probe.check(conn)
}

/// The `on_release` of every resource here: tells the value's probe.
fn release(conn: &Conn) {
    conn.probe.release(conn);
}

/// What a resource test observes: whether `validate` passes, how often it ran,
/// how many values were opened, which were released.
#[derive(Debug)]
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
    fn open(&'static self) -> Conn {
        Conn {
            id: self.opened.fetch_add(1, SeqCst),
            probe: self,
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
    #[cache_resource(validate = check, on_release = release)]
    fn connection() -> Conn {
        PROBE.open()
    }
    PROBE.expect_one_check_per_failing_call(&connection);
}

#[test]
fn a_failing_validate_runs_once_with_an_argument() {
    static PROBE: Probe = Probe::new();
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
    #[cache_resource(validate = check, on_release = release)]
    async fn connection() -> Conn {
        PROBE.open()
    }
    PROBE.expect_one_check_per_failing_call(&|| block_on(connection()));
}
