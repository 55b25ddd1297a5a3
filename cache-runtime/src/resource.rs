//! The `#[cache_resource]` caches: every caller shares one `Arc<T>`.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::LocalKey;

use crate::config::{Config, Identity, Kind};
use crate::core::{Built, Core, EntryRef, Produced};
use crate::engine::{Found, Lookup, WordLookup, infallible, word_lookup_finishers};
use crate::family::Member;
use crate::front::Fronts;
use crate::key::{self, Key, KeyError, KeyWriter, StoreKey};
use crate::observe::Started;
use crate::refresh::Refresh;
use crate::registry::{FunctionInfo, Registered};
use crate::scope::Prefix;
use crate::solo::Solo;
use crate::stats::Stats;

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

    fn release(&self, name: &str, value: &T) {
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

/// A resource's value as stored: alone on its cache line. Every caller
/// bumps the value's reference count, and every thread's front table reads
/// the entry holding this: were they on one line, each hit on one core would
/// slow every hit on the others.
#[doc(hidden)]
#[repr(align(64))]
#[derive(Debug)]
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    fn new(value: T) -> Self {
        Shared(Arc::new(value))
    }
}

impl<T> Clone for Shared<T> {
    #[inline]
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

/// The cache behind one synchronous `#[cache_resource]` function.
#[derive(Debug)]
pub struct ResourceCache<T: Send + Sync + 'static, K: StoreKey = Key> {
    core: Core<Shared<T>, K>,
    /// Each thread's front table.
    fronts: Fronts<Shared<T>, K>,
    hooks: Hooks<T>,
}

/// The cache behind one `async` `#[cache_resource]` function.
#[derive(Debug)]
pub struct AsyncResourceCache<T: Send + Sync + 'static, K: StoreKey = Key> {
    core: Core<Shared<T>, K>,
    /// Each thread's front table.
    fronts: Fronts<Shared<T>, K>,
    hooks: Hooks<T>,
}

