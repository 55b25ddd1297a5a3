//! "A clear always wins" through the persistent tiers, with real processes:
//! a `clear_race race` process hammers a cached function while clearing it
//! (its readers assert that no call started after a clear returned gets a
//! value computed before it, even when the value comes from the tier), then a
//! fresh `clear_race check` process asserts that the tier holds no value
//! computed before the final clear. For Redis also with a second process that
//! reads and writes the same records but never clears.

use std::collections::HashMap;
use std::process::{Child, Command, Output, Stdio};

use integration_tests::{RedisCluster, RedisServer};

const CLEAR_RACE: &str = env!("CARGO_BIN_EXE_clear_race");

/// How long each `race` process clears.
const SECONDS: u64 = 5;

/// The fields of a `race` process's `summary` line, and its final floor.
#[derive(Debug)]
struct Race {
    fields: HashMap<String, String>,
    floor: Option<u64>,
    stdout: String,
}

impl Race {
    fn number(&self, field: &str) -> u64 {
        self.fields
            .get(field)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no number `{field}` in:\n{}", self.stdout))
    }
}

fn spawn(args: &[&str]) -> Child {
    Command::new(CLEAR_RACE)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start clear_race")
}

fn finish(what: &str, child: Child) -> Race {
    let output: Output = child.wait_with_output().expect("wait for clear_race");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{what}:\n{stdout}{stderr}");
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}{stderr}",
        output.status
    );
    let fields = stdout
        .lines()
        .find_map(|line| line.strip_prefix("summary "))
        .unwrap_or_else(|| panic!("{what} printed no summary:\n{stdout}"))
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let floor = stdout
        .lines()
        .find_map(|line| line.strip_prefix("final FLOOR="))
        .map(|floor| floor.parse().expect("a numeric floor"));
    Race {
        fields,
        floor,
        stdout,
    }
}

/// The final floor of the clearing process.
fn final_floor(what: &str, race: &Race) -> u64 {
    race.floor
        .unwrap_or_else(|| panic!("{what}: no final floor:\n{}", race.stdout))
}

/// A fresh process's `check` of the tier against `floor`: its output, and
/// whether it passed.
fn check(what: &str, tier: &[&str], floor: u64) -> (String, bool) {
    let floor_arg = floor.to_string();
    let start = (floor + 1000).to_string();
    let mut args = tier.to_vec();
    args.extend(["check", &floor_arg, "--seq", &start]);
    let output = Command::new(CLEAR_RACE)
        .args(&args)
        .output()
        .expect("run clear_race check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{what} check (floor {floor}):\n{text}");
    (text, output.status.success())
}

