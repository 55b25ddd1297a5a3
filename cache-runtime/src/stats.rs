//! Per-function counters and the [`Stats`] snapshot they produce.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use thread_local::ThreadLocal;

use crate::config::Eviction;

/// One thread's hit counter, alone on its cache line so that threads never
/// write to the same line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct CachePadded(AtomicU64);

/// A snapshot of one cached function's counters.
///
/// Counters start when the function is first called and survive `clear()`;
/// `entries` is the number of values held right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Calls answered from the cache, including callers that waited for a
    /// concurrent computation of the same key.
    pub hits: u64,
    /// Calls that ran the function body.
    pub misses: u64,
    /// Calls whose body returned `Err` (never cached) or panicked.
    pub errors: u64,
    /// Calls whose arguments could not be serialized into a key; they ran the
    /// body without the cache.
    pub uncacheable: u64,
    /// Entries that left memory on their own (not by `clear`/`invalidate`):
    /// the sum of [`Stats::evicted`].
    pub evictions: u64,
    /// [`Stats::evictions`] by reason.
    pub evicted: Evictions,
    /// Entries held in memory right now.
    pub entries: u64,
    /// Memory misses answered by the disk tier (`persist = "disk"`).
    pub disk_hits: u64,
    /// Memory misses answered by the Redis tier (`persist = "redis"`).
    pub redis_hits: u64,
    /// Persistent-tier failures (I/O, corrupt records, Redis down); each one
    /// fell back to computing, so the call still succeeded.
    pub persist_errors: u64,
    /// Bytes written to the persistent tier.
    pub bytes_written: u64,
    /// Total time spent running the body on misses.
    pub compute_time: Duration,
    /// Hits that served a value past its `ttl` while it was refreshed
    /// (`refresh_mode = "background"`); also counted in `hits`.
    pub stale_hits: u64,
    /// Background refreshes, by how they ended.
    pub refreshes: Refreshes,
    /// How long misses spent computing, by bucket.
    pub miss_times: ComputeTimes,
    /// How long background refreshes spent computing, by bucket.
    pub refresh_times: ComputeTimes,
}

/// The upper bounds, in seconds, of the [`ComputeTimes`] buckets: 5 ms to
/// 300 s (Streamlit's `cache_compute_duration_seconds`), and a last bucket
/// above them.
pub const COMPUTE_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Computations counted by how long they took: a histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComputeTimes {
    /// How many took at most [`COMPUTE_BUCKETS`]`[i]` (and more than the
    /// bucket before); the last counts those above 300 s.
    pub buckets: [u64; 16],
    /// Their total time.
    pub total: Duration,
}

impl ComputeTimes {
    /// How many computations it counts.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// The live form of [`ComputeTimes`].
#[derive(Debug, Default)]
struct TimesCounter {
    buckets: [AtomicU64; 16],
    nanos: AtomicU64,
}

impl TimesCounter {
    const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; 16],
            nanos: AtomicU64::new(0),
        }
    }

    fn record(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = COMPUTE_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(COMPUTE_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    fn snapshot(&self) -> ComputeTimes {
        ComputeTimes {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Relaxed)),
            total: Duration::from_nanos(self.nanos.load(Relaxed)),
        }
    }
}

/// Background refreshes (`refresh_mode = "background"`), by how they ended
/// (Streamlit's `cache_background_refreshes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refreshes {
    /// Computed and stored (or discarded by a clear that came meanwhile).
    pub succeeded: u64,
    /// Returned `Err` or panicked: the stale value was kept, the key cools down.
    pub failed: u64,
    /// Not started: every refresh worker was busy.
    pub skipped: u64,
    /// Time spent computing them.
    pub compute_time: Duration,
}