/// What both resource caches share: construction, lookup, clearing, stats,
/// registration, and running `on_release` outside every lock.
macro_rules! resource_cache_common {
    ($cache:ident) => {
        impl<T: Send + Sync + 'static, K: StoreKey> $cache<T, K> {
            /// A cache that is built (and registered) on first use.
            pub const fn new(identity: Identity, config: fn() -> Config, hooks: Hooks<T>) -> Self {
                Self {
                    core: Core::new(identity, Kind::Resource, config, true, None),
                    hooks,
                    fronts: Fronts::new(),
                }
            }

            #[inline]
            fn built(&'static self) -> &'static Built<Shared<T>, K> {
                self.core.built(self)
            }

            /// Runs `on_release` for every entry that left the cache, once each.
            fn release_pending(&self) {
                for entry in self.core.take_released() {
                    self.hooks.release(self.core.identity.name, &entry.value.0);
                }
            }

            /// Looks up the key `write_key` writes in moka (a function with
            /// `front = false`); finish the call with `or_compute` /
            /// `or_try_compute`.
            #[inline]
            pub fn lookup(
                &'static self,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> Lookup<Self, Shared<T>> {
                self.find(None, write_key)
            }

            /// Looks up the key in this thread's front table, then in moka.
            #[inline]
            pub fn lookup_front(
                &'static self,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> Lookup<Self, Shared<T>> {
                self.find(Some(&self.fronts), write_key)
            }

            /// [`Self::lookup_front`] for arguments packed into one word
            /// (`word` must be injective over them; a zero-argument resource
            /// passes 0): the key bytes are written only when the front
            /// table misses.
            #[inline]
            pub fn lookup_word<W>(
                &'static self,
                word: u64,
                write_key: W,
            ) -> WordLookup<Self, Shared<T>, W, Arc<T>>
            where
                W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            {
                WordLookup {
                    cache: self,
                    word,
                    write_key,
                    solo: None,
                    copy: Shared::clone,
                }
            }

            /// [`Self::lookup_word`] for a function without key arguments
            /// (word 0): its thread-local entry `solo` is tried first.
            #[inline]
            pub fn lookup_solo<W>(
                &'static self,
                solo: &'static LocalKey<Solo<Shared<T>, Arc<T>>>,
                write_key: W,
            ) -> WordLookup<Self, Shared<T>, W, Arc<T>>
            where
                W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            {
                WordLookup {
                    solo: Some(solo),
                    ..self.lookup_word(0, write_key)
                }
            }

            /// A stored value's copy for a hit, if it passes `validate`.
            #[inline]
            fn served(&self, value: &Shared<T>) -> Option<Shared<T>> {
                self.hooks.is_valid(&value.0).then(|| value.clone())
            }

            /// [`Self::served`] for a front hit: the `Arc` alone, never a
            /// copy of the (cache-line aligned) `Shared`.
            #[inline]
            fn served_arc(&self, value: &Shared<T>) -> Option<Arc<T>> {
                self.hooks.is_valid(&value.0).then(|| Arc::clone(&value.0))
            }

            /// `validate` runs on every hit, front or moka.
            #[inline]
            fn find(
                &'static self,
                front: Option<&'static Fronts<Shared<T>, K>>,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> Lookup<Self, Shared<T>> {
                let (found, started) = self
                    .core
                    .find(self, front, write_key, |value| self.served(value));
                self.lookup_of(found, started)
            }

            fn lookup_of(
                &'static self,
                found: Found<Shared<T>>,
                started: Option<Started>,
            ) -> Lookup<Self, Shared<T>> {
                if matches!(found, Found::Miss(..)) {
                    // A failed `validate` released the entry.
                    self.release_pending();
                }
                Lookup {
                    cache: self,
                    found,
                    started,
                    copy: Shared::clone,
                }
            }

            /// Removes every entry, calling `on_release` for each; for a
            /// `scope = "session"` function called in a session, that
            /// session's entries only.
            pub fn clear(&self) {
                self.core.clear_in_scope(|| self.core.clear());
                self.release_pending();
            }

            /// Removes every entry in every session, calling `on_release`
            /// for each.
            fn clear_everywhere(&self) {
                self.core.clear();
                self.release_pending();
            }

            /// Removes the entry for one key, calling `on_release`; `true` if there was one.
            pub fn invalidate(
                &self,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> bool {
                let Ok(key) = key::owned_key(write_key) else {
                    return false;
                };
                let removed = self.core.invalidate(&key);
                self.release_pending();
                removed
            }

            /// This function's counters.
            pub fn stats(&self) -> Stats {
                let entries = self.core.entry_count();
                self.release_pending();
                self.core.counters.snapshot(entries)
            }
        }

        impl<T: Send + Sync + 'static, K: StoreKey> Lookup<$cache<T, K>, Shared<T>> {
            /// `refresh_mode = "background"`, after a miss: the stale value
            /// (past its `ttl`, within its stale window, still passing
            /// `validate`) while `refresh` recomputes it behind from `make`
            /// (see `Core::serve_stale`); `Err(make)` when there is none.
            /// The value a refresh replaces is released; one a clear
            /// discarded too.
            fn serve_stale<M>(
                &self,
                make: M,
                refresh: impl FnOnce(M) -> Refresh<Shared<T>>,
            ) -> Result<Arc<T>, M> {
                let Found::Miss(key, _) = &self.found else {
                    return Err(make);
                };
                let cache = self.cache;
                let after = move |discarded: Option<EntryRef<Shared<T>>>| {
                    if let Some(entry) = discarded {
                        cache
                            .hooks
                            .release(cache.core.identity.name, &entry.value.0);
                    }
                    cache.release_pending();
                };
                cache
                    .core
                    .serve_stale(
                        cache.built(),
                        key,
                        self.started,
                        |value| cache.hooks.is_valid(&value.0),
                        (make, refresh),
                        after,
                    )
                    .map(|entry| Arc::clone(&entry.value.0))
            }
        }

        impl<T: Send + Sync + 'static, K: StoreKey, W>
            WordLookup<$cache<T, K>, Shared<T>, W, Arc<T>>
        where
            W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        {
            /// A front hit (the thread's [`Solo`], then its front table), or
            /// what the front refused. Only the `Arc` is copied out, never
            /// the aligned `Shared`.
            #[inline]
            fn probe_front(&self) -> Result<Arc<T>, Option<EntryRef<Shared<T>>>> {
                let cache = self.cache;
                if let Some(solo) = self.solo {
                    return match cache.core.probe_solo(
                        solo,
                        |value| cache.hooks.is_valid(&value.0),
                        |_, arc| Arc::clone(arc),
                    ) {
                        Err(None) => Self::probe_table_for(cache, self.word, solo),
                        probed => probed,
                    };
                }
                cache
                    .core
                    .probe_word(&cache.fronts, self.word, |value| cache.served_arc(value))
            }

            /// The front table, when the thread's [`Solo`] missed (out of
            /// line: the solo hit stays short); a hit there refills it. It
            /// takes no `&self`, so the lookup need not be in memory on the
            /// hit path.
            #[cold]
            #[inline(never)]
            fn probe_table_for(
                cache: &'static $cache<T, K>,
                word: u64,
                solo: &'static LocalKey<Solo<Shared<T>, Arc<T>>>,
            ) -> Result<Arc<T>, Option<EntryRef<Shared<T>>>> {
                let probed = cache
                    .core
                    .probe_word(&cache.fronts, word, |value| cache.served_arc(value));
                if probed.is_ok() {
                    cache
                        .core
                        .refill_solo(&cache.fronts, solo, word, |value| Arc::clone(&value.0));
                }
                probed
            }

            /// The rest of a lookup the front did not answer: moka.
            #[cold]
            #[inline(never)]
            fn missed(
                self,
                refused: Option<EntryRef<Shared<T>>>,
            ) -> Lookup<$cache<T, K>, Shared<T>> {
                let cache = self.cache;
                let (found, started) = cache.core.find_keyed(
                    cache,
                    Some((&cache.fronts, Some(self.word))),
                    refused,
                    self.write_key,
                    |value| cache.served(value),
                );
                cache.lookup_of(found, started)
            }
        }

        impl<T: Send + Sync + 'static, K: StoreKey> Member for $cache<T, K> {
            fn clear_member(&self) {
                self.clear();
            }
            fn member_stats(&self) -> Stats {
                self.stats()
            }
        }

        impl<T: Send + Sync + 'static, K: StoreKey> Registered for $cache<T, K> {
            fn info(&self) -> FunctionInfo {
                let info = self.core.info();
                self.release_pending();
                info
            }
            fn clear(&self) {
                self.clear_everywhere();
            }
            fn kind(&self) -> Kind {
                Kind::Resource
            }
            fn name(&self) -> &'static str {
                self.core.identity.name
            }
            fn persist_id(&self) -> u64 {
                self.core.persist_id()
            }
            fn clear_memory(&self) {
                // Resources live in memory only.
                self.clear_everywhere();
            }
            fn invalidate_memory(&self, key: &Key) {
                self.core.invalidate(key);
                self.release_pending();
            }
            fn end_session(&self, prefix: &Prefix) {
                self.core.end_session(prefix);
                self.release_pending();
            }
            fn memory_bytes(&self, charged: &std::collections::HashMap<usize, u64>) -> Option<u64> {
                self.core.memory_bytes(charged)
            }
        }
    };
}

