//! The Redis tier on a three-master Redis Cluster: the same cross-process
//! suites as on one server (`persist_redis`), and what only a cluster shows:
//! records spread over the masters, and clears reach every master.

use integration_tests::RedisCluster;
use integration_tests::probe::{run_once, run_once_logged};
use redis_suite::{PROBE, borrowed};

mod redis_suite;

#[test]
fn processes_share_one_cache_and_clears_reach_every_memory_tier() {
    let cluster = RedisCluster::start();
    redis_suite::processes_share_one_cache_and_clears_reach_every_memory_tier(&cluster.url());
}

#[test]
fn a_clear_elsewhere_discards_a_running_computation() {
    let cluster = RedisCluster::start();
    redis_suite::a_clear_elsewhere_discards_a_running_computation(&cluster.url());
}

#[test]
fn concurrent_misses_across_processes_compute_once() {
    let cluster = RedisCluster::start();
    redis_suite::concurrent_misses_across_processes_compute_once(&cluster.url());
}

/// How many records (keys with `}:r:`) each master holds.
fn records_per_master(cluster: &RedisCluster) -> Vec<usize> {
    cluster
        .ports()
        .iter()
        .map(|port| {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            let mut connection = client.get_connection().unwrap();
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg("cache-runtime:*")
                .query(&mut connection)
                .unwrap();
            keys.iter().filter(|key| key.contains("}:r:")).count()
        })
        .collect()
}

/// Two functions (`probe::shared`, `probe::slow`) land on their own slots,
/// on two masters; one
/// function's clear removes its records only, and a clear of everything
/// removes every record on every master, and fences computations there.
#[test]
fn clears_reach_every_master() {
    let cluster = RedisCluster::start();
    let env = redis_suite::env(&cluster.url());
    let env = borrowed(&env);
    let commands: Vec<String> = (0..20).map(|n| format!("redis {n}")).collect();
    let answers = run_once(PROBE, &env, &(commands.join(", ") + ", slow 1"));
    assert!(
        answers.iter().all(|a| a.ends_with("(computed)")),
        "{answers:?}"
    );
    let spread = records_per_master(&cluster);
    assert_eq!(spread.iter().sum::<usize>(), 21);
    // A function's slot follows from its id, and `redis-cli` gives the
    // masters their slot ranges in order: these two land on two masters.
    assert_eq!(spread.iter().filter(|n| **n > 0).count(), 2, "{spread:?}");

    // The records are there for another process.
    assert_eq!(
        run_once(PROBE, &env, "redis 3, slow 1"),
        ["redis 3 = shared-9 (redis)", "slow 1 = slow-1 (redis)"]
    );
    // One function's clear leaves the other's records.
    assert_eq!(
        run_once(PROBE, &env, "clear-redis, redis 3, slow 1"),
        [
            "cleared redis",
            "redis 3 = shared-9 (computed)",
            "slow 1 = slow-1 (redis)"
        ]
    );
    assert_eq!(records_per_master(&cluster).iter().sum::<usize>(), 2);
    // A clear of everything reaches every master.
    assert_eq!(run_once(PROBE, &env, "clear-all"), ["cleared all"]);
    assert_eq!(records_per_master(&cluster), [0, 0, 0]);
    assert_eq!(
        run_once(PROBE, &env, "redis 3, slow 1"),
        [
            "redis 3 = shared-9 (computed)",
            "slow 1 = slow-1 (computed)"
        ]
    );
}

/// A prefix with braces would change the keys' hash tags: refused with an
/// error that says so, and the Redis functions cache in memory only.
#[test]
fn a_prefix_with_braces_is_refused_clearly() {
    let cluster = RedisCluster::start();
    let mut env = redis_suite::env(&cluster.url());
    env.push(("CACHE_RUNTIME_REDIS_PREFIX", "app{x}:".to_owned()));
    let env = borrowed(&env);
    let (answers, log) = run_once_logged(PROBE, &env, "redis 4, redis 4");
    assert_eq!(
        answers,
        [
            "redis 4 = shared-12 (computed)",
            "redis 4 = shared-12 (memory)"
        ]
    );
    assert!(log.contains("must not contain `{` or `}`"), "{log}");
    assert_eq!(
        run_once(PROBE, &env, "redis 4"),
        ["redis 4 = shared-12 (computed)"],
        "nothing was written to the cluster"
    );
}
