//! The `#[cache_data]` caches: every caller gets its own clone of the value,
//! optionally backed by a persistent tier (`persist = ..`).

use std::future::Future;
use std::sync::PoisonError;
use std::thread::LocalKey;

use crate::config::{Config, Identity, Kind};
use crate::core::{Built, Core, Entry, EntryRef, Produced, Ticket};
use crate::engine::{Found, Lookup, Served, WordLookup, infallible, word_lookup_finishers};
use crate::family::Member;
use crate::front::Fronts;
use crate::key::{self, Key, KeyError, KeyWriter, StoreKey};
use crate::observe::Started;
use crate::persist::{Peek, Peeked, Persistence, Site};
use crate::refresh::Refresh;
use crate::registry::{FunctionInfo, Registered};
use crate::scope::Prefix;
use crate::solo::Solo;
use crate::stats::Stats;

/// The cache behind one synchronous `#[cache_data]` function.
///
/// Generated code holds it in a `static`; users reach it through the
/// function's companion handle (`my_fn::clear()`, `my_fn::stats()`, …).
#[derive(Debug)]
pub struct DataCache<V: Send + Sync + 'static, K: StoreKey = Key> {
    core: Core<V, K>,
    /// Each thread's front table.
    fronts: Fronts<V, K>,
    persist: Option<Persistence<V>>,
}

/// The cache behind one `async` `#[cache_data]` function.
///
/// Runtime-agnostic: concurrent callers of one key await one computation
/// whatever executor polls them.
#[derive(Debug)]
pub struct AsyncDataCache<V: Send + Sync + 'static, K: StoreKey = Key> {
    core: Core<V, K>,
    /// Each thread's front table.
    fronts: Fronts<V, K>,
    persist: Option<Persistence<V>>,
}

