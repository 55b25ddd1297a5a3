//! The Redis tier against a real `redis-server`: processes share one cache,
//! `clear()` in one empties the others' memory tier, concurrent misses across
//! processes compute once, garbage is refused, and a Redis outage never fails
//! a call.

use std::thread::sleep;
use std::time::{Duration, Instant};

use integration_tests::RedisServer;
use integration_tests::probe::{Process, run_once};

const PROBE: &str = env!("CARGO_BIN_EXE_persist_probe");

fn env(redis: &RedisServer) -> Vec<(&'static str, String)> {
    vec![
        ("CACHE_RUNTIME_REDIS_URL", redis.url()),
        (
            "CACHE_RUNTIME_DIR",
            std::env::temp_dir()
                .join("cache-runtime-redis-test")
                .to_string_lossy()
                .into_owned(),
        ),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Asks until the answer ends with `(want)`, for events that travel over pub/sub.
fn eventually(process: &mut Process, command: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let answer = process.ask(command);
        if answer.ends_with(&format!("({want})")) || Instant::now() > deadline {
            return answer;
        }
        sleep(Duration::from_millis(25));
    }
}

#[test]
fn processes_share_one_cache_and_clears_reach_every_memory_tier() {
    let redis = RedisServer::start();
    let env = env(&redis);
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

/// While a process does not hear the events channel, another's clear cannot
/// reach its memory: it keeps no Redis value there until it has
/// resubscribed (and emptied its memory once more), so it never serves a
/// value cleared meanwhile.
#[test]
fn a_process_cut_off_from_the_events_never_serves_a_value_cleared_meanwhile() {
    let redis = RedisServer::start();
    let env = env(&redis);
    let env = borrowed(&env);
    let mut a = Process::spawn(PROBE, &env);
    let mut b = Process::spawn(PROBE, &env);
    assert_eq!(a.ask("redis 11"), "redis 11 = shared-33 (computed)");
    assert_eq!(b.ask("redis 11"), "redis 11 = shared-33 (redis)");
    assert_eq!(b.ask("redis 11"), "redis 11 = shared-33 (memory)");

    // Every subscription is cut (B's among them); each process resubscribes
    // after a second. A clears in that second: B does not hear of it.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut connection)
        .unwrap();
    assert_eq!(killed, 2, "A's and B's subscriptions");
    // B learns at once that its connection closed (loopback).
    sleep(Duration::from_millis(100));
    assert_eq!(a.ask("clear-redis"), "cleared redis");
    assert_eq!(
        b.ask("redis 11"),
        "redis 11 = shared-33 (computed)",
        "not the cleared value from memory: the record is gone, so B computes"
    );
    assert_eq!(
        b.ask("redis 11"),
        "redis 11 = shared-33 (redis)",
        "and keeps nothing in memory while it is not subscribed"
    );
    // Once B has resubscribed, its memory serves again.
    assert_eq!(
        eventually(&mut b, "redis 11", "memory"),
        "redis 11 = shared-33 (memory)"
    );
    // And clears reach it again.
    assert_eq!(a.ask("clear-redis"), "cleared redis");
    assert_eq!(
        eventually(&mut b, "redis 11", "computed"),
        "redis 11 = shared-33 (computed)"
    );
}

/// A server that hangs (stopped, its connections open) is an outage too:
/// calls return within the timeout, computing, and memory stops serving
/// Redis values as soon as one call has failed to reach it; once the server
/// runs again, memory serves again.
#[test]
fn a_hanging_redis_is_an_outage_noticed_by_the_first_call() {
    let redis = RedisServer::start();
    let env = env(&redis);
    let env = borrowed(&env);
    let mut a = Process::spawn(PROBE, &env);
    assert_eq!(a.ask("redis 13"), "redis 13 = shared-39 (computed)");
    assert_eq!(a.ask("redis 13"), "redis 13 = shared-39 (memory)");

    redis.pause();
    let start = Instant::now();
    assert_eq!(a.ask("redis 14"), "redis 14 = shared-42 (computed)");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "bounded by the 250 ms timeout: {:?}",
        start.elapsed()
    );
    assert_eq!(
        a.ask("redis 13"),
        "redis 13 = shared-39 (computed)",
        "the failed call emptied the memory of Redis values"
    );
    let stats = a.ask("stats-redis");
    assert!(!stats.contains("persist_errors=0"), "{stats}");
    // The outage in the metrics: the events channel not heard, errors counted.
    assert_eq!(
        a.ask("metric cache_redis_events_subscribed"),
        "cache_redis_events_subscribed 0"
    );
    let errors = a.ask("metric cache_persist_errors_total");
    assert!(
        errors.contains(r#"cache="probe::shared",tier="redis"} "#)
            && !errors.contains(r#"cache="probe::shared",tier="redis"} 0"#),
        "{errors}"
    );

    redis.resume();
    assert_eq!(
        eventually(&mut a, "redis 13", "memory"),
        "redis 13 = shared-39 (memory)",
        "back once the server answers"
    );
    assert_eq!(
        a.ask("metric cache_redis_events_subscribed"),
        "cache_redis_events_subscribed 1"
    );
}

#[test]
fn concurrent_misses_across_processes_compute_once() {
    let redis = RedisServer::start();
    let mut env = env(&redis);
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

/// The record of `redis 7` (the only one under the prefix).
fn the_record(connection: &mut redis::Connection) -> String {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("cache-runtime:*")
        .query(connection)
        .unwrap();
    let records: Vec<_> = keys
        .iter()
        .filter(|k| !k.contains(":lock:") && !k.contains(":gen") && !k.ends_with("events"))
        .collect();
    assert_eq!(records.len(), 1, "{keys:?}");
    records[0].clone()
}

/// Every kind of bad data under the prefix (another program's keys, a torn
/// or foreign record, counters that are not counters, a lock that is not a
/// lock, malformed events) is a miss or ignored, logged, counted: never a
/// panic, a wrong value or a stall, and it is replaced by good data.
#[test]
fn bad_data_in_redis_is_refused_and_replaced() {
    let redis = RedisServer::start();
    let env = env(&redis);
    let env = borrowed(&env);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    assert_eq!(
        run_once(PROBE, &env, "redis 7"),
        ["redis 7 = shared-21 (computed)"]
    );
    let record = the_record(&mut connection);
    let good: Vec<u8> = redis::cmd("GET")
        .arg(&record)
        .query(&mut connection)
        .unwrap();

    let mut other_version = good.clone();
    other_version[..4].copy_from_slice(b"CRT2");
    let bad_records: [(&str, Vec<u8>); 3] = [
        ("garbage", b"garbage that is no record".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("another version", other_version),
    ];
    for (what, bytes) in bad_records {
        let _: () = redis::cmd("SET")
            .arg(&record)
            .arg(bytes)
            .query(&mut connection)
            .unwrap();
        let answers = run_once(PROBE, &env, "redis 7, stats-redis");
        assert_eq!(answers[0], "redis 7 = shared-21 (computed)", "{what}");
        assert!(
            answers[1].contains("persist_errors=1"),
            "{what}: {}",
            answers[1]
        );
        assert_eq!(
            run_once(PROBE, &env, "redis 7"),
            ["redis 7 = shared-21 (redis)"],
            "{what}: replaced by a good record"
        );
    }

    // Another program's list where the record goes: a miss, then replaced.
    let _: () = redis::cmd("DEL")
        .arg(&record)
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg(&record)
        .arg("not ours")
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        run_once(PROBE, &env, "redis 7"),
        ["redis 7 = shared-21 (computed)"]
    );
    assert_eq!(
        run_once(PROBE, &env, "redis 7"),
        ["redis 7 = shared-21 (redis)"]
    );

    // Generation counters that are not counters: reads go on, and a clear
    // still clears (it replaces them), so no old value survives it.
    let function_generation =
        record
            .rsplit_once(':')
            .unwrap()
            .0
            .replacen("cache-runtime:", "cache-runtime:gen:", 1);
    let _: () = redis::cmd("SET")
        .arg("cache-runtime:gen")
        .arg("not a number")
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg(&function_generation)
        .arg("a list")
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        run_once(PROBE, &env, "redis 7, clear-redis, redis 7"),
        [
            "redis 7 = shared-21 (redis)",
            "cleared redis",
            "redis 7 = shared-21 (computed)"
        ]
    );
    assert_eq!(
        run_once(PROBE, &env, "clear-all, redis 7"),
        ["cleared all", "redis 7 = shared-21 (computed)"]
    );
    assert_eq!(
        run_once(PROBE, &env, "redis 7"),
        ["redis 7 = shared-21 (redis)"],
        "and records are written again"
    );

    // A key where the computation lock goes that is not a lock (no
    // expiry): removed, not waited on for `lock_wait` (5 s) at every miss.
    let lock = record.replacen("cache-runtime:", "cache-runtime:lock:", 1);
    let _: () = redis::cmd("DEL")
        .arg(&record)
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&lock)
        .arg("squatter")
        .query(&mut connection)
        .unwrap();
    let start = Instant::now();
    assert_eq!(
        run_once(PROBE, &env, "redis 7"),
        ["redis 7 = shared-21 (computed)"]
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "no wait for a lock that is none: {:?}",
        start.elapsed()
    );
    let squatter: Option<String> = redis::cmd("GET").arg(&lock).query(&mut connection).unwrap();
    assert_eq!(squatter, None);

    // Malformed events: ignored, and the process keeps hearing good ones.
    let mut a = Process::spawn(PROBE, &env);
    assert_eq!(a.ask("redis 7"), "redis 7 = shared-21 (redis)");
    assert_eq!(a.ask("redis 7"), "redis 7 = shared-21 (memory)");
    for garbage in ["garbage", "x clear", "x clear zz", "x invalidate 1", ""] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("cache-runtime:events")
            .arg(garbage)
            .query(&mut connection)
            .unwrap();
    }
    assert_eq!(a.ask("redis 7"), "redis 7 = shared-21 (memory)");
    assert_eq!(run_once(PROBE, &env, "clear-redis"), ["cleared redis"]);
    assert_eq!(
        eventually(&mut a, "redis 7", "computed"),
        "redis 7 = shared-21 (computed)"
    );
}

#[test]
fn a_redis_outage_never_fails_a_call() {
    let mut redis = RedisServer::start();
    let env = env(&redis);
    let env = borrowed(&env);
    let mut a = Process::spawn(PROBE, &env);
    assert_eq!(a.ask("redis 8"), "redis 8 = shared-24 (computed)");

    redis.kill();
    let start = Instant::now();
    assert_eq!(a.ask("redis 9"), "redis 9 = shared-27 (computed)");
    assert_eq!(a.ask("redis 10"), "redis 10 = shared-30 (computed)");
    // Not from memory: with the events channel down, another process's
    // clear could not reach this one, so it keeps no Redis value meanwhile.
    assert_eq!(a.ask("redis 8"), "redis 8 = shared-24 (computed)");
    assert_eq!(a.ask("redis 8"), "redis 8 = shared-24 (computed)");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "bounded by the timeout: {:?}",
        start.elapsed()
    );
    let stats = a.ask("stats-redis");
    assert!(!stats.contains("persist_errors=0"), "{stats}");

    // Back up: after the one-second backoff the tier is used again.
    redis.restart();
    sleep(Duration::from_millis(1200));
    assert_eq!(a.ask("redis 11"), "redis 11 = shared-33 (computed)");
    assert_eq!(
        run_once(PROBE, &env, "redis 11"),
        ["redis 11 = shared-33 (redis)"]
    );
}
