//! The cross-process suites of the Redis tier, run against one
//! `redis-server` (`persist_redis`) and a Redis Cluster
//! (`persist_redis_cluster`).

#![allow(dead_code, reason = "each test file uses part of the suite")]

use std::thread::sleep;
use std::time::{Duration, Instant};

use integration_tests::probe::{Process, run_once};

pub(crate) const PROBE: &str = env!("CARGO_BIN_EXE_persist_probe");

/// The environment of a probe using the Redis at `url`.
pub(crate) fn env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CACHE_RUNTIME_REDIS_URL", url.to_owned()),
        (
            "CACHE_RUNTIME_DIR",
            std::env::temp_dir()
                .join("cache-runtime-redis-test")
                .to_string_lossy()
                .into_owned(),
        ),
    ]
}

/// `env` as [`Process::spawn`] takes it.
pub(crate) fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Asks until the answer ends with `(want)`, for events that travel over pub/sub.
pub(crate) fn eventually(process: &mut Process, command: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let answer = process.ask(command);
        if answer.ends_with(&format!("({want})")) || Instant::now() > deadline {
            return answer;
        }
        sleep(Duration::from_millis(25));
    }
}

/// Processes share one cache; `clear()` and a clear of everything in one
/// process reach the others' memory tiers.
pub(crate) fn processes_share_one_cache_and_clears_reach_every_memory_tier(url: &str) {
    let env = env(url);
    let env = borrowed(&env);

    assert_eq!(
        run_once(PROBE, &env, "redis 5"),
        ["redis 5 = shared-15 (computed)"]
    );
    assert_eq!(
        run_once(PROBE, &env, "redis 5"),
        ["redis 5 = shared-15 (redis)"]
    );

    let mut a = Process::spawn(PROBE, &env);
    let mut b = Process::spawn(PROBE, &env);
    assert_eq!(a.ask("redis 6"), "redis 6 = shared-18 (computed)");
    assert_eq!(a.ask("redis 6"), "redis 6 = shared-18 (memory)");
    assert_eq!(b.ask("redis 6"), "redis 6 = shared-18 (redis)");

    // B clears: A's memory tier is emptied through the events channel, and the
    // shared records are gone, so A computes again.
    assert_eq!(b.ask("clear-redis"), "cleared redis");
    assert_eq!(
        eventually(&mut a, "redis 6", "computed"),
        "redis 6 = shared-18 (computed)"
    );

    // A global clear reaches B's memory tier too.
    assert_eq!(b.ask("redis 6"), "redis 6 = shared-18 (redis)");
    assert_eq!(b.ask("redis 6"), "redis 6 = shared-18 (memory)");
    assert_eq!(a.ask("clear-all"), "cleared all");
    assert_eq!(
        eventually(&mut b, "redis 6", "computed"),
        "redis 6 = shared-18 (computed)"
    );
}

/// Concurrent misses of one key in two processes compute once.
pub(crate) fn concurrent_misses_across_processes_compute_once(url: &str) {
    let mut env = env(url);
    // This is about the lock, not outages: on a loaded machine a reply can
    // take longer than the default 250 ms timeout, which would (rightly)
    // make a process compute locally.
    env.push(("CACHE_RUNTIME_REDIS_TIMEOUT_MS", "5000".to_owned()));
    let env = borrowed(&env);
    let mut a = Process::spawn(PROBE, &env);
    let mut b = Process::spawn(PROBE, &env);
    // Both ask at once; `slow` takes 600 ms. One computes, the other waits for its record.
    let (sender, answers) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let send_a = sender.clone();
        scope.spawn(move || send_a.send(a.ask("slow 1")).unwrap());
        scope.spawn(move || sender.send(b.ask("slow 1")).unwrap());
    });
    let mut answers: Vec<String> = answers.iter().collect();
    answers.sort();
    assert_eq!(
        answers,
        ["slow 1 = slow-1 (computed)", "slow 1 = slow-1 (redis)"]
    );
}

/// A computation running in one process while another clears (the
/// function's clear, or a clear of everything) stores nothing: no process
/// reads a value computed before the clear. (The clear's event discards it
/// in the computing process; a late event would find its record refused by
/// the generation counters the clear bumped.)
pub(crate) fn a_clear_elsewhere_discards_a_running_computation(url: &str) {
    let env = env(url);
    let env = borrowed(&env);
    for clear in ["clear-slow", "clear-all"] {
        let mut a = Process::spawn(PROBE, &env);
        std::thread::scope(|scope| {
            // `slow` takes 600 ms: the clear lands in the middle.
            let running = scope.spawn(move || a.ask("slow 3"));
            sleep(Duration::from_millis(250));
            assert_eq!(run_once(PROBE, &env, clear).len(), 1, "{clear}");
            assert_eq!(
                running.join().unwrap(),
                "slow 3 = slow-3 (computed)",
                "{clear}"
            );
        });
        assert_eq!(
            run_once(PROBE, &env, "slow 3"),
            ["slow 3 = slow-3 (computed)"],
            "{clear}: the computation that began before it wrote no record"
        );
        assert_eq!(run_once(PROBE, &env, "clear-all"), ["cleared all"]);
    }
}