/// What both data caches share: construction, clearing, stats, registration.
macro_rules! data_cache_common {
    ($cache:ident) => {
        impl<V: Send + Sync + 'static, K: StoreKey> $cache<V, K> {
            /// A cache that is built (and registered) on first use.
            pub const fn new(identity: Identity, config: fn() -> Config) -> Self {
                Self::with_options(identity, config, None, None)
            }

            /// A cache whose configuration may put a persistent tier behind
            /// memory; `persistence` says how its values are encoded.
            pub const fn persistent(
                identity: Identity,
                config: fn() -> Config,
                persistence: Persistence<V>,
            ) -> Self {
                Self::with_options(identity, config, Some(persistence), None)
            }

            /// [`Self::persistent`] when `persistence` is given, and with
            /// `weigh` (a value's bytes, `None` for a value that cannot be
            /// weighed) for a `max_size` and the process-wide memory budget.
            pub const fn with_options(
                identity: Identity,
                config: fn() -> Config,
                persistence: Option<Persistence<V>>,
                weigh: Option<fn(&V) -> Option<usize>>,
            ) -> Self {
                Self {
                    core: Core::new(identity, Kind::Data, config, false, weigh),
                    persist: persistence,
                    fronts: Fronts::new(),
                }
            }

            #[inline]
            fn built(&'static self) -> &'static Built<V, K> {
                self.core.built(self)
            }

            /// The persistent tier in use, if any, and what it needs to know.
            fn site(&self) -> Option<(&Persistence<V>, Site<'_>)> {
                let persistence = self.persist.as_ref()?;
                let config = self.core.config();
                let tier = config.persist?;
                Some((
                    persistence,
                    Site {
                        identity: &self.core.identity,
                        persist_id: self.core.persist_id(),
                        tier,
                        ttl: config.ttl,
                        counters: &self.core.counters,
                    },
                ))
            }

            /// Removes every entry, in memory and in the persistent tier;
            /// for a `scope = "session"` function called in a session, that
            /// session's entries only.
            pub fn clear(&self) {
                self.core.clear_in_scope(|| self.clear_everywhere());
            }

            /// Removes every entry, in memory and in the persistent tier, in
            /// every session.
            fn clear_everywhere(&self) {
                // The tier first, then memory, under the tier's write lock: a
                // call that loads an old record before the memory clear is
                // discarded by it; one that starts after finds the tier empty.
                let _clearing = self
                    .core
                    .tier_gate
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some((persistence, site)) = self.site() {
                    persistence.clear(&site);
                }
                self.core.clear();
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
                let _clearing = self
                    .core
                    .tier_gate
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some((persistence, site)) = self.site() {
                    persistence.invalidate(&site, &key);
                }
                self.core.invalidate(&key)
            }

            /// This function's counters.
            pub fn stats(&self) -> Stats {
                self.core.counters.snapshot(self.core.entry_count())
            }
        }

        impl<V: Send + Sync + 'static, K: StoreKey> Member for $cache<V, K> {
            fn clear_member(&self) {
                self.clear();
            }
            fn member_stats(&self) -> Stats {
                self.stats()
            }
        }

        impl<V: Send + Sync + 'static, K: StoreKey> Registered for $cache<V, K> {
            fn info(&self) -> FunctionInfo {
                let mut info = self.core.info();
                if self.persist.is_none() {
                    info.persist = None;
                }
                info
            }
            fn clear(&self) {
                self.clear_everywhere();
            }
            fn kind(&self) -> Kind {
                Kind::Data
            }
            fn name(&self) -> &'static str {
                self.core.identity.name
            }
            fn persist_id(&self) -> u64 {
                self.core.persist_id()
            }
            fn clear_memory(&self) {
                self.core.clear();
            }
            fn invalidate_memory(&self, key: &Key) {
                self.core.invalidate(key);
            }
            fn end_session(&self, prefix: &Prefix) {
                self.core.end_session(prefix);
            }
            fn memory_bytes(&self, charged: &std::collections::HashMap<usize, u64>) -> Option<u64> {
                self.core.memory_bytes(charged)
            }
        }

        impl<V: Send + Sync + 'static, K: StoreKey> $cache<V, K> {
            /// Looks up the key `write_key` writes in moka (a function with
            /// `front = false`); finish the call with `or_compute` /
            /// `or_try_compute`.
            #[inline]
            pub fn lookup(
                &'static self,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> Lookup<Self, V>
            where
                V: DataValue,
            {
                self.find(None, write_key)
            }

            /// Looks up the key in this thread's front table, then in moka.
            #[inline]
            pub fn lookup_front(
                &'static self,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> Lookup<Self, V>
            where
                V: DataValue,
            {
                self.find(Some(&self.fronts), write_key)
            }

            /// [`Self::lookup_front`] for arguments packed into one word
            /// (`word` must be injective over them): the front table is
            /// searched by the word, and the key bytes are written only when
            /// it misses.
            #[inline]
            pub fn lookup_word<W>(&'static self, word: u64, write_key: W) -> WordLookup<Self, V, W>
            where
                V: DataValue,
                W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            {
                WordLookup {
                    cache: self,
                    word,
                    write_key,
                    solo: None,
                    copy: V::clone,
                }
            }

            /// [`Self::lookup_word`] for a function without key arguments
            /// (word 0): its thread-local entry `solo` is tried first.
            #[inline]
            pub fn lookup_solo<W>(
                &'static self,
                solo: &'static LocalKey<Solo<V>>,
                write_key: W,
            ) -> WordLookup<Self, V, W>
            where
                V: DataValue,
                W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            {
                WordLookup {
                    solo: Some(solo),
                    ..self.lookup_word(0, write_key)
                }
            }

            #[inline]
            fn find(
                &'static self,
                front: Option<&'static Fronts<V, K>>,
                write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
            ) -> Lookup<Self, V>
            where
                V: Clone,
            {
                let (found, started) = self
                    .core
                    .find(self, front, write_key, |value| Some(value.clone()));
                Lookup {
                    cache: self,
                    found,
                    started,
                    copy: V::clone,
                }
            }
        }

        impl<V: Send + Sync + 'static, K: StoreKey> Lookup<$cache<V, K>, V> {
            /// `refresh_mode = "background"`, after a miss: the stale value
            /// (past its `ttl`, within its stale window) while `refresh`
            /// recomputes it behind from `make` (see `Core::serve_stale`);
            /// `Err(make)` when there is none.
            fn serve_stale<M>(
                &self,
                make: M,
                refresh: impl FnOnce(M) -> Refresh<V>,
            ) -> Result<V, M> {
                let Found::Miss(key, _) = &self.found else {
                    return Err(make);
                };
                let cache = self.cache;
                cache
                    .core
                    .serve_stale(
                        cache.built(),
                        key,
                        self.started,
                        |_| true,
                        (make, refresh),
                        |_| {},
                    )
                    .map(|entry| Entry::into_value(entry, self.copy))
            }
        }

        impl<V: Send + Sync + 'static, K: StoreKey, W> WordLookup<$cache<V, K>, V, W>
        where
            W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        {
            /// A front hit (the thread's [`Solo`], then its front table), or
            /// what the front refused.
            #[inline]
            fn probe_front(&self) -> Result<V, Option<EntryRef<V>>> {
                let (core, copy) = (&self.cache.core, self.copy);
                if let Some(solo) = self.solo {
                    return match core.probe_solo(solo, |_| true, |value, ()| copy(value)) {
                        Err(None) => Self::probe_table_for(self.cache, self.word, copy, solo),
                        probed => probed,
                    };
                }
                core.probe_word(&self.cache.fronts, self.word, |value| Some(copy(value)))
            }

            /// The front table, when the thread's [`Solo`] missed (out of
            /// line: the solo hit stays short); a hit there refills it. It
            /// takes no `&self`, so the lookup need not be in memory on the
            /// hit path.
            #[cold]
            #[inline(never)]
            fn probe_table_for(
                cache: &'static $cache<V, K>,
                word: u64,
                copy: fn(&V) -> V,
                solo: &'static LocalKey<Solo<V>>,
            ) -> Result<V, Option<EntryRef<V>>> {
                let core = &cache.core;
                let probed = core.probe_word(&cache.fronts, word, |value| Some(copy(value)));
                if probed.is_ok() {
                    core.refill_solo(&cache.fronts, solo, word, |_| ());
                }
                probed
            }

            /// The rest of a lookup the front did not answer: moka.
            #[cold]
            #[inline(never)]
            fn missed(self, refused: Option<EntryRef<V>>) -> Lookup<$cache<V, K>, V> {
                let (cache, copy) = (self.cache, self.copy);
                let (found, started) = cache.core.find_keyed(
                    cache,
                    Some((&cache.fronts, Some(self.word))),
                    refused,
                    self.write_key,
                    |value| Some(copy(value)),
                );
                Lookup {
                    cache,
                    found,
                    started,
                    copy,
                }
            }
        }
    };
}