/// The clearing process's readers never saw a value from before a clear that
/// had returned, the race exercised what it claims to, and the fresh process
/// found no value from before the final clear in the tier (and found some
/// value there: otherwise the check proved nothing).
fn assert_clear_won(what: &str, race: &Race, tier_hits: &str, (checked, passed): (String, bool)) {
    assert_eq!(
        race.number("stale"),
        0,
        "{what}: calls that started after a clear returned got values computed before it:\n{}\n\
         then the check process said:\n{checked}",
        race.stdout
    );
    assert!(
        race.number("clears") > 100,
        "{what}: the clearer barely ran:\n{}",
        race.stdout
    );
    assert!(
        race.number("misses") > 100,
        "{what}: barely missed:\n{}",
        race.stdout
    );
    assert!(
        race.number("hits") > 0,
        "{what}: never hit memory:\n{}",
        race.stdout
    );
    assert!(
        race.number(tier_hits) > 0,
        "{what}: never read the tier:\n{}",
        race.stdout
    );
    assert!(
        passed,
        "{what}: the tier holds a value computed before the final clear:\n{checked}"
    );
    let found: u64 = checked
        .lines()
        .find_map(|line| line.strip_prefix("check ok tier_hits="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no check line:\n{checked}"));
    assert!(
        found > 0,
        "{what}: nothing was written after the final clear, so the check proved nothing:\n\
         {checked}"
    );
}

#[test]
fn a_clear_always_wins_on_disk_across_processes() {
    let dir = std::env::temp_dir().join(format!("cache-runtime-clear-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir = dir.to_string_lossy().into_owned();
    let tier = ["disk", dir.as_str()];
    let seconds = SECONDS.to_string();
    let race = finish(
        "disk race",
        spawn(&[tier[0], tier[1], "race", seconds.as_str()]),
    );
    let checked = check("disk", &tier, final_floor("disk", &race));
    assert_clear_won("disk", &race, "disk_hits", checked);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_clear_always_wins_on_redis_across_processes() {
    let redis = RedisServer::start();
    let url = redis.url();
    let tier = ["redis", url.as_str()];
    let seconds = SECONDS.to_string();
    let race = finish(
        "redis race",
        spawn(&[tier[0], tier[1], "race", seconds.as_str()]),
    );
    let checked = check("redis", &tier, final_floor("redis", &race));
    assert_clear_won("redis", &race, "redis_hits", checked);
}

/// The same race on a three-master Redis Cluster, with clears of
/// everything: each bumps every function's generation counter, found on
/// the masters by `SCAN`, before it deletes.
#[test]
fn a_clear_always_wins_on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let tier = ["redis", url.as_str()];
    let seconds = SECONDS.to_string();
    let race = finish(
        "redis cluster race",
        spawn(&[tier[0], tier[1], "race", seconds.as_str(), "--clear-all"]),
    );
    let checked = check("redis cluster", &tier, final_floor("redis cluster", &race));
    assert_clear_won("redis cluster", &race, "redis_hits", checked);
}

/// Two processes on one Redis, sharing the sequence number (kept in Redis):
/// A clears, B only reads and writes. A's readers load B's records from the
/// tier, so a record B computed before one of A's clears and wrote after it
/// returned shows up as stale in A. B keeps running for a second after A's
/// final clear, then the check looks for B's late writes.
#[test]
fn a_clear_in_one_process_wins_over_writes_from_another_on_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let clearing = SECONDS.to_string();
    let reading = (SECONDS + 1).to_string();
    let a = spawn(&["redis", &url, "race", &clearing, "--shared-seq"]);
    let b = spawn(&[
        "redis",
        &url,
        "race",
        &reading,
        "--no-clear",
        "--shared-seq",
    ]);
    let a = finish("redis A (clears)", a);
    let b = finish("redis B (never clears)", b);
    eprintln!(
        "redis B saw {} of {} values below the floor A had published (not asserted: B's memory \
         hears of A's clears over pub/sub, milliseconds late by design)",
        b.number("stale"),
        b.number("reads")
    );
    assert!(b.number("misses") > 0, "B never computed:\n{}", b.stdout);
    let what = "redis A, with B writing";
    let checked = check(what, &["redis", &url], final_floor(what, &a));
    assert_clear_won(what, &a, "redis_hits", checked);
}

/// Two processes on a Redis Cluster, A clearing everything, B writing (the
/// shared sequence number on a separate server): a clear of everything in
/// one process fences the other's computations on every master, through
/// each function's generation counter.
#[test]
fn a_clear_of_everything_wins_over_writes_from_another_process_on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let seq = RedisServer::start();
    let url = cluster.url();
    let seq_at = format!("--seq-at=127.0.0.1:{}", seq.port());
    let clearing = SECONDS.to_string();
    let reading = (SECONDS + 1).to_string();
    let a = spawn(&["redis", &url, "race", &clearing, &seq_at, "--clear-all"]);
    let b = spawn(&["redis", &url, "race", &reading, "--no-clear", &seq_at]);
    let a = finish("cluster A (clears everything)", a);
    let b = finish("cluster B (never clears)", b);
    assert!(b.number("misses") > 0, "B never computed:\n{}", b.stdout);
    let what = "cluster A, with B writing";
    let checked = check(what, &["redis", &url], final_floor(what, &a));
    assert_clear_won(what, &a, "redis_hits", checked);
}
