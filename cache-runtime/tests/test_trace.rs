//! `trace` and `trace_async` record where each cached call's value came from
//! (memory, a computation, the disk, a concurrent caller, no cache at all),
//! for the calls made by the traced code only; `observe::subscribe` delivers
//! the same events, and the start of every computation, to an observer.

mod common;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use cache_runtime::observe::{self, ComputeStart, Observer, Subscription};
use cache_runtime::{CallRecord, Kind, Outcome, cache_data, cache_resource, trace, trace_async};
use common::{Yield, block_on, fresh_temp_dir};
use serde::{Serialize, Serializer};

/// The last segment of a recorded function's name.
fn short(function: &str) -> &str {
    function.rsplit("::").next().unwrap_or(function)
}

/// Each record's function (short name) and outcome, in order.
fn outcomes(calls: &[CallRecord]) -> Vec<(&str, Outcome)> {
    calls
        .iter()
        .map(|call| (short(call.function), call.outcome))
        .collect()
}

#[test]
fn a_miss_then_a_hit() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn square(x: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        x * x
    }
    let (value, calls) = trace(|| square(3) + square(3));
    assert_eq!(value, 18);
    assert_eq!(
        outcomes(&calls),
        [("square", Outcome::Miss), ("square", Outcome::Hit)]
    );
    assert_eq!(CALLS.load(SeqCst), 1);
    for call in &calls {
        assert_eq!(call.function, "test_trace::square");
        assert_eq!(call.kind, Kind::Data);
        assert_eq!(call.depth, 0);
    }
}

#[test]
fn a_trace_without_cached_calls_records_nothing() {
    let (value, calls) = trace(|| 40 + 2);
    assert_eq!(value, 42);
    assert!(calls.is_empty());
}

#[test]
fn a_miss_lasts_at_least_as_long_as_its_body() {
    #[cache_data]
    fn sleepy(x: u64) -> u64 {
        thread::sleep(Duration::from_millis(30));
        x
    }
    let (_, calls) = trace(|| sleepy(1));
    assert_eq!(outcomes(&calls), [("sleepy", Outcome::Miss)]);
    assert!(
        calls[0].duration >= Duration::from_millis(30),
        "{:?}",
        calls[0].duration
    );
}

#[test]
fn nested_calls_are_recorded_inner_first_with_their_depth() {
    #[cache_data]
    fn nested_inner(x: u64) -> u64 {
        x + 1
    }
    #[cache_data]
    fn nested_outer(x: u64) -> u64 {
        nested_inner(x) * 2
    }
    let (value, calls) = trace(|| nested_outer(1));
    assert_eq!(value, 4);
    assert_eq!(
        outcomes(&calls),
        [
            ("nested_inner", Outcome::Miss),
            ("nested_outer", Outcome::Miss)
        ]
    );
    let depths: Vec<usize> = calls.iter().map(|call| call.depth).collect();
    assert_eq!(
        depths,
        [1, 0],
        "the inner call runs inside one computation, the outer one inside none"
    );

    // A hit on the outer function runs nothing inside it.
    let (_, calls) = trace(|| nested_outer(1));
    assert_eq!(outcomes(&calls), [("nested_outer", Outcome::Hit)]);
    assert_eq!(calls[0].depth, 0);

    // A new outer key hits the inner entry from inside its computation.
    let (_, calls) = trace(|| nested_outer(1) + nested_inner(2) + nested_outer(2));
    assert_eq!(
        outcomes(&calls),
        [
            ("nested_outer", Outcome::Hit),
            ("nested_inner", Outcome::Miss),
            ("nested_inner", Outcome::Hit),
            ("nested_outer", Outcome::Miss),
        ]
    );
    let depths: Vec<usize> = calls.iter().map(|call| call.depth).collect();
    assert_eq!(depths, [0, 0, 1, 0]);
}

