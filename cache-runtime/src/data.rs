//! The `#[cache_data]` caches: every caller gets its own clone of the value,
//! optionally backed by a persistent tier (`persist = "disk" | "redis"`).

use std::future::Future;

use moka::notification::RemovalCause;

use crate::engine::{AsyncMiss, Lookup, Produced, Slot, infallible};
use crate::key::{self, Key, KeyError, KeyWriter};
use crate::persist::{Persistence, persist_id};
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
    persist: Option<Persistence<V>>,
}

/// The cache behind one `async` `#[cache_data]` function.
///
/// Runtime-agnostic: concurrent callers of one key await one computation
/// whatever executor polls them.
#[derive(Debug)]
pub struct AsyncDataCache<V> {
    core: Core<Slot<V>>,
    persist: Option<Persistence<V>>,
}

/// What both data caches share: construction, clearing, stats, registration.
macro_rules! data_cache_common {
    ($cache:ident, $stored:ty) => {
        impl<V: Clone + Send + Sync + 'static> $cache<V> {
            /// A cache that is built (and registered) on first use.
            pub const fn new(identity: Identity, config: fn() -> Config) -> Self {
                Self {
                    core: Core::new(identity, Kind::Data, config),
                    persist: None,
                }
            }

            /// A cache with a persistent tier behind memory (`persist = ..`).
            pub const fn persistent(
                identity: Identity,
                config: fn() -> Config,
                persistence: Persistence<V>,
            ) -> Self {
                Self {
                    core: Core::new(identity, Kind::Data, config),
                    persist: Some(persistence),
                }
            }

            #[inline]
            fn moka(&'static self) -> &'static Moka<$stored> {
                self.core.moka(self, |_: &$stored, _: RemovalCause| {})
            }

            /// Removes every entry, in memory and in the persistent tier.
            pub fn clear(&self) {
                self.core.clear();
                if let Some(persist) = &self.persist {
                    persist.clear(&self.core.identity);
                }
            }

            /// Removes the entry for one key, in memory and in the persistent
            /// tier; `true` if memory held one.
            pub fn invalidate(
                &self,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> bool {
                let Ok(key) = key::owned_key(write_key) else {
                    return false;
                };
                if let Some(persist) = &self.persist {
                    persist.invalidate(&self.core.identity, &key);
                }
                self.core.invalidate(&key)
            }

            /// This function's counters.
            pub fn stats(&self) -> Stats {
                self.core.counters.snapshot(self.core.entry_count())
            }
        }

        impl<V: Clone + Send + Sync + 'static> Registered for $cache<V> {
            fn info(&self) -> FunctionInfo {
                FunctionInfo {
                    persist: self.persist.as_ref().map(Persistence::tier),
                    ..self.core.info(self.core.entry_count())
                }
            }
            fn clear(&self) {
                $cache::clear(self);
            }
            fn kind(&self) -> Kind {
                Kind::Data
            }
            fn name(&self) -> &'static str {
                self.core.identity.name
            }
            fn persist_id(&self) -> u64 {
                persist_id(&self.core.identity)
            }
            fn clear_memory(&self) {
                self.core.clear();
            }
            fn invalidate_memory(&self, key: &Key) {
                self.core.invalidate(key);
            }
        }
    };
}

data_cache_common!(DataCache, V);
data_cache_common!(AsyncDataCache, Slot<V>);

impl<V: Clone + Send + Sync + 'static> DataCache<V> {
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
}

impl<V: Clone + Send + Sync + 'static> AsyncDataCache<V> {
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
        let cache = self.cache;
        cache
            .core
            .resolve(cache.moka(), self.found, |key| match &cache.persist {
                Some(persist) => persist.produce(cache.core.view(), key, compute),
                None => Produced::Computed(compute()),
            })
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
        let cache = self.cache;
        cache
            .core
            .resolve_async(cache.moka(), self.found, |key| async move {
                match &cache.persist {
                    Some(persist) => persist.produce_async(cache.core.view(), key, compute).await,
                    None => Produced::Computed(compute().await),
                }
            })
            .await
    }
}
