//! The `#[cache_resource]` caches: every caller shares one `Arc<T>`.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;
use moka::notification::RemovalCause;

use crate::engine::{AsyncMiss, Lookup, Produced, Slot, infallible};
use crate::key::{self, Key, KeyError, KeyWriter};
use crate::registry::{FunctionInfo, Kind, Registered};
use crate::stats::Stats;
use crate::store::{Config, Core, Identity, Moka};

/// The lifecycle hooks of a resource.
#[derive(Debug)]
pub struct Hooks<T: ?Sized> {
    /// Checked on every hit; `false` drops the entry (releasing it) and recomputes.
    pub validate: Option<fn(&T) -> bool>,
    /// Called once when an entry leaves the cache: eviction, expiry, clear,
    /// invalidate, or a failed `validate`.
    pub on_release: Option<fn(&T)>,
}

impl<T: ?Sized> Clone for Hooks<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for Hooks<T> {}

impl<T: ?Sized> Hooks<T> {
    fn is_valid(&self, value: &T) -> bool {
        self.validate.is_none_or(|validate| validate(value))
    }

    fn release(&self, name: &str, value: &T, cause: RemovalCause) {
        // A replaced entry is still in use: the async path re-inserts a value
        // to restart its TTL clock.
        if cause == RemovalCause::Replaced {
            return;
        }
        if let Some(on_release) = self.on_release
            && catch_unwind(AssertUnwindSafe(|| on_release(value))).is_err()
        {
            tracing::error!(
                function = name,
                "`on_release` panicked; the entry was removed anyway"
            );
        }
    }
}

/// The cache behind one synchronous `#[cache_resource]` function.
#[derive(Debug)]
pub struct ResourceCache<T: Send + Sync + 'static> {
    core: Core<Arc<T>>,
    hooks: Hooks<T>,
    /// The zero-argument fast path: the singleton, without a moka lookup.
    singleton: ArcSwapOption<T>,
    publish: Mutex<()>,
}

impl<T: Send + Sync + 'static> ResourceCache<T> {
    /// A cache that is built (and registered) on first use.
    pub const fn new(identity: Identity, config: fn() -> Config, hooks: Hooks<T>) -> Self {
        Self {
            core: Core::new(identity, Kind::Resource, config),
            hooks,
            singleton: ArcSwapOption::const_empty(),
            publish: Mutex::new(()),
        }
    }

    #[inline]
    fn moka(&'static self) -> &'static Moka<Arc<T>> {
        self.core.moka(self, move |value: &Arc<T>, cause| {
            self.hooks.release(self.core.identity.name, value, cause)
        })
    }

    /// Looks up the key `write_key` writes; finish with [`Lookup::or_compute`].
    #[inline]
    pub fn lookup(
        &'static self,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    ) -> Lookup<Self, Arc<T>, Key> {
        Lookup {
            cache: self,
            found: self
                .core
                .find(self.moka(), write_key, |value| self.hooks.is_valid(value)),
        }
    }

    /// The zero-argument case: a global singleton whose hit is one atomic load.
    #[inline]
    pub fn singleton(&'static self, compute: impl FnOnce() -> T) -> Arc<T> {
        infallible(self.try_singleton(|| Ok(compute())))
    }

    /// [`ResourceCache::singleton`] for a function returning `Result`.
    ///
    /// # Errors
    /// Whatever `compute` returns; an `Err` is never stored.
    #[inline]
    pub fn try_singleton<E>(
        &'static self,
        compute: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(value) = self.singleton.load_full() {
            if self.hooks.is_valid(&value) {
                self.core.counters.hit();
                return Ok(value);
            }
            let _publishing = self.publish.lock().unwrap_or_else(PoisonError::into_inner);
            self.singleton.store(None);
        }
        let generation = self.core.generation();
        let value = self.lookup(|_| Ok(())).or_try_compute(compute)?;
        // With a TTL the moka entry must stay the source of truth.
        if self.moka().policy().time_to_live().is_none() {
            let _publishing = self.publish.lock().unwrap_or_else(PoisonError::into_inner);
            if self.core.generation() == generation {
                self.singleton.store(Some(Arc::clone(&value)));
            }
        }
        Ok(value)
    }

    /// Removes every entry, calling `on_release` for each.
    pub fn clear(&self) {
        {
            let _publishing = self.publish.lock().unwrap_or_else(PoisonError::into_inner);
            self.core.bump_generation();
            self.singleton.store(None);
        }
        self.core.clear();
    }

    /// Removes the entry for one key, calling `on_release`; `true` if there was one.
    pub fn invalidate(
        &self,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    ) -> bool {
        let Ok(key) = key::owned_key(write_key) else {
            return false;
        };
        if key.bytes().is_empty() {
            let _publishing = self.publish.lock().unwrap_or_else(PoisonError::into_inner);
            self.core.bump_generation();
            self.singleton.store(None);
        }
        self.core.invalidate(&key)
    }

    /// This function's counters.
    pub fn stats(&self) -> Stats {
        self.core.counters.snapshot(self.core.entry_count())
    }
}

