//! The `#[cache_data]` caches: every caller gets its own clone of the value.

use std::future::Future;

use moka::notification::RemovalCause;

use crate::engine::{AsyncMiss, Lookup, Slot, infallible};
use crate::key::{self, Key, KeyError, KeyWriter};
use crate::registry::{FunctionInfo, Kind, Registered};
use crate::stats::Stats;
use crate::store::{Config, Core, Identity, Moka};

/// The cache behind one synchronous `#[cache_data]` function.
///
/// Generated code holds it in a `static`; users reach it through the
/// function's companion handle (`my_fn::clear()`, `my_fn::stats()`, …).
#[derive(Debug)]
pub struct DataCache<V> {
    core: Core<V>,
}

impl<V: Clone + Send + Sync + 'static> DataCache<V> {
    /// A cache that is built (and registered) on first use.
    pub const fn new(identity: Identity, config: fn() -> Config) -> Self {
        Self {
            core: Core::new(identity, Kind::Data, config),
        }
    }

    #[inline]
    fn moka(&'static self) -> &'static Moka<V> {
        self.core.moka(self, |_: &V, _: RemovalCause| {})
    }

    /// Looks up the key `write_key` writes; finish with [`Lookup::or_compute`].
    #[inline]
    pub fn lookup(
        &'static self,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    ) -> Lookup<Self, V, Key> {
        Lookup {
            cache: self,
            found: self.core.find(self.moka(), write_key, |_| true),
        }
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.core.clear();
    }

    /// Removes the entry for one key; `true` if there was one.
    pub fn invalidate(
        &self,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    ) -> bool {
        match key::owned_key(write_key) {
            Ok(key) => self.core.invalidate(&key),
            Err(_) => false,
        }
    }

    /// This function's counters.
    pub fn stats(&self) -> Stats {
        self.core.counters.snapshot(self.core.entry_count())
    }
}

impl<V: Clone + Send + Sync + 'static> Registered for DataCache<V> {
    fn info(&self) -> FunctionInfo {
        self.core.info(self.core.entry_count())
    }
    fn clear(&self) {
        self.core.clear();
    }
    fn kind(&self) -> Kind {
        Kind::Data
    }
    fn name(&self) -> &'static str {
        self.core.identity.name
    }
}

/// The cache behind one `async` `#[cache_data]` function.
///
/// Runtime-agnostic: concurrent callers of one key await one computation
/// whatever executor polls them.
#[derive(Debug)]
pub struct AsyncDataCache<V> {
    core: Core<Slot<V>>,
}

impl<V: Clone + Send + Sync + 'static> AsyncDataCache<V> {
    /// A cache that is built (and registered) on first use.
    pub const fn new(identity: Identity, config: fn() -> Config) -> Self {
        Self {
            core: Core::new(identity, Kind::Data, config),
        }
    }

    #[inline]
    fn moka(&'static self) -> &'static Moka<Slot<V>> {
        self.core.moka(self, |_: &Slot<V>, _: RemovalCause| {})
    }

    /// Looks up the key `write_key` writes; finish with `or_compute(..).await`.
    #[inline]
    pub fn lookup(
        &'static self,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    ) -> Lookup<Self, V, AsyncMiss<V>> {
        Lookup {
            cache: self,
            found: self.core.find_async(self.moka(), write_key, |_| true),
        }
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.core.clear();
    }

    /// Removes the entry for one key; `true` if there was one.
    pub fn invalidate(
        &self,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    ) -> bool {
        match key::owned_key(write_key) {
            Ok(key) => self.core.invalidate(&key),
            Err(_) => false,
        }
    }

    /// This function's counters.
    pub fn stats(&self) -> Stats {
        self.core.counters.snapshot(self.core.entry_count())
    }
}

impl<V: Clone + Send + Sync + 'static> Registered for AsyncDataCache<V> {
    fn info(&self) -> FunctionInfo {
        self.core.info(self.core.entry_count())
    }
    fn clear(&self) {
        self.core.clear();
    }
    fn kind(&self) -> Kind {
        Kind::Data
    }
    fn name(&self) -> &'static str {
        self.core.identity.name
    }
}

impl<V: Clone + Send + Sync + 'static> Lookup<DataCache<V>, V, Key> {
    /// The cached value, or `compute`'s, stored for the next caller.
    #[inline]
    pub fn or_compute(self, compute: impl FnOnce() -> V) -> V {
        infallible(self.or_try_compute(|| Ok(compute())))
    }

    /// For a function returning `Result`: an `Err` goes back to the caller and
    /// is never stored.
    ///
    /// # Errors
    /// Whatever `compute` returns.
    #[inline]
    pub fn or_try_compute<E>(self, compute: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        self.cache
            .core
            .resolve(self.cache.moka(), self.found, compute)
    }
}

impl<V: Clone + Send + Sync + 'static> Lookup<AsyncDataCache<V>, V, AsyncMiss<V>> {
    /// The cached value, or `compute`'s, stored for the next caller.
    pub async fn or_compute<Fut: Future<Output = V>>(self, compute: impl FnOnce() -> Fut) -> V {
        infallible(self.or_try_compute(|| async { Ok(compute().await) }).await)
    }

    /// For a function returning `Result`: an `Err` goes back to the caller and
    /// is never stored.
    ///
    /// # Errors
    /// Whatever `compute` returns.
    pub async fn or_try_compute<E, Fut: Future<Output = Result<V, E>>>(
        self,
        compute: impl FnOnce() -> Fut,
    ) -> Result<V, E> {
        self.cache
            .core
            .resolve_async(self.cache.moka(), self.found, compute)
            .await
    }
}
