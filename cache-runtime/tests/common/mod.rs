//! Helpers shared by the integration tests: a minimal executor, a future that
//! yields, the disk tier's private folder, and the clear-stress harness.
//!
//! Each test file that needs them declares `mod common;`.

// Every test binary compiles its own copy of this module and uses only some
// of its helpers; the others would be reported as dead code in that binary.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use cache_runtime::{Stats, persist};

// ---------------------------------------------------------------------------
// A minimal executor
// ---------------------------------------------------------------------------

/// A minimal executor: no tokio, no async-std — the async functions must work
/// without any runtime.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct ThreadWaker(thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

/// Returns `Pending` the given number of times (waking itself), then `Ready`.
pub(crate) struct Yield(pub(crate) u32);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

/// This process's resident set size, in bytes (`VmRSS` of `/proc/self/status`).
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmRSS in kB");
    kib * 1024
}

// ---------------------------------------------------------------------------
// The disk tier's folder
// ---------------------------------------------------------------------------

/// `cache-runtime-{name}-{pid}` in the system's temporary folder, emptied: a
/// folder of this test process's own, away from the user's cache folder.
pub(crate) fn fresh_temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cache-runtime-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Points the persistent tiers at [`fresh_temp_dir`]`(name)`, once for the
/// whole test binary (the settings are process-wide; a later call, whatever
/// its `name`, returns the folder of the first).
pub(crate) fn private_disk_folder(name: &str) -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = fresh_temp_dir(name);
        persist::configure(persist::Settings::default().dir(&dir))
            .expect("nothing configured the persistent tiers before");
        dir
    })
}

// ---------------------------------------------------------------------------
// A clear always wins (stress)
// ---------------------------------------------------------------------------

/// How long each stress test hammers its cache.
pub(crate) const DURATION: Duration = Duration::from_secs(5);

/// Keys used by the stress tests.
pub(crate) const KEYS: u64 = 4;

/// The shared state of one stress run: the sequence number every body reads,
/// and per key the lowest value a call that starts now may return.
pub(crate) struct Race {
    seq: AtomicU64,
    floors: [AtomicU64; KEYS as usize],
    noise: AtomicU64,
}

impl Race {
    pub(crate) const fn new() -> Self {
        Race {
            seq: AtomicU64::new(0),
            floors: [const { AtomicU64::new(0) }; KEYS as usize],
            noise: AtomicU64::new(0),
        }
    }

    /// A cheap pseudo-random number (splitmix64), to vary the timing.
    fn noise(&self) -> u64 {
        let mut x = self.noise.fetch_add(0x9E37_79B9_7F4A_7C15, SeqCst);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    /// The body of every stress function: reads the sequence number when it
    /// starts, then lingers a little to widen the race window.
    pub(crate) fn body(&self) -> u64 {
        let seen = self.seq.load(SeqCst);
        thread::yield_now();
        thread::sleep(Duration::from_micros(self.noise() % 200));
        seen
    }
}

/// How the clearer thread clears.
pub(crate) enum Clearing {
    /// `f::clear()` or `cache_data::clear()`: publishes one floor for every key.
    Function(fn()),
    /// `f::invalidate(k)` for each key in turn, publishing that key's floor
    /// as soon as its invalidate returned.
    EachKey(fn(u64)),
}

/// Three readers call `call(k)` on random keys while one clearer clears in a
/// loop, for [`DURATION`]. The clearer bumps the sequence number *before*
/// clearing, so a body that started after the bump reads the new number; once
/// the clear returned, a value read before the bump must never be served.
pub(crate) fn stress(
    what: &str,
    race: &'static Race,
    call: fn(u64) -> u64,
    clearing: Clearing,
    stats: fn() -> Stats,
) {
    const READERS: usize = 3;
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let (mut reads, mut stale, mut first_stale) = (0u64, 0u64, None);
                while !stop.load(SeqCst) {
                    let key = race.noise() % KEYS;
                    let floor = race.floors[key as usize].load(SeqCst);
                    let value = call(key);
                    reads += 1;
                    if value < floor {
                        stale += 1;
                        first_stale.get_or_insert((key, value, floor));
                    }
                }
                (reads, stale, first_stale)
            })
        })
        .collect();
    let clearer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut clears = 0u64;
            while !stop.load(SeqCst) {
                let seq = race.seq.fetch_add(1, SeqCst) + 1;
                match clearing {
                    Clearing::Function(clear) => {
                        clear();
                        for floor in &race.floors {
                            floor.store(seq, SeqCst);
                        }
                    }
                    Clearing::EachKey(invalidate) => {
                        for key in 0..KEYS {
                            invalidate(key);
                            race.floors[key as usize].store(seq, SeqCst);
                        }
                    }
                }
                clears += 1;
                // Let some values live long enough to be hit.
                thread::sleep(Duration::from_micros(race.noise() % 500));
            }
            clears
        })
    };
    thread::sleep(DURATION);
    stop.store(true, SeqCst);
    let clears = clearer.join().expect("the clearer panicked");
    let (mut reads, mut stale, mut first_stale) = (0, 0, None);
    for reader in readers {
        let (r, s, first) = reader.join().expect("a reader panicked");
        reads += r;
        stale += s;
        first_stale = first_stale.or(first);
    }
    let stats = stats();
    eprintln!("{what}: {reads} reads, {clears} clears, {stale} stale, {stats:?}");
    assert_eq!(
        stale,
        0,
        "{what}: {stale} of {reads} reads returned a value computed before a clear that had \
         already returned (first: {}); {clears} clears, {stats:?}",
        first_stale.map_or_else(String::new, |(key, value, floor)| format!(
            "key {key} returned {value}, floor {floor}"
        )),
    );
    assert!(
        clears > 100,
        "{what}: the clearer barely ran ({clears} clears)"
    );
    assert!(
        stats.hits > 0,
        "{what}: the stress never hit the cache: {stats:?}"
    );
    assert!(
        stats.misses > 100,
        "{what}: the stress barely missed: {stats:?}"
    );
}