#[test]
fn calls_made_on_other_threads_are_not_recorded() {
    static STOP: AtomicBool = AtomicBool::new(false);
    static NOISE: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn shared_by_threads(x: u64) -> u64 {
        x * 3
    }
    #[cache_data]
    fn only_other_thread(x: u64) -> u64 {
        x * 5
    }
    let noise = thread::spawn(|| {
        let mut i = 0;
        while !STOP.load(SeqCst) {
            // The same function as the traced code, and another one.
            shared_by_threads(i % 4);
            only_other_thread(i % 16);
            NOISE.fetch_add(1, SeqCst);
            i += 1;
        }
    });
    while NOISE.load(SeqCst) == 0 {
        thread::yield_now();
    }
    let (made, calls) = trace(|| {
        let noise_at_start = NOISE.load(SeqCst);
        let mut made = 0;
        // Keep calling until the other thread has made many calls meanwhile.
        while made < 50 || NOISE.load(SeqCst) < noise_at_start + 100 {
            shared_by_threads(made % 4);
            made += 1;
            if made % 16 == 0 {
                thread::yield_now();
            }
        }
        made
    });
    STOP.store(true, SeqCst);
    noise.join().unwrap();
    assert_eq!(
        calls.len() as u64,
        made,
        "exactly the traced thread's calls are recorded"
    );
    assert!(
        calls
            .iter()
            .all(|call| short(call.function) == "shared_by_threads")
    );
}

#[test]
fn a_caller_waiting_for_another_threads_computation_is_recorded_as_a_hit() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static STARTED: AtomicBool = AtomicBool::new(false);
    static RELEASE: AtomicBool = AtomicBool::new(false);
    #[cache_data]
    fn awaited(x: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        STARTED.store(true, SeqCst);
        while !RELEASE.load(SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        x * 10
    }
    let computing = thread::spawn(|| awaited(4));
    while !STARTED.load(SeqCst) {
        thread::yield_now();
    }
    // Lets the computation finish while the traced call waits for it.
    let releaser = thread::spawn(|| {
        thread::sleep(Duration::from_millis(100));
        RELEASE.store(true, SeqCst);
    });
    let (value, calls) = trace(|| awaited(4));
    releaser.join().unwrap();
    assert_eq!(computing.join().unwrap(), 40);
    assert_eq!(value, 40);
    assert_eq!(outcomes(&calls), [("awaited", Outcome::Hit)]);
    assert_eq!(CALLS.load(SeqCst), 1, "the traced call did not compute");
    let stats = awaited::stats();
    assert_eq!((stats.misses, stats.hits), (1, 1));
}

#[test]
fn err_results_are_recorded_as_misses() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn parse_number(text: &str) -> Result<u32, String> {
        CALLS.fetch_add(1, SeqCst);
        text.parse().map_err(|_| format!("not a number: {text}"))
    }
    let (_, calls) = trace(|| {
        assert!(parse_number("x").is_err());
        assert!(parse_number("x").is_err());
        assert_eq!(parse_number("7"), Ok(7));
        assert_eq!(parse_number("7"), Ok(7));
    });
    assert_eq!(
        outcomes(&calls),
        [
            ("parse_number", Outcome::Miss),
            ("parse_number", Outcome::Miss),
            ("parse_number", Outcome::Miss),
            ("parse_number", Outcome::Hit),
        ],
        "an `Err` is never stored: each one is a miss"
    );
    assert_eq!(CALLS.load(SeqCst), 3);
}

#[test]
fn a_panicking_cached_body_is_recorded_as_a_miss() {
    #[cache_data]
    fn explode(x: u64) -> u64 {
        if x == 0 {
            panic!("boom");
        }
        x
    }
    let (panicked, calls) = trace(|| catch_unwind(|| explode(0)).is_err());
    assert!(panicked);
    assert_eq!(
        outcomes(&calls),
        [("explode", Outcome::Miss)],
        "`CallRecord::outcome`: an `Err` or a panic is recorded as `Outcome::Miss` too"
    );
}

#[test]
fn a_panicking_async_body_is_recorded_as_a_miss() {
    use futures_util::FutureExt;
    /// Borrows its argument: the caller drives the computation.
    #[cache_data]
    async fn explode_borrowed(name: &str) -> usize {
        Yield(1).await;
        panic!("boom {name}");
    }
    /// Owns its argument: the computation is shared by the key's callers.
    #[cache_data]
    async fn explode_owned(name: String) -> usize {
        Yield(1).await;
        panic!("boom {name}");
    }
    let (panicked, calls) = block_on(trace_async(async {
        let borrowed = AssertUnwindSafe(explode_borrowed("a"))
            .catch_unwind()
            .await
            .is_err();
        let owned = AssertUnwindSafe(explode_owned("b".into()))
            .catch_unwind()
            .await
            .is_err();
        (borrowed, owned)
    }));
    assert_eq!(panicked, (true, true));
    assert_eq!(
        outcomes(&calls),
        [
            ("explode_borrowed", Outcome::Miss),
            ("explode_owned", Outcome::Miss)
        ],
        "`CallRecord::outcome`: an `Err` or a panic is recorded as `Outcome::Miss` too"
    );
}

