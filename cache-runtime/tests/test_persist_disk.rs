//! `persist = "disk"`: records survive the memory tier, honour the ttl, and
//! every fault (truncation, flipped bytes, a foreign record, an unwritable
//! folder, a full bound) is a logged miss with a correct result.
//!
//! One process-wide disk folder (set once with `persist::configure`), so the
//! faults run as one test in order.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::Duration;

use cache_runtime::{cache_data, persist};
use common::fresh_temp_dir;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cache_data(persist = "disk")]
fn thumbnail(path: &str, width: u32) -> Vec<u8> {
    CALLS.fetch_add(1, SeqCst);
    format!("{path}@{width}").into_bytes()
}

static SHORT_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cache_data(persist = "disk", ttl = "300ms")]
fn short_lived(x: u32) -> u32 {
    SHORT_CALLS.fetch_add(1, SeqCst);
    x
}

static ERR_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cache_data(persist = "disk")]
fn fallible(x: u32) -> Result<u32, String> {
    ERR_CALLS.fetch_add(1, SeqCst);
    if x == 0 { Err("zero".into()) } else { Ok(x) }
}

/// Captures this process's log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn install() -> Self {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    }

    /// The lines logged since the last call.
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn records(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for function in fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in fs::read_dir(function.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if file.path().extension().is_some_and(|e| e == "rec") {
                found.push(file.path());
            }
        }
    }
    found
}

fn only_record(dir: &Path) -> PathBuf {
    let found = records(dir);
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// Drops the memory tier only, as a restarted process would start.
fn forget_memory() {
    cache_runtime::__private::clear_memory("thumbnail");
}

#[test]
fn disk_tier() {
    let dir = fresh_temp_dir("disk-test");
    persist::configure(persist::Settings::default().dir(&dir).disk_max_bytes(4096)).unwrap();
    let logs = Logs::install();

    // A miss writes memory and disk; a memory miss reads the disk.
    assert_eq!(thumbnail("a.png", 64), b"a.png@64");
    let record = only_record(&dir);
    forget_memory();
    assert_eq!(thumbnail("a.png", 64), b"a.png@64");
    assert_eq!(CALLS.load(SeqCst), 1, "answered from disk");
    assert_eq!(thumbnail::stats().disk_hits, 1);
    let listed = cache_runtime::functions()
        .into_iter()
        .find(|f| f.short_name() == "thumbnail")
        .unwrap();
    assert_eq!(listed.persist, Some(persist::Persist::Disk));
    assert!(
        cache_runtime::functions()
            .iter()
            .filter(|f| f.short_name() != "thumbnail")
            .all(|f| f.persist.is_some())
    );
    assert!(thumbnail::stats().bytes_written > 0);

    // Truncated, flipped and foreign records are misses, removed, counted.
    let good = fs::read(&record).unwrap();
    let mut expected_calls = 1;
    for (fault, bytes, logged) in [
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "checksum mismatch",
        ),
        (
            "flipped",
            {
                let mut b = good.clone();
                b[good.len() / 2] ^= 0x40;
                b
            },
            "checksum mismatch",
        ),
        ("empty", Vec::new(), "truncated"),
        (
            "foreign",
            b"not a cache record at all".to_vec(),
            "not a cache record",
        ),
    ] {
        fs::write(&record, &bytes).unwrap();
        forget_memory();
        let errors_before = thumbnail::stats().persist_errors;
        assert_eq!(thumbnail("a.png", 64), b"a.png@64", "{fault}");
        expected_calls += 1;
        assert_eq!(CALLS.load(SeqCst), expected_calls, "{fault}: recomputed");
        assert_eq!(
            thumbnail::stats().persist_errors,
            errors_before + 1,
            "{fault}: counted"
        );
        let log = logs.take();
        assert!(
            log.contains("WARN")
                && log.contains("refused a persistent record")
                && log.contains(logged),
            "{fault}: a clear log line, got {log:?}"
        );
        // The bad record was replaced by a good one: the next memory miss reads it.
        forget_memory();
        assert_eq!(thumbnail("a.png", 64), b"a.png@64");
        assert_eq!(
            CALLS.load(SeqCst),
            expected_calls,
            "{fault}: replaced by a good record"
        );
    }

    // A record whose stored key differs (a digest collision) is refused.
    thumbnail("b.png", 64);
    expected_calls += 1;
    let other = records(&dir).into_iter().find(|p| *p != record).unwrap();
    fs::copy(&other, &record).unwrap(); // b's record under a's file name
    forget_memory();
    logs.take();
    assert_eq!(thumbnail("a.png", 64), b"a.png@64");
    assert!(
        logs.take()
            .contains("record of other arguments (digest collision)")
    );
    expected_calls += 1;
    assert_eq!(CALLS.load(SeqCst), expected_calls);

    // Errors are never persisted.
    assert!(fallible(0).is_err());
    assert!(fallible(0).is_err());
    assert_eq!(ERR_CALLS.load(SeqCst), 2);

    // The ttl is honoured on disk.
    short_lived(1);
    cache_runtime::__private::clear_memory("short_lived");
    short_lived(1);
    assert_eq!(SHORT_CALLS.load(SeqCst), 1, "fresh on disk");
    sleep(Duration::from_millis(400));
    short_lived(1);
    assert_eq!(SHORT_CALLS.load(SeqCst), 2, "expired on disk and in memory");

    // The bound (4 KiB) removes the oldest records.
    for i in 0..100 {
        thumbnail(&format!("bulk-{i:03}.png"), 1024);
    }
    assert!(
        logs.take()
            .contains("disk cache over its bound: removed the oldest records")
    );
    let total: u64 = records(&dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert!(
        total <= 4096,
        "the folder stays under its bound ({total} bytes)"
    );
    assert!(records(&dir).iter().any(|p| {
        fs::read(p)
            .unwrap()
            .windows(12)
            .any(|w| w == b"bulk-099.png")
    }));

    // f::clear() removes the function's records; cache_data::clear() all of them.
    thumbnail::clear();
    assert!(
        records(&dir)
            .iter()
            .all(|p| !fs::read(p).unwrap().windows(4).any(|w| w == b".png"))
    );
    short_lived(2);
    cache_runtime::cache_data::clear();
    assert!(records(&dir).is_empty());

    // A folder that cannot be written: the call still succeeds, the failure is counted.
    fs::remove_dir_all(&dir).unwrap();
    fs::write(&dir, b"a file where the cache folder should be").unwrap();
    let errors_before = thumbnail::stats().persist_errors;
    logs.take();
    assert_eq!(thumbnail("c.png", 8), b"c.png@8");
    assert!(thumbnail::stats().persist_errors > errors_before);
    let log = logs.take();
    assert!(
        log.contains("WARN") && log.contains(&dir.display().to_string()),
        "{log:?}"
    );
    fs::remove_file(&dir).unwrap();
}
