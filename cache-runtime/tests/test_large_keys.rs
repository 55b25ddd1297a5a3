//! Keys above the digest threshold (`DIGEST_ABOVE`, 256 bytes of postcard
//! key bytes): such a key is stored and compared as the BLAKE3 digest of its
//! bytes.
//!
//! 1. Two different large arguments (`&[f64]`, `Vec<u8>`, `String`, several
//!    arguments together) never share an entry; repeated calls hit.
//! 2. Keys just below, at and just above the threshold are all distinct.
//! 3. `invalidate(&big)` removes exactly that entry.
//! 4. The disk tier finds a large key's record again, in this process after
//!    the memory tier is dropped, and in another process (the digest and the
//!    record name do not depend on the per-process hash seed).
//! 5. A 64 MiB argument hits, and the memory an entry keeps does not grow
//!    with its key: 20 entries keyed by 8 MiB slices cost far less than
//!    20 × 8 MiB.

mod common;

use common::rss_bytes;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Instant;

use cache_runtime::cache_data;

/// The tests that measure the process's memory run one at a time, and the
/// 64 MiB test does not run beside them.
static MEMORY: Mutex<()> = Mutex::new(());

/// `n` distinct, deterministic floats.
fn floats(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 * 0.5 - 7.25).collect()
}

// ---------------------------------------------------------------------------
// 1. Different large arguments never share an entry
// ---------------------------------------------------------------------------

#[test]
fn float_slices_differing_in_their_last_element_never_share_an_entry() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn summary(xs: &[f64]) -> (usize, f64, f64) {
        RUNS.fetch_add(1, SeqCst);
        (xs.len(), xs[xs.len() - 1], xs.iter().sum())
    }
    let a = floats(100_000);
    let mut b = a.clone();
    *b.last_mut().unwrap() += 1.0;
    let mut c = a.clone();
    c.push(0.0); // one element longer
    let d = a[..99_999].to_vec(); // one element shorter
    let expected = |xs: &[f64]| (xs.len(), xs[xs.len() - 1], xs.iter().sum::<f64>());
    for pass in 1..=3 {
        for (name, xs) in [("a", &a), ("b", &b), ("c", &c), ("d", &d)] {
            assert_eq!(
                summary(xs),
                expected(xs),
                "pass {pass}: slice {name} got another slice's value"
            );
        }
        assert_eq!(
            RUNS.load(SeqCst),
            4,
            "pass {pass}: each of the 4 different slices computes exactly once"
        );
    }
    let stats = summary::stats();
    assert_eq!(
        (stats.misses, stats.hits, stats.entries),
        (4, 8, 4),
        "{stats:?}"
    );
}

#[test]
fn byte_vectors_differing_in_one_byte_never_share_an_entry() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn fingerprint(bytes: Vec<u8>) -> (usize, u8, u8) {
        RUNS.fetch_add(1, SeqCst);
        (bytes.len(), bytes[5_000], bytes[9_999])
    }
    let base: Vec<u8> = (0..10_000).map(|i| (i % 251) as u8).collect();
    let mut variants = vec![base.clone()];
    for (at, flip) in [(5_000, 1), (5_000, 2), (9_999, 1), (0, 0x80)] {
        let mut variant = base.clone();
        variant[at] ^= flip;
        variants.push(variant);
    }
    for pass in 1..=3 {
        for (i, bytes) in variants.iter().enumerate() {
            assert_eq!(
                fingerprint(bytes.clone()),
                (bytes.len(), bytes[5_000], bytes[9_999]),
                "pass {pass}: vector {i} got another vector's value"
            );
        }
        assert_eq!(
            RUNS.load(SeqCst),
            variants.len(),
            "pass {pass}: each vector (they differ in one byte) computes exactly once"
        );
    }
    let stats = fingerprint::stats();
    assert_eq!((stats.misses, stats.hits), (5, 10), "{stats:?}");
}

#[test]
fn long_strings_never_share_an_entry() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn echo(text: String) -> String {
        RUNS.fetch_add(1, SeqCst);
        text
    }
    let a = "x".repeat(300);
    let mut b = a.clone();
    b.replace_range(150..151, "y");
    let c = "x".repeat(299) + "é"; // 301 bytes
    let d = "x".repeat(301);
    let texts = [&a, &b, &c, &d];
    for pass in 1..=3 {
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(
                &echo((*text).clone()),
                *text,
                "pass {pass}: string {i} got another string's value"
            );
        }
        assert_eq!(RUNS.load(SeqCst), texts.len(), "pass {pass}");
    }
}

