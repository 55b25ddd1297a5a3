//! The process-wide memory budget (`CACHE_RUNTIME_MAX_MEMORY`, or
//! `budget::set_max_memory`): the weights of all in-memory `cache_data`
//! entries stay within it after each store, least recently used first across
//! functions, each eviction counted as `evicted.budget`.
//!
//! The budget is resolved once per process, so every test here shares one
//! (4 KiB) and runs alone (`serial`).

use std::sync::{Mutex, MutexGuard, Once};

use cache_runtime::budget::{self, charged_bytes};
use cache_runtime::cache_data;

const BUDGET: u64 = 4096;

/// Sets the budget before the first cached call, and runs one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SET: Once = Once::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    SET.call_once(|| assert!(budget::set_max_memory(BUDGET)));
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    cache_runtime::cache_data::clear();
    guard
}

/// 1000 bytes, serialized as 1002 (a two-byte length).
fn kilobyte(seed: u32) -> Vec<u8> {
    vec![seed as u8; 1000]
}

#[test]
fn the_least_recently_used_entry_of_any_function_goes_first() {
    let _serial = serial();
    #[cache_data]
    fn rows(n: u32) -> Vec<u8> {
        kilobyte(n)
    }
    #[cache_data]
    fn frames(n: u32) -> Vec<u8> {
        kilobyte(n)
    }
    rows(1);
    rows(2);
    frames(1);
    assert_eq!(charged_bytes(), 3 * 1002);
    rows(1); // a hit: now more recent than rows(2) and frames(1)
    frames(2);
    assert_eq!(charged_bytes(), 4 * 1002);
    frames(3); // 5 × 1002 > 4096: the least recently used goes
    assert!(charged_bytes() <= BUDGET);
    assert_eq!(rows::stats().evicted.budget, 1);
    assert_eq!(rows::stats().evictions, 1);
    assert_eq!(frames::stats().evicted.budget, 0);
    let misses = rows::stats().misses;
    rows(1);
    assert_eq!(
        rows::stats().misses,
        misses,
        "rows(1) was used recently: kept"
    );
    rows(2);
    assert_eq!(
        rows::stats().misses,
        misses + 1,
        "rows(2) was the one evicted"
    );
    assert!(charged_bytes() <= BUDGET);
}

#[test]
fn a_value_heavier_than_the_budget_is_kept_alone() {
    let _serial = serial();
    #[cache_data]
    fn small(n: u32) -> Vec<u8> {
        kilobyte(n)
    }
    #[cache_data]
    fn huge(n: u32) -> Vec<u8> {
        vec![n as u8; 10_000]
    }
    small(1);
    small(2);
    huge(1);
    assert_eq!(charged_bytes(), BUDGET, "charged as the whole budget");
    assert_eq!(small::stats().entries, 0);
    assert_eq!(small::stats().evicted.budget, 2);
    assert_eq!(huge(1).len(), 10_000);
    assert_eq!(huge::stats().hits, 1, "it was stored");
    small(3);
    assert_eq!(
        huge::stats().evicted.budget,
        1,
        "and goes at the next store"
    );
}

#[test]
fn values_are_weighed_by_size_with_or_their_serialized_size_or_not_at_all() {
    let _serial = serial();
    #[allow(clippy::ptr_arg)] // `size_with` takes `fn(&T) -> usize`
    fn ten_per_byte(value: &Vec<u8>) -> usize {
        value.len() * 10
    }
    #[cache_data(size_with = ten_per_byte)]
    fn weighed(n: u32) -> Vec<u8> {
        vec![n as u8; 100]
    }
    #[derive(Clone)]
    struct Opaque(#[allow(dead_code)] Vec<u8>);
    #[cache_data]
    fn opaque(n: u32) -> Opaque {
        Opaque(kilobyte(n))
    }
    weighed(1);
    assert_eq!(charged_bytes(), 1000);
    for n in 0..10 {
        opaque(n);
    }
    assert_eq!(
        charged_bytes(),
        1000,
        "values that are not `Serialize` are not counted"
    );
    assert_eq!(opaque::stats().entries, 10);
}

#[test]
fn entries_that_leave_on_their_own_or_by_a_clear_are_discharged() {
    let _serial = serial();
    #[cache_data(ttl = "50ms")]
    fn fleeting(n: u32) -> Vec<u8> {
        kilobyte(n)
    }
    #[cache_data]
    fn cleared(n: u32) -> Vec<u8> {
        kilobyte(n)
    }
    fleeting(1);
    cleared(1);
    cleared(2);
    assert_eq!(charged_bytes(), 3 * 1002);
    cleared::invalidate(2);
    assert_eq!(charged_bytes(), 2 * 1002);
    cleared::clear();
    assert_eq!(charged_bytes(), 1002);
    // moka reaps an expired entry on its timer wheel (about a second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while fleeting::stats().entries > 0 {
        assert!(std::time::Instant::now() < deadline, "never reaped");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(charged_bytes(), 0);
    assert_eq!(fleeting::stats().evicted.ttl, 1);
}

#[test]
fn the_budget_is_set_once() {
    let _serial = serial();
    assert_eq!(budget::max_memory(), Some(BUDGET));
    assert!(
        !budget::set_max_memory(1 << 30),
        "too late: values were stored"
    );
    assert_eq!(budget::max_memory(), Some(BUDGET));
}

/// Runs this binary's `environment_child` test alone with `value` in the
/// environment; returns its output and whether it passed.
fn run_child(value: &str) -> (bool, String) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "environment_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(budget::MAX_MEMORY_VARIABLE, value)
        .env("BUDGET_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn the_environment_variable_sets_the_budget_and_a_bad_one_is_reported() {
    if std::env::var_os("BUDGET_CHILD").is_some() {
        return;
    }
    let (passed, output) = run_child("2KiB");
    assert!(passed, "{output}");
    assert!(output.contains("budget: Some(2048)"), "{output}");
    let (passed, output) = run_child("2 parsecs");
    assert!(passed, "a bad value is not a panic: {output}");
    assert!(output.contains("budget: None"), "{output}");
    assert!(output.contains("unknown unit `parsecs`"), "{output}");
}

/// The child of the test above (does nothing in a normal run).
#[test]
fn environment_child() {
    if std::env::var_os("BUDGET_CHILD").is_none() {
        return;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    println!("budget: {:?}", budget::max_memory());
    #[cache_data]
    fn blob(n: u32) -> Vec<u8> {
        kilobyte(n)
    }
    for n in 0..5 {
        blob(n);
    }
    assert!(charged_bytes() <= budget::max_memory().unwrap_or(u64::MAX));
}
