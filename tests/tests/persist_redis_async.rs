//! Async cached functions on a tokio runtime talk to Redis with the async
//! client (one multiplexed connection per process, no thread hop): records
//! are shared with other processes, concurrent misses across processes
//! compute once, a clear elsewhere reaches this process, and an outage is a
//! local computation.
//!
//! Each process is this test binary's `async_child`, driven by commands in
//! `ASYNC_CHILD` (comma-separated), answering one line per command.

use std::process::Command;
use std::time::{Duration, Instant};

use cache_runtime::{Outcome, cache_data, trace_async};
use integration_tests::{RedisCluster, RedisServer};

#[cache_data(persist = "redis", name = "async_probe::tripled")]
async fn tripled(n: u64) -> String {
    format!("tripled-{}", n * 3)
}

#[cache_data(persist = "redis", name = "async_probe::slow")]
async fn slow(n: u64) -> String {
    tokio::time::sleep(Duration::from_millis(600)).await;
    format!("slow-{n}")
}

fn source(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Miss) => "computed",
        Some(Outcome::Redis) => "redis",
        Some(Outcome::Hit) => "memory",
        _ => "other",
    }
}

/// The child: runs `ASYNC_CHILD`'s commands on a multi-thread runtime.
#[test]
fn async_child() {
    let Ok(commands) = std::env::var("ASYNC_CHILD") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for command in commands.split(',') {
            let mut words = command.split_whitespace();
            let (name, n) = (
                words.next().unwrap_or_default(),
                words.next().and_then(|n| n.parse().ok()).unwrap_or(0u64),
            );
            let answer = match name {
                "tripled" => {
                    let (value, calls) = trace_async(tripled(n)).await;
                    format!("{value} ({})", source(calls.last().map(|c| c.outcome)))
                }
                "slow" => {
                    let (value, calls) = trace_async(slow(n)).await;
                    format!("{value} ({})", source(calls.last().map(|c| c.outcome)))
                }
                "clear" => {
                    tripled::clear();
                    "cleared".to_owned()
                }
                "wait" => {
                    tokio::time::sleep(Duration::from_millis(n)).await;
                    "waited".to_owned()
                }
                "stats" => {
                    let stats = tripled::stats();
                    format!("persist_errors={}", stats.persist_errors)
                }
                other => format!("unknown {other}"),
            };
            println!("answer: {answer}");
        }
    });
}

/// Runs a child with `commands` against the Redis at `url`; its answers.
fn child_at(url: &str, commands: &str) -> Vec<String> {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "async_child", "--nocapture", "--test-threads=1"])
        .env("ASYNC_CHILD", commands)
        .env("CACHE_RUNTIME_REDIS_URL", url)
        .env("CACHE_RUNTIME_REDIS_TIMEOUT_MS", "2000")
        .env(
            "CACHE_RUNTIME_DIR",
            std::env::temp_dir().join("cache-runtime-redis-async-test"),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .filter_map(|line| line.split_once("answer: ").map(|(_, a)| a.to_owned()))
        .collect()
}

/// Runs a child with `commands` against `redis`; its answers.
fn child(redis: &RedisServer, commands: &str) -> Vec<String> {
    child_at(&redis.url(), commands)
}

#[test]
fn async_functions_share_records_through_redis() {
    let redis = RedisServer::start();
    assert_eq!(
        child(&redis, "tripled 5, tripled 5"),
        ["tripled-15 (computed)", "tripled-15 (memory)"]
    );
    assert_eq!(
        child(&redis, "tripled 5, stats"),
        ["tripled-15 (redis)", "persist_errors=0"],
        "written by the first process, read by this one"
    );
    assert_eq!(
        child(&redis, "clear, tripled 5"),
        ["cleared", "tripled-15 (computed)"]
    );
}

#[test]
fn concurrent_async_misses_across_processes_compute_once() {
    let redis = RedisServer::start();
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| child(&redis, "slow 1"));
        let b = scope.spawn(|| child(&redis, "slow 1"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut answers = [a[0].clone(), b[0].clone()];
    answers.sort();
    assert_eq!(answers, ["slow-1 (computed)", "slow-1 (redis)"]);
}

#[test]
fn an_outage_is_a_local_computation_for_async_functions_too() {
    let redis = RedisServer::start();
    redis.pause();
    let start = Instant::now();
    assert_eq!(
        child(&redis, "tripled 7, tripled 8, stats"),
        [
            "tripled-21 (computed)",
            "tripled-24 (computed)",
            "persist_errors=2"
        ]
    );
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "bounded by the timeout: {:?}",
        start.elapsed()
    );
    redis.resume();
}

/// On a Redis Cluster, through the async cluster client: records shared,
/// concurrent misses across processes computed once, clears everywhere.
#[test]
fn async_functions_share_a_cluster() {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    assert_eq!(child_at(&url, "tripled 5"), ["tripled-15 (computed)"]);
    assert_eq!(
        child_at(&url, "tripled 5, stats"),
        ["tripled-15 (redis)", "persist_errors=0"]
    );
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| child_at(&url, "slow 2"));
        let b = scope.spawn(|| child_at(&url, "slow 2"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut answers = [a[0].clone(), b[0].clone()];
    answers.sort();
    assert_eq!(answers, ["slow-2 (computed)", "slow-2 (redis)"]);
    assert_eq!(
        child_at(&url, "clear, tripled 5"),
        ["cleared", "tripled-15 (computed)"]
    );
}