/// A value whose `Serialize` always fails, so it cannot be part of a key.
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be serialized",
        ))
    }
}

#[test]
fn an_argument_that_cannot_be_serialized_is_recorded_as_uncached() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn describe(value: &Unserializable, n: u32) -> u32 {
        let _ = value;
        CALLS.fetch_add(1, SeqCst);
        n
    }
    let (_, calls) = trace(|| describe(&Unserializable, 1) + describe(&Unserializable, 1));
    assert_eq!(
        outcomes(&calls),
        [
            ("describe", Outcome::Uncached),
            ("describe", Outcome::Uncached)
        ]
    );
    assert_eq!(CALLS.load(SeqCst), 2, "the body ran without the cache");
    assert_eq!(describe::stats().uncacheable, 2);
}

#[test]
fn resource_calls_are_recorded_with_their_kind() {
    struct Pool {
        url: String,
    }
    #[cache_resource]
    fn pool(url: &str) -> Pool {
        Pool {
            url: url.to_owned(),
        }
    }
    let (url, calls) = trace(|| {
        let first = pool("db://a");
        let second = pool("db://a");
        assert!(Arc::ptr_eq(&first, &second));
        first.url.clone()
    });
    assert_eq!(url, "db://a");
    assert_eq!(
        outcomes(&calls),
        [("pool", Outcome::Miss), ("pool", Outcome::Hit)]
    );
    assert!(calls.iter().all(|call| call.kind == Kind::Resource));
}

#[test]
fn zero_argument_resources_are_recorded_on_their_fast_path() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    struct Registry {
        names: Vec<&'static str>,
    }
    #[cache_resource]
    fn global_registry() -> Registry {
        CALLS.fetch_add(1, SeqCst);
        Registry {
            names: vec!["a", "b"],
        }
    }
    let (len, calls) = trace(|| {
        global_registry().names.len()
            + global_registry().names.len()
            + global_registry().names.len()
    });
    assert_eq!(len, 6);
    assert_eq!(
        outcomes(&calls),
        [
            ("global_registry", Outcome::Miss),
            ("global_registry", Outcome::Hit),
            ("global_registry", Outcome::Hit),
        ]
    );
    assert!(calls.iter().all(|call| call.kind == Kind::Resource));
    assert_eq!(CALLS.load(SeqCst), 1);
}

#[test]
fn zero_argument_data_is_recorded() {
    #[cache_data]
    fn settings_table() -> Vec<String> {
        vec!["region=eu".into()]
    }
    let (_, calls) = trace(|| (settings_table(), settings_table()));
    assert_eq!(
        outcomes(&calls),
        [
            ("settings_table", Outcome::Miss),
            ("settings_table", Outcome::Hit)
        ]
    );
}

#[test]
fn a_trace_inside_a_trace_reports_to_both() {
    #[cache_data]
    fn layered(x: u64) -> u64 {
        x + 100
    }
    let (inner_calls, outer_calls) = trace(|| {
        layered(1);
        let (value, inner_calls) = trace(|| layered(2) + layered(1));
        assert_eq!(value, 203);
        layered(2);
        inner_calls
    });
    assert_eq!(
        outcomes(&inner_calls),
        [("layered", Outcome::Miss), ("layered", Outcome::Hit)]
    );
    assert_eq!(
        outcomes(&outer_calls),
        [
            ("layered", Outcome::Miss),
            ("layered", Outcome::Miss),
            ("layered", Outcome::Hit),
            ("layered", Outcome::Hit),
        ]
    );
}