#[test]
fn several_large_arguments_together_never_share_an_entry() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn joined(name: &str, xs: &[f64], tag: u32) -> (String, usize, u32) {
        RUNS.fetch_add(1, SeqCst);
        (name.to_owned(), xs.len(), tag)
    }
    let long = "n".repeat(200);
    let xs = floats(50);
    let more = floats(51);
    // The boundary between the arguments moves: the same bytes overall must
    // not make the same key (postcard's length prefixes keep them apart).
    let calls: [(&str, &[f64], u32); 5] = [
        (&long, &xs, 1),
        (&long, &xs, 2),
        (&long[1..], &xs, 1),
        (&long, &more, 1),
        ("", &more, 1),
    ];
    for pass in 1..=3 {
        for (i, (name, xs, tag)) in calls.iter().enumerate() {
            assert_eq!(
                joined(name, xs, *tag),
                ((*name).to_owned(), xs.len(), *tag),
                "pass {pass}: call {i} got another call's value"
            );
        }
        assert_eq!(RUNS.load(SeqCst), calls.len(), "pass {pass}");
    }
}

// ---------------------------------------------------------------------------
// 2. At the threshold
// ---------------------------------------------------------------------------

#[test]
fn keys_around_the_threshold_are_all_distinct() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn measured(bytes: &[u8]) -> (usize, u8) {
        RUNS.fetch_add(1, SeqCst);
        (bytes.len(), bytes.last().copied().unwrap_or(0))
    }
    // A `&[u8]` of length n has n + 2 key bytes here (a two-byte varint
    // length): 253 → 255, 254 → 256 (the longest plain key), 255 → 257 (the
    // shortest digested one), 256 → 258, 257 → 259.
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for len in 250..=260 {
        inputs.push(vec![0xab; len]);
        let mut other = vec![0xab; len];
        *other.last_mut().unwrap() = 0xcd;
        inputs.push(other);
    }
    // Also the first byte differs: for a digested key it is streamed into
    // the digest before the rest.
    for len in [254, 255, 256] {
        let mut first = vec![0xab; len];
        first[0] = 0;
        inputs.push(first);
    }
    for pass in 1..=3 {
        for bytes in &inputs {
            assert_eq!(
                measured(bytes),
                (bytes.len(), *bytes.last().unwrap()),
                "pass {pass}: {} bytes ending in {:#x} got another key's value",
                bytes.len(),
                bytes.last().unwrap()
            );
        }
        assert_eq!(
            RUNS.load(SeqCst),
            inputs.len(),
            "pass {pass}: each of the {} distinct keys around the threshold computes exactly once",
            inputs.len()
        );
    }
    let stats = measured::stats();
    let n = inputs.len() as u64;
    assert_eq!((stats.misses, stats.hits), (n, 2 * n), "{stats:?}");
}

// ---------------------------------------------------------------------------
// 3. invalidate(&big)
// ---------------------------------------------------------------------------

#[test]
fn invalidating_a_large_key_removes_exactly_that_entry() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn total(xs: &[f64]) -> (usize, f64) {
        RUNS.fetch_add(1, SeqCst);
        (RUNS.load(SeqCst), xs.iter().sum())
    }
    let a = floats(10_000);
    let mut b = a.clone();
    b[0] = 1e9;
    let mut c = a.clone();
    c[9_999] = -1e9;
    // Each: a miss, a moka hit that fills the front table, a front hit.
    let before: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|xs| {
            let first = total(xs);
            assert_eq!(total(xs), first);
            assert_eq!(total(xs), first);
            first
        })
        .collect();
    assert_eq!(RUNS.load(SeqCst), 3);
    assert!(total::invalidate(&b), "b was cached");
    assert!(
        !total::invalidate(&b),
        "b was removed by the first invalidate"
    );
    assert_eq!(total(&a), before[0], "a still hits");
    assert_eq!(total(&c), before[2], "c still hits");
    assert_eq!(
        RUNS.load(SeqCst),
        3,
        "invalidating b touched no other entry"
    );
    let recomputed = total(&b);
    assert_eq!(RUNS.load(SeqCst), 4, "b is computed again");
    assert_ne!(recomputed, before[1]);
    assert_eq!(recomputed.1, before[1].1);
    assert_eq!(total(&b), recomputed, "and cached again");
    assert_eq!(total::stats().entries, 3);
}

// ---------------------------------------------------------------------------
// 4. The disk tier finds a large key again
// ---------------------------------------------------------------------------

static SUM_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cache_data(persist = "disk")]
fn sum_big(xs: &[f64]) -> f64 {
    SUM_RUNS.fetch_add(1, SeqCst);
    xs.iter().sum()
}

/// Set (to the disk folder) for the child process of
/// [`a_large_key_is_found_on_disk_after_memory_is_dropped`].
const CHILD_DIR: &str = "CACHE_RUNTIME_LARGE_KEYS_CHILD_DIR";

/// The argument both processes use.
fn big_argument() -> Vec<f64> {
    floats(100_000)
}