resource_cache_common!(ResourceCache);
resource_cache_common!(AsyncResourceCache);

impl<T: Send + Sync + 'static, K: StoreKey> Lookup<ResourceCache<T, K>, Shared<T>> {
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
        let cache = self.cache;
        let found = match self.found {
            Found::Value(value) => return Ok(value.0),
            found => found,
        };
        let served = cache.core.resolve(cache.built(), found, self.started, |_| {
            Produced::Computed(compute().map(Shared::new))
        });
        cache.release_pending();
        served.map(|served| served.into_value(Shared::clone).0)
    }
}

impl<T: Send + Sync + 'static, K: StoreKey> Lookup<ResourceCache<T, K>, Shared<T>> {
    /// [`Lookup::or_compute`] for `refresh_mode = "background"`: a value
    /// past its `ttl` but within its stale window is returned at once and
    /// refreshed behind (the replaced value is released). `make` gives the
    /// body with its own copies of the arguments; it is called only on a
    /// miss or when a refresh starts.
    pub fn or_compute_refreshing<F>(self, make: impl FnOnce() -> F) -> Arc<T>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        infallible(self.or_try_compute_refreshing(|| {
            let compute = make();
            move || Ok(compute())
        }))
    }

    /// [`Lookup::or_compute_refreshing`] for a function returning `Result`:
    /// a refresh's `Err` keeps the stale value.
    ///
    /// # Errors
    /// Whatever the body returns, when the caller computes.
    pub fn or_try_compute_refreshing<E, F>(self, make: impl FnOnce() -> F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
    {
        let stale = self.serve_stale(make, |make| {
            let compute = make();
            Refresh::Blocking(Box::new(move || compute().ok().map(Shared::new)))
        });
        match stale {
            Ok(value) => Ok(value),
            Err(make) => self.or_try_compute(make()),
        }
    }
}