#[test]
fn a_panicking_trace_body_leaves_the_next_trace_working() {
    #[cache_data]
    fn before_panic(x: u64) -> u64 {
        x
    }
    let result = catch_unwind(|| {
        trace(|| {
            before_panic(1);
            panic!("the traced code failed");
        })
    });
    assert!(result.is_err());

    let (_, calls) = trace(|| before_panic(1));
    assert_eq!(
        outcomes(&calls),
        [("before_panic", Outcome::Hit)],
        "only this trace's call: nothing left over from the panicked one"
    );

    // A panicking trace nested in another one leaves the outer one whole.
    let (_, outer) = trace(|| {
        let inner = catch_unwind(AssertUnwindSafe(|| {
            trace(|| {
                before_panic(2);
                panic!("the inner traced code failed");
            })
        }));
        assert!(inner.is_err());
        before_panic(3)
    });
    assert_eq!(
        outcomes(&outer),
        [
            ("before_panic", Outcome::Miss),
            ("before_panic", Outcome::Miss)
        ]
    );

    // And a later trace still sees only its own calls.
    let (_, calls) = trace(|| before_panic(2));
    assert_eq!(outcomes(&calls), [("before_panic", Outcome::Hit)]);
}

#[test]
fn a_value_loaded_from_disk_is_recorded_as_disk() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(persist = "disk")]
    fn traced_on_disk(x: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        x * 2
    }
    let dir = fresh_temp_dir("trace-test");
    cache_runtime::persist::configure(cache_runtime::persist::Settings::default().dir(&dir))
        .unwrap();

    let (_, calls) = trace(|| traced_on_disk(21));
    assert_eq!(outcomes(&calls), [("traced_on_disk", Outcome::Miss)]);
    // What a restarted process sees: memory empty, the record on disk.
    cache_runtime::__private::clear_memory("traced_on_disk");
    let (value, calls) = trace(|| (traced_on_disk(21), traced_on_disk(21)));
    assert_eq!(value, (42, 42));
    assert_eq!(
        outcomes(&calls),
        [
            ("traced_on_disk", Outcome::Disk),
            ("traced_on_disk", Outcome::Hit)
        ]
    );
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(traced_on_disk::stats().disk_hits, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

// --- trace_async ---

#[tokio::test]
async fn trace_async_on_tokio() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    async fn fetch_row(id: u64) -> String {
        CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        format!("row {id}")
    }
    let (rows, calls) = trace_async(async { (fetch_row(1).await, fetch_row(1).await) }).await;
    assert_eq!(rows, ("row 1".to_owned(), "row 1".to_owned()));
    assert_eq!(
        outcomes(&calls),
        [("fetch_row", Outcome::Miss), ("fetch_row", Outcome::Hit)]
    );
    assert!(
        calls[0].duration >= Duration::from_millis(20),
        "{:?}",
        calls[0].duration
    );
    assert_eq!(CALLS.load(SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trace_async_records_only_its_own_task_on_a_multi_thread_runtime() {
    #[cache_data]
    async fn fetch_shared(id: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        id
    }
    #[cache_data]
    async fn fetch_other(id: u64) -> u64 {
        tokio::task::yield_now().await;
        id
    }
    let stop = Arc::new(AtomicBool::new(false));
    let noise: Vec<_> = (0..4)
        .map(|n| {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(SeqCst) {
                    fetch_shared(i % 3).await;
                    fetch_other(n * 1000 + i % 7).await;
                    tokio::task::yield_now().await;
                    i += 1;
                }
            })
        })
        .collect();
    // Spawned: polled by whichever worker thread is free, maybe several.
    let traced = tokio::spawn(trace_async(async {
        let mut total = 0;
        for i in 0..20 {
            total += fetch_shared(100 + i % 2).await;
            tokio::task::yield_now().await;
        }
        total
    }));
    let (total, calls) = traced.await.unwrap();
    stop.store(true, SeqCst);
    for task in noise {
        task.await.unwrap();
    }
    assert_eq!(total, 10 * 100 + 10 * 101);
    assert_eq!(calls.len(), 20, "{:?}", outcomes(&calls));
    assert!(
        calls
            .iter()
            .all(|call| short(call.function) == "fetch_shared")
    );
    assert_eq!(
        calls
            .iter()
            .filter(|call| call.outcome == Outcome::Miss)
            .count(),
        2
    );
}

#[test]
fn trace_async_with_a_hand_written_executor() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    /// Borrows its argument: the caller drives the computation.
    #[cache_data]
    async fn greeting(name: &str) -> String {
        CALLS.fetch_add(1, SeqCst);
        Yield(3).await;
        format!("hello {name}")
    }
    /// Owns its argument: the computation is shared by the key's callers.
    #[cache_data]
    async fn owned_greeting(name: String) -> String {
        CALLS.fetch_add(1, SeqCst);
        Yield(3).await;
        format!("hi {name}")
    }
    let (greetings, calls) = block_on(trace_async(async {
        let a = greeting("ada").await;
        let b = greeting("ada").await;
        let c = owned_greeting("bob".into()).await;
        let d = owned_greeting("bob".into()).await;
        [a, b, c, d]
    }));
    assert_eq!(greetings, ["hello ada", "hello ada", "hi bob", "hi bob"]);
    assert_eq!(
        outcomes(&calls),
        [
            ("greeting", Outcome::Miss),
            ("greeting", Outcome::Hit),
            ("owned_greeting", Outcome::Miss),
            ("owned_greeting", Outcome::Hit),
        ]
    );
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[test]
fn trace_async_records_a_call_that_suspends_across_polls() {
    let polls = Arc::new(AtomicUsize::new(0));
    #[cache_data]
    async fn suspending(x: u64) -> u64 {
        Yield(5).await;
        x + 1
    }
    let traced = trace_async(async { suspending(1).await });
    let (value, calls) = block_on(CountPolls {
        inner: Box::pin(traced),
        polls: Arc::clone(&polls),
    });
    assert_eq!(value, 2);
    assert!(polls.load(SeqCst) > 1, "the call was suspended");
    assert_eq!(outcomes(&calls), [("suspending", Outcome::Miss)]);
    assert_eq!(calls[0].depth, 0);
}

#[test]
fn trace_async_records_nested_async_calls_inner_first() {
    #[cache_data]
    async fn async_inner(x: u64) -> u64 {
        Yield(2).await;
        x + 1
    }
    #[cache_data]
    async fn async_outer(x: u64) -> u64 {
        Yield(1).await;
        async_inner(x).await * 2
    }
    let (value, calls) = block_on(trace_async(async_outer(1)));
    assert_eq!(value, 4);
    assert_eq!(
        outcomes(&calls),
        [
            ("async_inner", Outcome::Miss),
            ("async_outer", Outcome::Miss)
        ]
    );
    let depths: Vec<usize> = calls.iter().map(|call| call.depth).collect();
    assert_eq!(depths, [1, 0]);
}

#[test]
fn async_err_results_are_recorded_as_misses() {
    #[cache_data]
    async fn async_parse(text: String) -> Result<u32, String> {
        Yield(1).await;
        text.parse().map_err(|_| text.clone())
    }
    let (_, calls) = block_on(trace_async(async {
        assert!(async_parse("x".into()).await.is_err());
        assert!(async_parse("x".into()).await.is_err());
    }));
    assert_eq!(
        outcomes(&calls),
        [
            ("async_parse", Outcome::Miss),
            ("async_parse", Outcome::Miss)
        ]
    );
}

// --- observers ---

/// Collects the events of the functions it is interested in (other tests run
/// concurrently in this process, and an observer sees every call).
#[derive(Clone, Default)]
struct Recorder {
    names: &'static [&'static str],
    started: Arc<Mutex<Vec<ComputeStart>>>,
    finished: Arc<Mutex<Vec<CallRecord>>>,
}