#[test]
fn a_large_key_is_found_on_disk_after_memory_is_dropped() {
    let dir = common::private_disk_folder("large-keys");
    let xs = big_argument();
    let expected: f64 = xs.iter().sum();
    assert_eq!(sum_big(&xs), expected);
    assert_eq!(SUM_RUNS.load(SeqCst), 1);
    cache_runtime::__private::clear_memory("sum_big");
    assert_eq!(sum_big(&xs), expected);
    let stats = sum_big::stats();
    assert_eq!(
        (SUM_RUNS.load(SeqCst), stats.disk_hits),
        (1, 1),
        "after the memory tier was dropped, the large key's record must be read from disk, \
         not recomputed: {stats:?}"
    );
    // A different large argument is not answered by that record.
    let mut other = xs.clone();
    other[50_000] += 1.0;
    assert_eq!(sum_big(&other), other.iter().sum::<f64>());
    assert_eq!(SUM_RUNS.load(SeqCst), 2);
    assert_eq!(sum_big::stats().disk_hits, 1);

    // Another process (this test binary again, running only
    // `child_process_reads_the_large_key_record`) with its own hash seed
    // must find the record too.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_reads_the_large_key_record",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .output()
        .expect("the child process runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.contains("1 passed"),
        "the child process could not read the large key's record: {report}"
    );
}

/// The other process of [`a_large_key_is_found_on_disk_after_memory_is_dropped`];
/// in a normal run (without [`CHILD_DIR`]) it does nothing.
#[test]
fn child_process_reads_the_large_key_record() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    cache_runtime::persist::configure(cache_runtime::persist::Settings::default().dir(dir))
        .expect("the child configures the parent's folder first");
    let xs = big_argument();
    assert_eq!(sum_big(&xs), xs.iter().sum::<f64>());
    let stats = sum_big::stats();
    assert_eq!(
        (SUM_RUNS.load(SeqCst), stats.disk_hits),
        (0, 1),
        "a new process must find the record of a large key on disk: {stats:?}"
    );
}

// ---------------------------------------------------------------------------
// 5. Huge arguments
// ---------------------------------------------------------------------------

#[test]
fn a_64_mib_argument_hits() {
    let _memory = MEMORY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn checksum(xs: &[f64]) -> f64 {
        RUNS.fetch_add(1, SeqCst);
        xs.iter().step_by(4096).sum()
    }
    let mut xs = vec![0.0f64; 8 << 20]; // 64 MiB
    for (i, x) in xs.iter_mut().enumerate().step_by(4096) {
        *x = i as f64;
    }
    let started = Instant::now();
    let first = checksum(&xs);
    assert_eq!(checksum(&xs), first);
    assert_eq!(
        RUNS.load(SeqCst),
        1,
        "a 64 MiB argument must hit on the second call"
    );
    xs[(8 << 20) - 1] = 1.0;
    checksum(&xs);
    assert_eq!(
        RUNS.load(SeqCst),
        2,
        "changing its last element is another key"
    );
    eprintln!("3 calls with 64 MiB keys: {:?}", started.elapsed());
}

#[test]
fn an_entry_does_not_keep_its_large_key() {
    let _memory = MEMORY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    const CALLS: usize = 20;
    const LEN: usize = 1 << 20; // 8 MiB of f64
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn first_and_len(xs: &[f64]) -> (f64, usize) {
        RUNS.fetch_add(1, SeqCst);
        (xs[0], xs.len())
    }
    let mut xs = floats(LEN);
    // Warm up the key writer and the cache before measuring.
    xs[0] = -1.0;
    first_and_len(&xs);
    let before = rss_bytes();
    for i in 0..CALLS {
        xs[0] = i as f64;
        assert_eq!(first_and_len(&xs), (i as f64, LEN));
    }
    let grown = rss_bytes().saturating_sub(before);
    assert_eq!(RUNS.load(SeqCst), CALLS + 1);
    assert_eq!(first_and_len::stats().entries, CALLS as u64 + 1);
    // The entries are still there and hit.
    for i in [0, CALLS / 2, CALLS - 1] {
        xs[0] = i as f64;
        assert_eq!(first_and_len(&xs), (i as f64, LEN));
    }
    assert_eq!(RUNS.load(SeqCst), CALLS + 1, "the 8 MiB keys hit");
    eprintln!(
        "{CALLS} entries with 8 MiB keys: RSS grew by {} KiB",
        grown / 1024
    );
    let keys_bytes = (CALLS * LEN * 8) as u64;
    assert!(
        grown < keys_bytes / 8,
        "RSS grew by {} MiB for {CALLS} entries keyed by 8 MiB slices: entries must keep a \
         32-byte digest, not the key ({} MiB in all)",
        grown >> 20,
        keys_bytes >> 20
    );
}