impl<T: Send + Sync + 'static, K: StoreKey> Lookup<AsyncResourceCache<T, K>, Shared<T>> {
    /// [`Lookup::or_compute`] for `refresh_mode = "background"` (see the
    /// sync cache's): the refresh runs on the refresh pool, or on the
    /// executor given to [`crate::refresh::set_async_spawner`].
    pub async fn or_compute_refreshing<F, Fut>(self, make: impl FnOnce() -> F) -> Arc<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        infallible(
            self.or_try_compute_refreshing(|| {
                let compute = make();
                move || async move { Ok(compute().await) }
            })
            .await,
        )
    }

    /// [`Lookup::or_compute_refreshing`] for a function returning `Result`.
    ///
    /// # Errors
    /// Whatever the body returns, when the caller computes.
    pub async fn or_try_compute_refreshing<E, F, Fut>(
        self,
        make: impl FnOnce() -> F,
    ) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let stale = self.serve_stale(make, |make| {
            let compute = make();
            Refresh::Async(Box::pin(
                async move { compute().await.ok().map(Shared::new) },
            ))
        });
        match stale {
            Ok(value) => Ok(value),
            Err(make) => self.or_try_compute(make()).await,
        }
    }
}

word_lookup_finishers!(sync ResourceCache<T>, Shared<T>, Arc<T>, Arc<T>);
word_lookup_finishers!(async AsyncResourceCache<T>, Shared<T>, Arc<T>, Arc<T>);

impl<T: Send + Sync + 'static, K: StoreKey> Lookup<AsyncResourceCache<T, K>, Shared<T>> {
    /// The shared value, or `compute`'s, stored for the next caller. The
    /// caller that starts a computation drives it.
    pub async fn or_compute<Fut: Future<Output = T>>(
        self,
        compute: impl FnOnce() -> Fut,
    ) -> Arc<T> {
        infallible(self.or_try_compute(|| async { Ok(compute().await) }).await)
    }

    /// [`Lookup::or_compute`] for a function returning `Result`.
    ///
    /// # Errors
    /// Whatever `compute` returns.
    pub async fn or_try_compute<E, Fut: Future<Output = Result<T, E>>>(
        self,
        compute: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E> {
        let cache = self.cache;
        let found = match self.found {
            Found::Value(value) => return Ok(value.0),
            found => found,
        };
        let served = cache
            .core
            .resolve_async(cache.built(), found, self.started, |_| async {
                Produced::Computed(compute().await.map(Shared::new))
            })
            .await;
        cache.release_pending();
        served.map(|served| served.into_value(Shared::clone).0)
    }

    /// The shared value, or `compute`'s, for a body that owns its arguments:
    /// the computation is shared by every caller of the key, so cancelling
    /// the caller that started it does not cancel it.
    pub async fn or_compute_shared<Fut>(
        self,
        compute: impl FnOnce() -> Fut + Send + 'static,
    ) -> Arc<T>
    where
        Fut: Future<Output = T> + Send + 'static,
    {
        infallible(
            self.or_try_compute_shared(|| async { Ok(compute().await) })
                .await,
        )
    }

    /// [`Lookup::or_compute_shared`] for a function returning `Result`.
    ///
    /// # Errors
    /// Whatever `compute` returns.
    pub async fn or_try_compute_shared<E, Fut>(
        self,
        compute: impl FnOnce() -> Fut + Send + 'static,
    ) -> Result<Arc<T>, E>
    where
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Send + 'static,
    {
        let cache = self.cache;
        let found = match self.found {
            Found::Value(value) => return Ok(value.0),
            found => found,
        };
        let served = cache
            .core
            .resolve_shared(cache.built(), found, self.started, |_| async {
                Produced::Computed(compute().await.map(Shared::new))
            })
            .await;
        cache.release_pending();
        served.map(|served| served.into_value(Shared::clone).0)
    }
}