/// The registry's view of both resource caches.
macro_rules! registered_resource {
    ($cache:ident) => {
        impl<T: Send + Sync + 'static> Registered for $cache<T> {
            fn info(&self) -> FunctionInfo {
                self.core.info(self.core.entry_count())
            }
            fn clear(&self) {
                $cache::clear(self);
            }
            fn kind(&self) -> Kind {
                Kind::Resource
            }
            fn name(&self) -> &'static str {
                self.core.identity.name
            }
            fn persist_id(&self) -> u64 {
                crate::persist::persist_id(&self.core.identity)
            }
            fn clear_memory(&self) {
                // Resources live in memory only.
                $cache::clear(self);
            }
            fn invalidate_memory(&self, key: &crate::key::Key) {
                self.core.invalidate(key);
            }
        }
    };
}

registered_resource!(ResourceCache);
registered_resource!(AsyncResourceCache);

/// The cache behind one `async` `#[cache_resource]` function.
#[derive(Debug)]
pub struct AsyncResourceCache<T: Send + Sync + 'static> {
    core: Core<Slot<Arc<T>>>,
    hooks: Hooks<T>,
}

impl<T: Send + Sync + 'static> AsyncResourceCache<T> {
    /// A cache that is built (and registered) on first use.
    pub const fn new(identity: Identity, config: fn() -> Config, hooks: Hooks<T>) -> Self {
        Self {
            core: Core::new(identity, Kind::Resource, config),
            hooks,
        }
    }

    #[inline]
    fn moka(&'static self) -> &'static Moka<Slot<Arc<T>>> {
        self.core.moka(self, move |slot: &Slot<Arc<T>>, cause| {
            if let Some(value) = slot.get() {
                self.hooks.release(self.core.identity.name, value, cause);
            }
        })
    }

    /// Looks up the key `write_key` writes; finish with `or_compute(..).await`.
    #[inline]
    pub fn lookup(
        &'static self,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    ) -> Lookup<Self, Arc<T>, AsyncMiss<Arc<T>>> {
        Lookup {
            cache: self,
            found: self
                .core
                .find_async(self.moka(), write_key, |value| self.hooks.is_valid(value)),
        }
    }

    /// Removes every entry, calling `on_release` for each.
    pub fn clear(&self) {
        self.core.clear();
    }

    /// Removes the entry for one key, calling `on_release`; `true` if there was one.
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

impl<T: Send + Sync + 'static> Lookup<ResourceCache<T>, Arc<T>, Key> {
    /// The shared value, or `compute`'s, stored for the next caller.
    #[inline]
    pub fn or_compute(self, compute: impl FnOnce() -> T) -> Arc<T> {
        infallible(self.or_try_compute(|| Ok(compute())))
    }

    /// For a function returning `Result`: an `Err` goes back to the caller and
    /// is never stored.
    ///
    /// # Errors
    /// Whatever `compute` returns.
    #[inline]
    pub fn or_try_compute<E>(self, compute: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        self.cache.core.resolve(self.cache.moka(), self.found, |_| {
            Produced::Computed(compute().map(Arc::new))
        })
    }
}

impl<T: Send + Sync + 'static> Lookup<AsyncResourceCache<T>, Arc<T>, AsyncMiss<Arc<T>>> {
    /// The shared value, or `compute`'s, stored for the next caller.
    pub async fn or_compute<Fut: Future<Output = T>>(
        self,
        compute: impl FnOnce() -> Fut,
    ) -> Arc<T> {
        infallible(self.or_try_compute(|| async { Ok(compute().await) }).await)
    }

    /// For a function returning `Result`: an `Err` goes back to the caller and
    /// is never stored.
    ///
    /// # Errors
    /// Whatever `compute` returns.
    pub async fn or_try_compute<E, Fut: Future<Output = Result<T, E>>>(
        self,
        compute: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E> {
        self.cache
            .core
            .resolve_async(self.cache.moka(), self.found, |_| async {
                Produced::Computed(compute().await.map(Arc::new))
            })
            .await
    }
}