data_cache_common!(DataCache);
data_cache_common!(AsyncDataCache);

/// What a `#[cache_data]` function's value needs; checked where the value is
/// copied out, so a value that is not `Clone` is one error on its type.
#[diagnostic::on_unimplemented(
    message = "`#[cache_data]` needs `{Self}: Clone + Send + Sync + 'static`: every caller gets its own copy",
    label = "this value is cloned for every caller",
    note = "derive `Clone` for it, or use `#[cache_resource]` to share one `Arc` without cloning"
)]
pub trait DataValue: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> DataValue for T {}

impl<V: Send + Sync + 'static, K: StoreKey> Lookup<DataCache<V, K>, V> {
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
        match self.found {
            Found::Value(value) => Ok(value),
            _ => self.resolve(compute),
        }
    }

    /// Everything but a hit, out of line: a hit's frame stays small.
    #[cold]
    #[inline(never)]
    fn resolve<E>(self, compute: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let (cache, copy, found, started) = (self.cache, self.copy, self.found, self.started);
        let peeked = match cache.peek(&found, started) {
            Ok(served) => return Ok(served.into_value(copy)),
            Err(peeked) => peeked,
        };
        cache
            .core
            .resolve(cache.built(), found, started, |miss| {
                match (miss, cache.site()) {
                    (Some((key, ticket)), Some((persistence, site))) => {
                        persistence.produce(&site, key, ticket, peeked, compute)
                    }
                    _ => Produced::Computed(compute()),
                }
            })
            .map(|served| served.into_value(copy))
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> DataCache<V, K> {
    /// On a miss, before the single flight: the Redis record, read at once
    /// (see [`Persistence::peek`]); else what the peek learned, for the
    /// computation this caller may start.
    fn peek(
        &'static self,
        found: &Found<V>,
        started: Option<Started>,
    ) -> Result<Served<V>, Peeked> {
        let (Found::Miss(key, _), Some((persistence, site))) = (found, self.site()) else {
            return Err(Peeked::Nothing);
        };
        let discards = self.core.discards();
        let peek = persistence.peek(&site, key);
        answer_peek(&self.core, self.built(), key, discards, started, peek)
    }
}

/// What a peek, begun after `discards` ([`Core::discards`]), means for the
/// call: the value it found (counted, reported, kept in memory if allowed),
/// or what the computation the caller may start can skip.
fn answer_peek<V: Send + Sync + 'static, K: StoreKey>(
    core: &Core<V, K>,
    built: &Built<V, K>,
    key: &Key,
    discards: u64,
    started: Option<Started>,
    peek: Option<Peek<V>>,
) -> Result<Served<V>, Peeked> {
    match peek {
        Some(Peek::Found(loaded, keep)) => {
            Ok(core.loaded(built, key, discards, started, loaded, keep))
        }
        Some(peek) => Err(peek.peeked()),
        None => Err(Peeked::Nothing),
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Lookup<DataCache<V, K>, V> {
    /// [`Lookup::or_compute`] for `refresh_mode = "background"`: a value
    /// past its `ttl` but within its stale window is returned at once and
    /// refreshed behind. `make` gives the body with its own copies of the
    /// arguments; it is called only on a miss or when a refresh starts.
    pub fn or_compute_refreshing<F>(self, make: impl FnOnce() -> F) -> V
    where
        F: FnOnce() -> V + Send + 'static,
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
    pub fn or_try_compute_refreshing<E, F>(self, make: impl FnOnce() -> F) -> Result<V, E>
    where
        F: FnOnce() -> Result<V, E> + Send + 'static,
    {
        let stale = self.serve_stale(make, |make| {
            let compute = make();
            Refresh::Blocking(Box::new(move || compute().ok()))
        });
        match stale {
            Ok(value) => Ok(value),
            Err(make) => self.or_try_compute(make()),
        }
    }
}

word_lookup_finishers!(sync DataCache<V>, V, V, ());
word_lookup_finishers!(async AsyncDataCache<V>, V, V, ());

impl<V: Send + Sync + 'static, K: StoreKey> AsyncDataCache<V, K> {
    /// A miss's value: from the persistent tier when there is one (and the
    /// arguments could be keyed), else from `compute`.
    async fn produce<E, Fut: Future<Output = Result<V, E>>>(
        &'static self,
        miss: Option<(Key, Ticket)>,
        peeked: Peeked,
        compute: impl FnOnce() -> Fut,
    ) -> Produced<V, E> {
        match (miss, self.site()) {
            (Some((key, ticket)), Some((persistence, site))) => {
                persistence
                    .produce_async(&site, key, ticket, peeked, compute)
                    .await
            }
            _ => Produced::Computed(compute().await),
        }
    }

    /// [`DataCache`]'s peek, with the async client.
    async fn peek(
        &'static self,
        found: &Found<V>,
        started: Option<Started>,
    ) -> Result<Served<V>, Peeked> {
        let (Found::Miss(key, _), Some((persistence, site))) = (found, self.site()) else {
            return Err(Peeked::Nothing);
        };
        let discards = self.core.discards();
        let peek = persistence.peek_async(&site, key).await;
        answer_peek(&self.core, self.built(), key, discards, started, peek)
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Lookup<AsyncDataCache<V, K>, V> {
    /// The cached value, or `compute`'s, stored for the next caller. The
    /// caller that starts a computation drives it (for bodies that borrow
    /// their caller's arguments).
    pub async fn or_compute<Fut: Future<Output = V>>(self, compute: impl FnOnce() -> Fut) -> V {
        infallible(self.or_try_compute(|| async { Ok(compute().await) }).await)
    }

    /// [`Lookup::or_compute`] for a function returning `Result`: an `Err`
    /// goes back to the caller and is never stored.
    ///
    /// # Errors
    /// Whatever `compute` returns.
    pub async fn or_try_compute<E, Fut: Future<Output = Result<V, E>>>(
        self,
        compute: impl FnOnce() -> Fut,
    ) -> Result<V, E> {
        let (cache, copy, started) = (self.cache, self.copy, self.started);
        let found = match self.found {
            Found::Value(value) => return Ok(value),
            found => found,
        };
        let peeked = match cache.peek(&found, started).await {
            Ok(served) => return Ok(served.into_value(copy)),
            Err(peeked) => peeked,
        };
        cache
            .core
            .resolve_async(cache.built(), found, started, |miss| {
                cache.produce(miss, peeked, compute)
            })
            .await
            .map(|served| served.into_value(copy))
    }

    /// [`Lookup::or_compute`] for `refresh_mode = "background"` (see the
    /// sync cache's): the refresh runs on the refresh pool, or on the
    /// executor given to [`crate::refresh::set_async_spawner`].
    pub async fn or_compute_refreshing<F, Fut>(self, make: impl FnOnce() -> F) -> V
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = V> + Send + 'static,
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
    ) -> Result<V, E>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        let stale = self.serve_stale(make, |make| {
            let compute = make();
            Refresh::Async(Box::pin(async move { compute().await.ok() }))
        });
        match stale {
            Ok(value) => Ok(value),
            Err(make) => self.or_try_compute(make()).await,
        }
    }

    /// The cached value, or `compute`'s, for a body that owns its arguments:
    /// the computation is shared by every caller of the key, so cancelling
    /// the caller that started it does not cancel it.
    pub async fn or_compute_shared<Fut>(self, compute: impl FnOnce() -> Fut + Send + 'static) -> V
    where
        Fut: Future<Output = V> + Send + 'static,
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
    ) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + 'static,
    {
        let (cache, copy, started) = (self.cache, self.copy, self.started);
        let found = match self.found {
            Found::Value(value) => return Ok(value),
            found => found,
        };
        let peeked = match cache.peek(&found, started).await {
            Ok(served) => return Ok(served.into_value(copy)),
            Err(peeked) => peeked,
        };
        cache
            .core
            .resolve_shared(cache.built(), found, started, move |miss| {
                cache.produce(miss, peeked, compute)
            })
            .await
            .map(|served| served.into_value(copy))
    }
}
