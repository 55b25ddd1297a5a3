//! The part every cache shares: configuration, the moka store, counters,
//! registration and the clear generation.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;

use crate::key::{Key, KeyHasher};
use crate::registry::{self, FunctionInfo, Kind, Registered};
use crate::stats::Counters;

/// How a cached function is configured: the macro arguments, resolved.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    /// Entries expire this long after they were written; reads do not extend it.
    pub ttl: Option<Duration>,
    /// At most this many entries; the least recently used one is evicted.
    pub max_entries: Option<u64>,
}

/// Who a cached function is.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// Full path, `module_path!()` and the function name.
    pub name: &'static str,
    /// A hash of the function's tokens: an edited body is a different function.
    pub code_hash: u64,
}

/// What the persistent tiers need to know of a cache, whatever it stores.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) identity: &'a Identity,
    pub(crate) ttl: Option<Duration>,
    pub(crate) counters: &'a Counters,
}

pub(crate) type Moka<S> = moka::sync::Cache<Key, S, KeyHasher>;

pub(crate) struct Core<S> {
    pub(crate) identity: Identity,
    pub(crate) kind: Kind,
    config: fn() -> Config,
    store: OnceLock<(Moka<S>, Config)>,
    pub(crate) counters: Counters,
    /// Bumped by every clear and invalidate: a computation that started before
    /// one returns its value to its caller but does not write it back.
    generation: AtomicU64,
}

impl<S> std::fmt::Debug for Core<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.identity.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Core<S> {
    pub(crate) const fn new(identity: Identity, kind: Kind, config: fn() -> Config) -> Self {
        Self {
            identity,
            kind,
            config,
            store: OnceLock::new(),
            counters: Counters::new(),
            generation: AtomicU64::new(0),
        }
    }

    /// The moka store, built and registered on first use.
    #[inline]
    pub(crate) fn moka(
        &'static self,
        owner: &'static dyn Registered,
        on_remove: impl Fn(&S, RemovalCause) + Send + Sync + 'static,
    ) -> &'static Moka<S> {
        &self.store.get_or_init(|| self.build(owner, on_remove)).0
    }

    #[cold]
    fn build(
        &'static self,
        owner: &'static dyn Registered,
        on_remove: impl Fn(&S, RemovalCause) + Send + Sync + 'static,
    ) -> (Moka<S>, Config) {
        let config = (self.config)();
        let mut builder = moka::sync::Cache::builder()
            .name(self.identity.name)
            // LRU, not TinyLFU: a new value is always admitted, as in Streamlit.
            .eviction_policy(EvictionPolicy::lru())
            .eviction_listener(move |_key, value, cause| {
                if matches!(cause, RemovalCause::Expired | RemovalCause::Size) {
                    self.counters.eviction();
                }
                on_remove(&value, cause);
            });
        if let Some(max) = config.max_entries {
            builder = builder.max_capacity(max);
        }
        if let Some(ttl) = config.ttl {
            builder = builder.time_to_live(ttl);
        }
        let cache = builder.build_with_hasher(KeyHasher);
        registry::register(owner);
        (cache, config)
    }

    pub(crate) fn config(&self) -> Config {
        self.store
            .get()
            .map(|(_, config)| *config)
            .unwrap_or_else(self.config)
    }

    pub(crate) fn view(&self) -> View<'_> {
        View {
            identity: &self.identity,
            ttl: self.config().ttl,
            counters: &self.counters,
        }
    }

    pub(crate) fn built(&self) -> Option<&Moka<S>> {
        self.store.get().map(|(cache, _)| cache)
    }

    /// After a store into a bounded cache, apply the bound now rather than
    /// lazily, so eviction follows exact LRU order (as Streamlit's does).
    pub(crate) fn after_store(&self) {
        if let Some((cache, config)) = self.store.get()
            && config.max_entries.is_some()
        {
            cache.run_pending_tasks();
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn bump_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A stable id for the reentrancy check.
    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    pub(crate) fn clear(&self) {
        self.bump_generation();
        if let Some(cache) = self.built() {
            cache.invalidate_all();
            // Deliver removal notifications (`on_release`) now, not lazily.
            cache.run_pending_tasks();
        }
    }

    pub(crate) fn invalidate(&self, key: &Key) -> bool {
        self.bump_generation();
        let Some(cache) = self.built() else {
            return false;
        };
        let removed = cache.remove(&key.as_ref()).is_some();
        cache.run_pending_tasks();
        removed
    }

    pub(crate) fn info(&self, entries: u64) -> FunctionInfo {
        let config = self.config();
        FunctionInfo {
            name: self.identity.name,
            kind: self.kind,
            ttl: config.ttl,
            max_entries: config.max_entries,
            persist: None,
            stats: self.counters.snapshot(entries),
        }
    }

    /// Entries held right now (after applying pending expirations).
    pub(crate) fn entry_count(&self) -> u64 {
        self.built().map_or(0, |cache| {
            cache.run_pending_tasks();
            cache.entry_count()
        })
    }
}

/// Runs `compute`, timing it and counting a panic as an error.
pub(crate) fn timed<T>(counters: &Counters, compute: impl FnOnce() -> T) -> (T, Duration) {
    let guard = PanicCounter(counters);
    let start = Instant::now();
    let value = compute();
    let elapsed = start.elapsed();
    std::mem::forget(guard);
    (value, elapsed)
}

/// Counts an error when dropped during a panic.
pub(crate) struct PanicCounter<'a>(pub(crate) &'a Counters);

impl Drop for PanicCounter<'_> {
    fn drop(&mut self) {
        self.0.error();
    }
}