impl Recorder {
    fn new(names: &'static [&'static str]) -> Self {
        Self {
            names,
            ..Self::default()
        }
    }

    fn started(&self) -> Vec<(&'static str, bool)> {
        self.started
            .lock()
            .unwrap()
            .iter()
            .map(|start| (short(start.function), start.has_arguments))
            .collect()
    }

    fn finished(&self) -> Vec<(&'static str, Outcome)> {
        self.finished
            .lock()
            .unwrap()
            .iter()
            .map(|record| (short(record.function), record.outcome))
            .collect()
    }

    fn wants(&self, function: &str) -> bool {
        self.names.contains(&short(function))
    }
}

impl Observer for Recorder {
    fn compute_started(&self, start: &ComputeStart) {
        if self.wants(start.function) {
            self.started.lock().unwrap().push(start.clone());
        }
    }
    fn call_finished(&self, record: &CallRecord) {
        if self.wants(record.function) {
            self.finished.lock().unwrap().push(record.clone());
        }
    }
}

#[test]
fn an_observer_sees_each_computation_start_and_each_call() {
    #[cache_data]
    fn observed_square(x: u64) -> u64 {
        x * x
    }
    #[cache_data]
    fn observed_config() -> String {
        "eu".into()
    }
    let recorder = Recorder::new(&["observed_square", "observed_config"]);
    let subscription: Subscription = observe::subscribe(recorder.clone());

    observed_square(2);
    observed_square(2);
    observed_square(3);
    observed_config();
    observed_config();
    // An observer sees every thread's calls.
    thread::spawn(|| observed_square(4)).join().unwrap();

    assert_eq!(
        recorder.started(),
        [
            ("observed_square", true),
            ("observed_square", true),
            ("observed_config", false),
            ("observed_square", true),
        ],
        "once per miss, never on a hit; `has_arguments` is false for a zero-argument function"
    );
    assert_eq!(
        recorder.finished(),
        [
            ("observed_square", Outcome::Miss),
            ("observed_square", Outcome::Hit),
            ("observed_square", Outcome::Miss),
            ("observed_config", Outcome::Miss),
            ("observed_config", Outcome::Hit),
            ("observed_square", Outcome::Miss),
        ]
    );
    let starts = recorder.started.lock().unwrap().clone();
    assert!(
        starts
            .iter()
            .all(|start| start.kind == Kind::Data && start.depth == 0)
    );

    // Dropping the subscription stops delivery.
    drop(subscription);
    observed_square(5);
    observed_square(5);
    observed_config();
    assert_eq!(recorder.started().len(), 4);
    assert_eq!(recorder.finished().len(), 6);
}

