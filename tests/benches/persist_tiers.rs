//! The persistent tiers read back, each against its raw baseline in the same run:
//!
//! - `disk_100mb`: a `#[cache_data(persist = "disk")]` memory miss that reads a
//!   100 MiB value from the disk tier, against `std::fs::read` of the very same
//!   record file (so the difference is the record check and the decode). Once
//!   with a `Vec<u8>` value (postcard/serde decode it byte by byte) and once with
//!   a `serde_bytes::ByteBuf` value (decoded as one slice). `memory_hit` is the
//!   plain in-memory hit, which clones the 100 MiB value, for scale.
//! - `redis_hit`: a `#[cache_data(persist = "redis")]` memory miss that reads a
//!   1 KiB `String` from Redis, against raw `GET`s of the same records
//!   through a `redis::Connection` of the same `redis` crate. Each
//!   iteration asks for a key this process has never seen, whose record
//!   another process wrote (the bench runs itself once as that writer, for
//!   [`FRESH_KEYS`] keys): the case of a value another replica computed,
//!   with nothing else in the timed call.
//! - `redis_hit_async`: the same from an `async fn` on a tokio runtime (the
//!   async client, one multiplexed connection), against a raw async `GET` on
//!   a multiplexed connection of the same crate; both driven by one
//!   current-thread runtime's `block_on`. The target: at most 1.2x.
//! - `redis_hit_after_clear`: the sync and async hits forced by dropping the
//!   in-memory tier first (`cache_runtime::__private::clear_memory`, in
//!   criterion's untimed setup), and that clear alone: what a call pays
//!   after a clear, when the memory tier's bookkeeping of it lands on the call.
//!
//! The disk tier's iterations drop the in-memory tier with `clear_memory` in
//! criterion's untimed setup (`iter_batched`, one call per batch), so only the
//! call itself is timed. Every returned value is dropped untimed too, for the
//! baselines as well. The record file is in the page cache for both the tier
//! and `fs::read`.
//!
//! The bench starts its own `redis-server` and uses a temporary folder; it
//! checks that each measured call really was a tier hit, never how fast it was.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-pbench cargo bench -p integration-tests --bench persist_tiers
//! ```
#![allow(missing_docs)]

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cache_runtime::__private::clear_memory;
use cache_runtime::{Stats, cache_data, persist};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use integration_tests::RedisServer;
use serde_bytes::ByteBuf;

/// The size of the disk-tier value: 100 MiB.
const BIG: usize = 100 * 1024 * 1024;
/// The size of the Redis-tier value: 1 KiB.
const SMALL: usize = 1024;
/// Every Redis key this bench's cache writes starts with this.
const PREFIX: &str = "persist-tiers-bench:";

/// Bytes that are not all alike, so nothing downstream can shortcut them.
fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()[7])
        .collect()
}

#[cache_data(persist = "disk", name = "persist_tiers::disk_vec")]
fn disk_vec() -> Vec<u8> {
    payload(BIG)
}

#[cache_data(persist = "disk", name = "persist_tiers::disk_byte_buf")]
fn disk_byte_buf() -> ByteBuf {
    ByteBuf::from(payload(BIG))
}

#[cache_data(persist = "redis", name = "persist_tiers::redis_string")]
fn redis_string() -> String {
    "r".repeat(SMALL)
}

#[cache_data(persist = "redis", name = "persist_tiers::redis_string_async")]
async fn redis_string_async() -> String {
    "r".repeat(SMALL)
}

/// How many keys the writer process stores for each of [`redis_keyed`] and
/// [`redis_keyed_async`]: more than a run of either group asks for.
const FRESH_KEYS: u64 = 250_000;

// Bounded, as a cache in production is: memory in a steady state (entries
// evicted as fresh ones come) rather than growing by 1 KiB per call.
#[cache_data(
    persist = "redis",
    max_entries = 1000,
    name = "persist_tiers::redis_keyed"
)]
fn redis_keyed(n: u64) -> String {
    let _ = n;
    "r".repeat(SMALL)
}

