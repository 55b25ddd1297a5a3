//! What a Redis hit costs, counted by the server: a memory miss whose record
//! is in Redis reads it with one `GET` and nothing else, and is no
//! computation (no `compute_started` for an observer, no spinner); a key in
//! no tier is read once, then claimed and written, never read twice.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cache_runtime::observe::{self, ComputeStart, Observer};
use cache_runtime::{Outcome, cache_data, persist, trace, trace_async};
use integration_tests::RedisServer;

static COMPUTED: AtomicUsize = AtomicUsize::new(0);

#[cache_data(persist = "redis", name = "persist_redis_hit::doubled")]
fn doubled(n: u64) -> u64 {
    COMPUTED.fetch_add(1, SeqCst);
    n * 2
}

#[cache_data(persist = "redis", name = "persist_redis_hit::tripled")]
async fn tripled(n: u64) -> u64 {
    COMPUTED.fetch_add(1, SeqCst);
    n * 3
}

/// The tests' Redis, configured once for the process; the tests take turns
/// (they count the server's commands).
fn redis() -> std::sync::MutexGuard<'static, RedisServer> {
    static REDIS: OnceLock<Mutex<RedisServer>> = OnceLock::new();
    REDIS
        .get_or_init(|| {
            let redis = RedisServer::start();
            persist::configure(
                persist::Settings::default()
                    .redis_url(redis.url())
                    .redis_timeout(Duration::from_secs(5)),
            )
            .expect("configured once");
            Mutex::new(redis)
        })
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The commands clients send the server (`MONITOR`, through `redis-cli`),
/// scripts' own commands and the listener's `PING`s left out.
struct Monitor {
    child: Child,
    lines: BufReader<ChildStdout>,
    connection: redis::Connection,
}

impl Monitor {
    fn start(redis: &RedisServer) -> Self {
        let mut child = Command::new("redis-cli")
            .args(["-p", &redis.port().to_string(), "monitor"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-cli (Debian's redis-tools) runs");
        let mut lines = BufReader::new(child.stdout.take().expect("piped"));
        let mut ok = String::new();
        lines.read_line(&mut ok).expect("MONITOR answers");
        assert_eq!(ok.trim(), "OK");
        let client = redis::Client::open(redis.url()).expect("the URL");
        let connection = client.get_connection().expect("connect");
        Self {
            child,
            lines,
            connection,
        }
    }

    /// The commands sent while `action` ran: their names, in order.
    fn during<T>(&mut self, action: impl FnOnce() -> T) -> (T, Vec<String>) {
        let result = action();
        let marker = format!("end-{}", COMPUTED.load(SeqCst));
        let _: String = redis::cmd("ECHO")
            .arg(&marker)
            .query(&mut self.connection)
            .expect("ECHO");
        let mut commands = Vec::new();
        loop {
            let mut line = String::new();
            assert!(self.lines.read_line(&mut line).expect("MONITOR line") > 0);
            if line.contains(&marker) {
                return (result, commands);
            }
            if line.contains(" lua] ") {
                continue;
            }
            let Some(command) = line.split(" \"").nth(1) else {
                continue;
            };
            let command = command.trim_end_matches(['"', '\n']).to_uppercase();
            if command != "PING" {
                commands.push(command);
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn names(commands: &[&str]) -> Vec<String> {
    commands.iter().map(|&name| name.to_owned()).collect()
}

/// Counts the computations an observer is told of.
#[derive(Clone, Default)]
struct Computations(Arc<AtomicUsize>);

impl Observer for Computations {
    fn compute_started(&self, start: &ComputeStart) {
        if start.function.starts_with("persist_redis_hit::") {
            self.0.fetch_add(1, SeqCst);
        }
    }
}

#[test]
fn a_sync_redis_hit_is_one_get_and_no_computation() {
    let redis = redis();
    let computations = Computations::default();
    // The tier's first use (connecting, loading scripts) is not counted.
    doubled(0);
    let mut monitor = Monitor::start(&redis);
    let _subscription = observe::subscribe_computations(computations.clone());

    // A key in no tier: read once, then claimed (the lock script) and
    // written (the finish script); never read a second time.
    let ((value, calls), sent) = monitor.during(|| trace(|| doubled(21)));
    assert_eq!((value, calls[0].outcome), (42, Outcome::Miss));
    assert_eq!(sent, names(&["GET", "EVALSHA", "EVALSHA"]));
    assert_eq!(computations.0.load(SeqCst), 1);

    // What a process that never saw the key does: one GET, no computation.
    cache_runtime::__private::clear_memory("doubled");
    let computed = COMPUTED.load(SeqCst);
    let ((value, calls), sent) = monitor.during(|| trace(|| doubled(21)));
    assert_eq!((value, calls[0].outcome), (42, Outcome::Redis));
    assert_eq!(sent, names(&["GET"]));
    assert_eq!(
        computations.0.load(SeqCst),
        1,
        "a Redis hit is no computation"
    );
    assert_eq!(COMPUTED.load(SeqCst), computed);

    // Kept in memory: the next call asks Redis nothing.
    let ((value, calls), sent) = monitor.during(|| trace(|| doubled(21)));
    assert_eq!((value, calls[0].outcome), (42, Outcome::Hit));
    assert_eq!(sent, names(&[]));
    assert_eq!(doubled::stats().redis_hits, 1);
}

#[test]
fn an_async_redis_hit_is_one_get_and_no_computation() {
    let redis = redis();
    let computations = Computations::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // The async connection's first use is not counted.
    runtime.block_on(tripled(0));
    let mut monitor = Monitor::start(&redis);
    let _subscription = observe::subscribe_computations(computations.clone());

    let ((value, calls), sent) = monitor.during(|| runtime.block_on(trace_async(tripled(14))));
    assert_eq!((value, calls[0].outcome), (42, Outcome::Miss));
    assert_eq!(sent, names(&["GET", "EVALSHA", "EVALSHA"]));
    assert_eq!(computations.0.load(SeqCst), 1);

    cache_runtime::__private::clear_memory("tripled");
    let computed = COMPUTED.load(SeqCst);
    let ((value, calls), sent) = monitor.during(|| runtime.block_on(trace_async(tripled(14))));
    assert_eq!((value, calls[0].outcome), (42, Outcome::Redis));
    assert_eq!(sent, names(&["GET"]));
    assert_eq!(
        computations.0.load(SeqCst),
        1,
        "a Redis hit is no computation"
    );
    assert_eq!(COMPUTED.load(SeqCst), computed);

    let ((value, calls), sent) = monitor.during(|| runtime.block_on(trace_async(tripled(14))));
    assert_eq!((value, calls[0].outcome), (42, Outcome::Hit));
    assert_eq!(sent, names(&[]));
    assert_eq!(tripled::stats().redis_hits, 1);
}