#[test]
fn an_observer_sees_resources_and_nested_computations() {
    #[cache_resource]
    fn observed_client(region: &str) -> String {
        observed_lookup(region.len() as u64).to_string()
    }
    #[cache_data]
    fn observed_lookup(x: u64) -> u64 {
        x
    }
    let recorder = Recorder::new(&["observed_client", "observed_lookup"]);
    let _subscription = observe::subscribe(recorder.clone());
    observed_client("eu");
    observed_client("eu");
    let starts = recorder.started.lock().unwrap().clone();
    let described: Vec<_> = starts
        .iter()
        .map(|start| (short(start.function), start.kind, start.depth))
        .collect();
    assert_eq!(
        described,
        [
            ("observed_client", Kind::Resource, 0),
            ("observed_lookup", Kind::Data, 1),
        ]
    );
    assert_eq!(
        recorder.finished(),
        [
            ("observed_lookup", Outcome::Miss),
            ("observed_client", Outcome::Miss),
            ("observed_client", Outcome::Hit),
        ]
    );
}

#[test]
fn two_observers_and_a_trace_agree() {
    #[cache_data]
    fn agreed(x: u64) -> u64 {
        x
    }
    let first = Recorder::new(&["agreed"]);
    let second = Recorder::new(&["agreed"]);
    let _first = observe::subscribe(first.clone());
    let second_subscription = observe::subscribe(second.clone());
    let (_, calls) = trace(|| agreed(1) + agreed(1));
    drop(second_subscription);
    agreed(1);
    assert_eq!(
        outcomes(&calls),
        [("agreed", Outcome::Miss), ("agreed", Outcome::Hit)]
    );
    assert_eq!(
        second.finished(),
        outcomes(&calls),
        "an observer sees what the trace records"
    );
    assert_eq!(*second.finished.lock().unwrap(), calls, "the same records");
    assert_eq!(
        first.finished(),
        [
            ("agreed", Outcome::Miss),
            ("agreed", Outcome::Hit),
            ("agreed", Outcome::Hit)
        ],
        "the first observer is still subscribed"
    );
}

// --- futures for the executor (`common::block_on`) ---

/// Counts how many times its future is polled.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, SeqCst);
        self.inner.as_mut().poll(cx)
    }
}