/// Entries that left memory on their own, by reason (Streamlit's
/// `cache_evictions` reasons).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Evictions {
    /// Their `ttl` passed.
    pub ttl: u64,
    /// `max_entries` made room for newer entries.
    pub max_entries: u64,
    /// `max_size` made room for newer entries.
    pub max_size: u64,
    /// A resource's `validate` rejected them.
    pub validate: u64,
    /// The process-wide memory budget (`CACHE_RUNTIME_MAX_MEMORY`) made
    /// room for newer entries, of this function or another.
    pub budget: u64,
}

impl Evictions {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.ttl + self.max_entries + self.max_size + self.validate + self.budget
    }
}

impl Stats {
    /// Adds `other`'s counts to these (the instantiations of a generic
    /// function).
    pub(crate) fn add(&mut self, other: &Stats) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        self.uncacheable += other.uncacheable;
        self.evictions += other.evictions;
        self.evicted.ttl += other.evicted.ttl;
        self.evicted.max_entries += other.evicted.max_entries;
        self.evicted.max_size += other.evicted.max_size;
        self.evicted.validate += other.evicted.validate;
        self.evicted.budget += other.evicted.budget;
        self.entries += other.entries;
        self.disk_hits += other.disk_hits;
        self.redis_hits += other.redis_hits;
        self.persist_errors += other.persist_errors;
        self.bytes_written += other.bytes_written;
        self.compute_time += other.compute_time;
        self.stale_hits += other.stale_hits;
        self.refreshes.succeeded += other.refreshes.succeeded;
        self.refreshes.failed += other.refreshes.failed;
        self.refreshes.skipped += other.refreshes.skipped;
        self.refreshes.compute_time += other.refreshes.compute_time;
        for (sum, times) in [
            (&mut self.miss_times, &other.miss_times),
            (&mut self.refresh_times, &other.refresh_times),
        ] {
            for (bucket, count) in sum.buckets.iter_mut().zip(times.buckets) {
                *bucket += count;
            }
            sum.total += times.total;
        }
    }

    /// The fraction of calls answered from the cache, `0.0` before any call.
    pub fn hit_ratio(&self) -> f64 {
        let calls = self.hits + self.misses;
        if calls == 0 {
            0.0
        } else {
            self.hits as f64 / calls as f64
        }
    }

    /// The mean time one miss spent computing.
    pub fn mean_compute_time(&self) -> Duration {
        match u32::try_from(self.misses) {
            Ok(0) => Duration::ZERO,
            Ok(misses) => self.compute_time / misses,
            Err(_) => Duration::from_secs_f64(self.compute_time.as_secs_f64() / self.misses as f64),
        }
    }

    /// An estimate of the time the cache saved: hits × mean compute time.
    pub fn time_saved(&self) -> Duration {
        Duration::from_secs_f64(self.mean_compute_time().as_secs_f64() * self.hits as f64)
    }
}

