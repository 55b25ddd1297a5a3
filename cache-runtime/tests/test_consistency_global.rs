//! A global clear always wins: once `cache_runtime::cache_data::clear()` has
//! returned, no caller is ever served a value whose computation started before
//! it (see `test_consistency.rs` for the per-function clear and invalidate).
//!
//! Its own binary, because a global clear reaches every `#[cache_data]`
//! function of the process; the two tests here only get extra misses from each
//! other's clears. The persistent tiers are pointed at a temporary folder, since
//! a global clear also empties the disk tier.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Once};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use cache_runtime::{Stats, cache_data, persist};

/// How long each stress test hammers its cache.
const DURATION: Duration = Duration::from_secs(5);

/// Keys used by the stress tests.
const KEYS: u64 = 4;

/// A global clear also clears the disk tier: keep it away from the user's cache folder.
fn private_disk_folder() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = std::env::temp_dir().join(format!(
            "cache-runtime-consistency-global-{}",
            std::process::id()
        ));
        persist::configure(persist::Settings::default().dir(dir))
            .expect("nothing configured the persistent tiers before");
    });
}

/// A minimal executor (as in `test_concurrency.rs`).
fn block_on<F: Future>(future: F) -> F::Output {
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

/// The shared state of one stress run: the sequence number every body reads,
/// and the lowest value a call that starts now may return.
struct Race {
    seq: AtomicU64,
    floor: AtomicU64,
    noise: AtomicU64,
}

impl Race {
    const fn new() -> Self {
        Race {
            seq: AtomicU64::new(0),
            floor: AtomicU64::new(0),
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
    fn body(&self) -> u64 {
        let seen = self.seq.load(SeqCst);
        thread::yield_now();
        thread::sleep(Duration::from_micros(self.noise() % 200));
        seen
    }
}

/// Three readers call `call(k)` on random keys while one clearer calls
/// `cache_data::clear()` in a loop, for [`DURATION`]. The clearer bumps the
/// sequence number *before* clearing; once the clear returned, a value read
/// before the bump must never be served.
fn stress(what: &str, race: &'static Race, call: fn(u64) -> u64, stats: fn() -> Stats) {
    const READERS: usize = 3;
    private_disk_folder();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let (mut reads, mut stale, mut first_stale) = (0u64, 0u64, None);
                while !stop.load(SeqCst) {
                    let key = race.noise() % KEYS;
                    let floor = race.floor.load(SeqCst);
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
                cache_runtime::cache_data::clear();
                race.floor.store(seq, SeqCst);
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

#[test]
fn a_global_clear_always_wins() {
    static RACE: Race = Race::new();
    #[cache_data]
    fn raced(k: u64) -> u64 {
        let _ = k;
        RACE.body()
    }
    stress("cache_data::clear()", &RACE, raced, raced::stats);
}

#[test]
fn a_global_clear_always_wins_over_async_functions() {
    static RACE: Race = Race::new();
    #[cache_data]
    async fn raced(k: u64) -> u64 {
        let _ = k;
        RACE.body()
    }
    stress(
        "async cache_data::clear()",
        &RACE,
        |k| block_on(raced(k)),
        raced::stats,
    );
}
