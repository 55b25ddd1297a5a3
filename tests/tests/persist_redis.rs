//! The Redis tier against a real `redis-server`: processes share one cache,
//! `clear()` in one empties the others' memory tier, concurrent misses across
//! processes compute once, garbage is refused, and a Redis outage never fails
//! a call.

use std::thread::sleep;
use std::time::{Duration, Instant};

use integration_tests::RedisServer;
use integration_tests::probe::{Process, run_once};
use redis_suite::{PROBE, borrowed, eventually};

mod redis_suite;

fn env(redis: &RedisServer) -> Vec<(&'static str, String)> {
    redis_suite::env(&redis.url())
}

#[test]
fn processes_share_one_cache_and_clears_reach_every_memory_tier() {
    let redis = RedisServer::start();
    redis_suite::processes_share_one_cache_and_clears_reach_every_memory_tier(&redis.url());
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
fn a_clear_elsewhere_discards_a_running_computation() {
    let redis = RedisServer::start();
    redis_suite::a_clear_elsewhere_discards_a_running_computation(&redis.url());
}

#[test]
fn concurrent_misses_across_processes_compute_once() {
    let redis = RedisServer::start();
    redis_suite::concurrent_misses_across_processes_compute_once(&redis.url());
}

/// The record of `redis 7` (the only one under the prefix).
fn the_record(connection: &mut redis::Connection) -> String {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("cache-runtime:*")
        .query(connection)
        .unwrap();
    let records: Vec<_> = keys.iter().filter(|k| k.contains("}:r:")).collect();
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
    let function_generation = record.split_once("}:r:").unwrap().0.to_owned() + "}:g";
    let key_generation = record.replacen("}:r:", "}:g:", 1);
    let _: () = redis::cmd("SET")
        .arg(&key_generation)
        .arg("not a number")
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&function_generation)
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
    let lock = record.replacen("}:r:", "}:l:", 1);
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