/// The live counters behind [`Stats`].
///
/// Hits, counted on every cached call, are per thread: each thread adds to
/// its own counter with a plain load and store (no contended read-modify-
/// write), and a snapshot sums them. A thread's counter outlives the thread
/// (the slot is reused by later threads), so no hit is ever lost.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    hits: ThreadLocal<CachePadded>,
    misses: AtomicU64,
    errors: AtomicU64,
    uncacheable: AtomicU64,
    evicted: [AtomicU64; 5],
    compute_nanos: AtomicU64,
    stale_hits: AtomicU64,
    refreshed: AtomicU64,
    refresh_failed: AtomicU64,
    refresh_skipped: AtomicU64,
    refresh_nanos: AtomicU64,
    miss_times: TimesCounter,
    refresh_times: TimesCounter,
    disk_hits: AtomicU64,
    redis_hits: AtomicU64,
    persist_errors: AtomicU64,
    bytes_written: AtomicU64,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            hits: ThreadLocal::new(),
            misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            uncacheable: AtomicU64::new(0),
            evicted: [const { AtomicU64::new(0) }; 5],
            compute_nanos: AtomicU64::new(0),
            stale_hits: AtomicU64::new(0),
            refreshed: AtomicU64::new(0),
            refresh_failed: AtomicU64::new(0),
            refresh_skipped: AtomicU64::new(0),
            refresh_nanos: AtomicU64::new(0),
            miss_times: TimesCounter::new(),
            refresh_times: TimesCounter::new(),
            disk_hits: AtomicU64::new(0),
            redis_hits: AtomicU64::new(0),
            persist_errors: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn hit(&self) {
        count_hit(self.local_hits());
    }

    /// This thread's hit counter, for callers that keep it at hand (a
    /// thread's front table): pass it to [`count_hit`].
    #[inline]
    pub(crate) fn local_hits(&self) -> &AtomicU64 {
        &self.hits.get_or_default().0
    }

    pub(crate) fn miss(&self, elapsed: Duration) {
        self.misses.fetch_add(1, Relaxed);
        self.miss_times.record(elapsed);
        self.compute_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    pub(crate) fn stale_hit(&self) {
        self.stale_hits.fetch_add(1, Relaxed);
    }

    pub(crate) fn refreshed(&self, elapsed: Duration) {
        self.refreshed.fetch_add(1, Relaxed);
        self.refresh_times.record(elapsed);
        self.refresh_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    pub(crate) fn refresh_failed(&self, elapsed: Duration) {
        self.refresh_failed.fetch_add(1, Relaxed);
        self.refresh_times.record(elapsed);
    }

    pub(crate) fn refresh_skipped(&self) {
        self.refresh_skipped.fetch_add(1, Relaxed);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn uncacheable(&self) {
        self.uncacheable.fetch_add(1, Relaxed);
    }

    pub(crate) fn eviction(&self, why: Eviction) {
        self.evicted[why as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn tier_hit(&self, tier: crate::config::Tier) {
        match tier {
            crate::config::Tier::Disk => self.disk_hits.fetch_add(1, Relaxed),
            crate::config::Tier::Redis => self.redis_hits.fetch_add(1, Relaxed),
        };
    }

    pub(crate) fn persist_error(&self) {
        self.persist_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn written(&self, bytes: u64) {
        self.bytes_written.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn snapshot(&self, entries: u64) -> Stats {
        let evicted = |why: Eviction| self.evicted[why as usize].load(Relaxed);
        let evicted = Evictions {
            ttl: evicted(Eviction::Ttl),
            max_entries: evicted(Eviction::MaxEntries),
            max_size: evicted(Eviction::MaxSize),
            validate: evicted(Eviction::Validate),
            budget: evicted(Eviction::Budget),
        };
        Stats {
            hits: self.hits.iter().map(|hits| hits.0.load(Relaxed)).sum(),
            misses: self.misses.load(Relaxed),
            errors: self.errors.load(Relaxed),
            uncacheable: self.uncacheable.load(Relaxed),
            evictions: evicted.total(),
            evicted,
            entries,
            disk_hits: self.disk_hits.load(Relaxed),
            redis_hits: self.redis_hits.load(Relaxed),
            persist_errors: self.persist_errors.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            compute_time: Duration::from_nanos(self.compute_nanos.load(Relaxed)),
            stale_hits: self.stale_hits.load(Relaxed),
            refreshes: Refreshes {
                succeeded: self.refreshed.load(Relaxed),
                failed: self.refresh_failed.load(Relaxed),
                skipped: self.refresh_skipped.load(Relaxed),
                compute_time: Duration::from_nanos(self.refresh_nanos.load(Relaxed)),
            },
            miss_times: self.miss_times.snapshot(),
            refresh_times: self.refresh_times.snapshot(),
        }
    }
}

/// Adds a hit to a thread's own counter (see [`Counters::local_hits`]).
#[inline]
pub(crate) fn count_hit(hits: &AtomicU64) {
    // Only this thread writes its counter: load + store is exact.
    hits.store(hits.load(Relaxed) + 1, Relaxed);
}