#[cache_data(
    persist = "redis",
    max_entries = 1000,
    name = "persist_tiers::redis_keyed_async"
)]
async fn redis_keyed_async(n: u64) -> String {
    let _ = n;
    "r".repeat(SMALL)
}

/// The writer process (`PERSIST_TIERS_WRITER` set to the Redis URL): stores
/// the records of [`FRESH_KEYS`] keys of each keyed function, and exits.
fn write_fresh_keys(url: &str) {
    persist::configure(
        persist::Settings::default()
            .redis_url(url)
            .redis_prefix(PREFIX)
            .redis_timeout(Duration::from_secs(5)),
    )
    .expect("configured once");
    std::thread::scope(|scope| {
        for thread in 0..8 {
            scope.spawn(move || {
                for n in (thread..FRESH_KEYS).step_by(8) {
                    drop(redis_keyed(n));
                }
            });
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..32 {
            tasks.spawn(async move {
                for n in (task..FRESH_KEYS).step_by(32) {
                    drop(redis_keyed_async(n).await);
                }
            });
        }
        tasks.join_all().await;
    });
    let (sync, async_) = (redis_keyed::stats(), redis_keyed_async::stats());
    assert_eq!(
        (
            sync.misses,
            async_.misses,
            sync.persist_errors + async_.persist_errors
        ),
        (FRESH_KEYS, FRESH_KEYS, 0),
        "the writer computed and stored every key"
    );
}

/// Runs this bench as the writer of the fresh keys, and waits for it.
fn run_writer(redis: &RedisServer) {
    let status = std::process::Command::new(std::env::current_exe().expect("the bench binary"))
        .env("PERSIST_TIERS_WRITER", redis.url())
        .status()
        .expect("run the writer");
    assert!(status.success(), "the writer failed");
}

/// The record names of each keyed function (sync, async), as the writer
/// stored them: the raw baselines `GET` the very same records.
fn fresh_records(redis: &RedisServer) -> (Vec<String>, Vec<String>) {
    let mut connection = raw_connection(redis);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{PREFIX}*"))
        .query(&mut connection)
        .expect("list the records");
    let mut by_function: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for key in keys.into_iter().filter(|key| key.contains("}:r:")) {
        let function = key.split("}:r:").next().unwrap_or_default().to_owned();
        by_function.entry(function).or_default().push(key);
    }
    let (mut sync, mut async_) = (Vec::new(), Vec::new());
    for records in by_function
        .into_values()
        .filter(|r| r.len() as u64 == FRESH_KEYS)
    {
        let record: Vec<u8> = redis::cmd("GET")
            .arg(&records[0])
            .query(&mut connection)
            .expect("GET a record");
        let is_async = record.windows(17).any(|w| w == b"redis_keyed_async");
        *(if is_async { &mut async_ } else { &mut sync }) = records;
    }
    assert_eq!(
        (sync.len() as u64, async_.len() as u64),
        (FRESH_KEYS, FRESH_KEYS),
        "the writer's records"
    );
    (sync, async_)
}

/// Times `iters` raw reads of `records`, from `next` on (wrapping around).
fn raw_reads(
    iters: u64,
    next: &mut usize,
    records: &[String],
    mut read: impl FnMut(&str),
) -> Duration {
    let start = std::time::Instant::now();
    for _ in 0..iters {
        read(&records[*next % records.len()]);
        *next += 1;
    }
    start.elapsed()
}

/// Times `iters` calls of `call` on keys never asked for before in this
/// process (taken from `next`), each a memory miss answered by Redis.
fn fresh_hits(iters: u64, next: &mut u64, mut call: impl FnMut(u64)) -> Duration {
    assert!(
        *next + iters <= FRESH_KEYS,
        "the run asked for more than FRESH_KEYS keys: raise it"
    );
    let start = std::time::Instant::now();
    for n in *next..*next + iters {
        call(n);
    }
    *next += iters;
    start.elapsed()
}

/// The redis-server, the temporary folder, and what the first calls wrote.
struct Fixture {
    redis: RedisServer,
    dir: PathBuf,
    vec_record: PathBuf,
    byte_buf_record: PathBuf,
}

impl Fixture {
    fn start() -> Self {
        let redis = RedisServer::start();
        let dir = std::env::temp_dir().join(format!("persist-tiers-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the bench's cache folder");
        persist::configure(
            persist::Settings::default()
                .dir(&dir)
                .disk_max_bytes(1 << 30)
                .redis_url(redis.url())
                .redis_prefix(PREFIX)
                .redis_timeout(Duration::from_secs(2)),
        )
        .expect("the bench configures the persistent tiers before any persistent call");

        // First calls compute and write the records; tell each record file apart
        // by what appeared after each call.
        assert_eq!(disk_vec().len(), BIG);
        let after_vec = records(&dir);
        assert_eq!(disk_byte_buf().len(), BIG);
        let after_both = records(&dir);
        let vec_record = single(after_vec.iter().cloned().collect(), "Vec<u8>");
        let byte_buf_record = single(
            after_both.difference(&after_vec).cloned().collect(),
            "ByteBuf",
        );

        assert_eq!(redis_string().len(), SMALL);

        Self {
            redis,
            dir,
            vec_record,
            byte_buf_record,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every `.rec` file under the cache folder.
fn records(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for function in std::fs::read_dir(dir)
        .expect("read the cache folder")
        .flatten()
    {
        for file in std::fs::read_dir(function.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if file.path().extension().is_some_and(|e| e == "rec") {
                found.insert(file.path());
            }
        }
    }
    found
}

fn single<T: std::fmt::Debug>(mut found: Vec<T>, what: &str) -> T {
    assert_eq!(found.len(), 1, "expected one record for {what}: {found:?}");
    found.pop().expect("checked")
}

fn raw_connection(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.url())
        .and_then(|client| client.get_connection())
        .expect("connect to the bench's redis-server")
}

/// Checks, once, that a memory miss of `call` is answered by the tier that
/// `tier_hits` counts, so the figures are what they claim to be.
fn check_tier_hit<V>(
    short_name: &str,
    call: fn() -> V,
    stats: fn() -> Stats,
    tier_hits: fn(&Stats) -> u64,
) {
    clear_memory(short_name);
    let before = stats();
    drop(call());
    let after = stats();
    assert_eq!(
        (
            tier_hits(&after) - tier_hits(&before),
            after.misses - before.misses
        ),
        (1, 0),
        "{short_name}: a memory miss must be a tier hit"
    );
}

fn disk_100mb(c: &mut Criterion, fixture: &Fixture) {
    check_tier_hit("disk_vec", disk_vec, disk_vec::stats, |s| s.disk_hits);
    check_tier_hit("disk_byte_buf", disk_byte_buf, disk_byte_buf::stats, |s| {
        s.disk_hits
    });

    let mut group = c.benchmark_group("disk_100mb");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(BIG as u64));

    group.bench_function("vec_u8/tier_hit", |b| {
        b.iter_batched(
            || clear_memory("disk_vec"),
            |()| disk_vec(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("vec_u8/fs_read", |b| {
        b.iter_batched(
            || (),
            |()| std::fs::read(black_box(&fixture.vec_record)).expect("read the record"),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("vec_u8/memory_hit", |b| {
        drop(disk_vec());
        b.iter_batched(|| (), |()| disk_vec(), BatchSize::PerIteration)
    });

    group.bench_function("byte_buf/tier_hit", |b| {
        b.iter_batched(
            || clear_memory("disk_byte_buf"),
            |()| disk_byte_buf(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("byte_buf/fs_read", |b| {
        b.iter_batched(
            || (),
            |()| std::fs::read(black_box(&fixture.byte_buf_record)).expect("read the record"),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("byte_buf/memory_hit", |b| {
        drop(disk_byte_buf());
        b.iter_batched(|| (), |()| disk_byte_buf(), BatchSize::PerIteration)
    });
    group.finish();

    // Free the 200 MiB held in memory before the Redis group.
    clear_memory("disk_vec");
    clear_memory("disk_byte_buf");
}

fn redis_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Bytes(SMALL as u64));
    group
}

fn redis_hit(c: &mut Criterion, fixture: &Fixture, records: &[String]) {
    let before = redis_keyed::stats();
    let mut next = 0;
    let mut group = redis_group(c, "redis_hit");
    group.bench_function("string_1k/tier_hit", |b| {
        b.iter_custom(|iters| fresh_hits(iters, &mut next, |n| drop(black_box(redis_keyed(n)))));
    });
    let mut connection = raw_connection(&fixture.redis);
    let mut read = 0;
    group.bench_function("string_1k/raw_get", |b| {
        b.iter_custom(|iters| {
            raw_reads(iters, &mut read, records, |record| {
                let bytes = redis::cmd("GET")
                    .arg(record)
                    .query::<Option<Vec<u8>>>(&mut connection)
                    .expect("GET the record")
                    .expect("the record exists");
                drop(black_box(bytes));
            })
        });
    });
    group.finish();
    let after = redis_keyed::stats();
    assert_eq!(
        (
            after.redis_hits - before.redis_hits,
            after.misses - before.misses
        ),
        (next, 0),
        "redis_keyed: every timed call must be a Redis hit"
    );
}

fn redis_hit_async(c: &mut Criterion, fixture: &Fixture, records: &[String]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let before = redis_keyed_async::stats();
    let mut next = 0;
    let mut group = redis_group(c, "redis_hit_async");
    group.bench_function("string_1k/tier_hit", |b| {
        b.iter_custom(|iters| {
            fresh_hits(iters, &mut next, |n| {
                drop(black_box(runtime.block_on(redis_keyed_async(n))));
            })
        });
    });
    let mut connection = runtime
        .block_on(
            redis::Client::open(fixture.redis.url())
                .expect("the bench's redis URL")
                .get_multiplexed_async_connection(),
        )
        .expect("connect to the bench's redis-server");
    let mut read = 0;
    group.bench_function("string_1k/raw_get", |b| {
        b.iter_custom(|iters| {
            raw_reads(iters, &mut read, records, |record| {
                let bytes = runtime.block_on(async {
                    redis::cmd("GET")
                        .arg(record)
                        .query_async::<Option<Vec<u8>>>(&mut connection)
                        .await
                        .expect("GET the record")
                        .expect("the record exists")
                });
                drop(black_box(bytes));
            })
        });
    });
    group.finish();
    let after = redis_keyed_async::stats();
    assert_eq!(
        (
            after.redis_hits - before.redis_hits,
            after.misses - before.misses
        ),
        (next, 0),
        "redis_keyed_async: every timed call must be a Redis hit"
    );
}

/// The hits forced by a clear of the memory tier, and the clear alone.
fn redis_hit_after_clear(c: &mut Criterion) {
    check_tier_hit("redis_string", redis_string, redis_string::stats, |s| {
        s.redis_hits
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    drop(runtime.block_on(redis_string_async()));
    let mut group = redis_group(c, "redis_hit_after_clear");
    group.bench_function("string_1k/tier_hit", |b| {
        b.iter_batched(
            || clear_memory("redis_string"),
            |()| redis_string(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("string_1k/tier_hit_async", |b| {
        b.iter_batched(
            || clear_memory("redis_string_async"),
            |()| runtime.block_on(redis_string_async()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("string_1k/clear_memory", |b| {
        b.iter_batched(
            || drop(redis_string()),
            |()| clear_memory("redis_string"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn main() {
    if let Ok(url) = std::env::var("PERSIST_TIERS_WRITER") {
        write_fresh_keys(&url);
        return;
    }
    let fixture = Fixture::start();
    run_writer(&fixture.redis);
    let (sync_records, async_records) = fresh_records(&fixture.redis);
    let mut criterion = Criterion::default().configure_from_args();
    disk_100mb(&mut criterion, &fixture);
    redis_hit(&mut criterion, &fixture, &sync_records);
    redis_hit_async(&mut criterion, &fixture, &async_records);
    redis_hit_after_clear(&mut criterion);
    criterion.final_summary();
}
