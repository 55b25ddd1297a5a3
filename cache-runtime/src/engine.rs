//! The lookup → single-flight → compute → store path, sync and async, shared by
//! `cache_data` and `cache_resource`.
//!
//! Generated code calls it in two steps, so the key can borrow the arguments
//! before the body takes them by value:
//! `cache.lookup(|key| key.write(..)).or_compute(move || body)`.
//!
//! A hit serializes the key into a reused thread-local buffer, looks it up by
//! reference and clones the value: nothing else is allocated. A miss goes
//! through moka's per-key single flight (sync) or a per-key `OnceCell` held in
//! moka (async): concurrent callers of one key run the body once, callers of
//! different keys never wait for each other. An `Err` or a panic stores
//! nothing; a caller that waited on a failed computation runs the body itself,
//! as Streamlit does.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_lock::OnceCell;

use crate::key::{self, Key, KeyError, KeyWriter};
use crate::reentrancy::{self, Computing, Tracked};
use crate::store::{Core, Moka, PanicCounter, timed};

/// The async store's value: a cell that single-flights its own computation.
pub(crate) type Slot<V> = Arc<OnceCell<V>>;

/// Turns `Result<V, Infallible>` into `V`.
pub(crate) fn infallible<V>(result: Result<V, Infallible>) -> V {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// Where a miss got its value: computed by the body, or loaded from a
/// persistent tier.
pub(crate) enum Produced<V, E> {
    Computed(Result<V, E>),
    Loaded(V, Tier),
}

/// A persistent tier, for the per-tier hit counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    Disk,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Redis,
}

/// What a key lookup found.
pub(crate) enum Found<V, M> {
    Hit(V),
    Miss(M),
    Uncacheable(KeyError),
}

/// A call whose key has been looked up; finish it with `or_compute` (or
/// `or_try_compute` for a function returning `Result`).
#[must_use = "a lookup does nothing until it is finished with `or_compute`"]
pub struct Lookup<C: 'static, V, M> {
    pub(crate) cache: &'static C,
    pub(crate) found: Found<V, M>,
}

impl<C, V, M> std::fmt::Debug for Lookup<C, V, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let found = match self.found {
            Found::Hit(_) => "hit",
            Found::Miss(_) => "miss",
            Found::Uncacheable(_) => "uncacheable",
        };
        f.debug_struct("Lookup")
            .field("found", &found)
            .finish_non_exhaustive()
    }
}

impl<V: Clone + Send + Sync + 'static> Core<V> {
    /// The sync lookup: `valid` is checked on every hit (a `false` drops the entry).
    #[inline]
    pub(crate) fn find(
        &'static self,
        cache: &'static Moka<V>,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        valid: impl Fn(&V) -> bool,
    ) -> Found<V, Key> {
        let looked_up = key::with_key(write_key, |key| match cache.get(&key) {
            Some(value) if valid(&value) => Ok(value),
            Some(_) => {
                cache.remove(&key);
                Err(key.to_owned_key())
            }
            None => Err(key.to_owned_key()),
        });
        match looked_up {
            Ok(Ok(value)) => {
                self.counters.hit();
                Found::Hit(value)
            }
            Ok(Err(key)) => Found::Miss(key),
            Err(error) => Found::Uncacheable(error),
        }
    }

    /// Finishes a sync lookup; `produce` gets the key on a miss (`None` when
    /// the arguments could not be serialized and the cache is bypassed).
    #[inline]
    pub(crate) fn resolve<E>(
        &'static self,
        cache: &'static Moka<V>,
        found: Found<V, Key>,
        produce: impl FnOnce(Option<&Key>) -> Produced<V, E>,
    ) -> Result<V, E> {
        match found {
            Found::Hit(value) => Ok(value),
            Found::Miss(key) => self.compute_once(cache, key, produce),
            Found::Uncacheable(error) => {
                warn_uncacheable(self, &error);
                match timed(&self.counters, || produce(None)).0 {
                    Produced::Computed(outcome) => outcome,
                    Produced::Loaded(value, _) => Ok(value),
                }
            }
        }
    }

    #[inline(never)]
    fn compute_once<E>(
        &'static self,
        cache: &Moka<V>,
        key: Key,
        produce: impl FnOnce(Option<&Key>) -> Produced<V, E>,
    ) -> Result<V, E> {
        reentrancy::check(self.id(), &key, self.identity.name);
        let _computing = Computing::enter(self.id(), &key);
        let mut produce = Some(produce);
        loop {
            let generation = self.generation();
            let mut ran = false;
            let mut declined = None;
            let stored = cache.optionally_get_with(key.clone(), || {
                let produce = produce.take()?;
                ran = true;
                let (produced, elapsed) = timed(&self.counters, || produce(Some(&key)));
                let outcome = self.count(produced, elapsed);
                match outcome {
                    Ok(value) if self.generation() == generation => Some(value),
                    other => {
                        if other.is_err() {
                            self.counters.error();
                        }
                        declined = Some(other);
                        None
                    }
                }
            });
            match (stored, declined) {
                (Some(value), _) => {
                    if ran {
                        self.after_store();
                    } else {
                        self.counters.hit();
                    }
                    return Ok(value);
                }
                (None, Some(outcome)) => return outcome,
                // Another caller's computation failed while we waited: compute ourselves.
                (None, None) => continue,
            }
        }
    }
}

/// An async miss: the in-flight cell if one was found, and the key.
pub(crate) type AsyncMiss<V> = (Option<Slot<V>>, Key);

impl<V: Clone + Send + Sync + 'static> Core<Slot<V>> {
    /// The async lookup: `valid` is checked on every hit (a `false` drops the entry).
    #[inline]
    pub(crate) fn find_async(
        &'static self,
        cache: &'static Moka<Slot<V>>,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        valid: impl Fn(&V) -> bool,
    ) -> Found<V, AsyncMiss<V>> {
        let looked_up = key::with_key(write_key, |key| match cache.get(&key) {
            Some(slot) => match slot.get() {
                Some(value) if valid(value) => Ok(value.clone()),
                Some(_) => {
                    cache.remove(&key);
                    Err((None, key.to_owned_key()))
                }
                None => Err((Some(slot), key.to_owned_key())),
            },
            None => Err((None, key.to_owned_key())),
        });
        match looked_up {
            Ok(Ok(value)) => {
                self.counters.hit();
                Found::Hit(value)
            }
            Ok(Err(miss)) => Found::Miss(miss),
            Err(error) => Found::Uncacheable(error),
        }
    }

    /// Finishes an async lookup; `produce` gets the key on a miss (`None`
    /// when the arguments could not be serialized and the cache is bypassed).
    pub(crate) async fn resolve_async<E, Fut>(
        &'static self,
        cache: &'static Moka<Slot<V>>,
        found: Found<V, AsyncMiss<V>>,
        produce: impl FnOnce(Option<Key>) -> Fut,
    ) -> Result<V, E>
    where
        Fut: Future<Output = Produced<V, E>>,
    {
        match found {
            Found::Hit(value) => Ok(value),
            Found::Miss((slot, key)) => self.compute_once_async(cache, slot, key, produce).await,
            Found::Uncacheable(error) => {
                warn_uncacheable(self, &error);
                match produce(None).await {
                    Produced::Computed(outcome) => outcome,
                    Produced::Loaded(value, _) => Ok(value),
                }
            }
        }
    }

    async fn compute_once_async<E, Fut>(
        &'static self,
        cache: &'static Moka<Slot<V>>,
        mut slot: Option<Slot<V>>,
        key: Key,
        produce: impl FnOnce(Option<Key>) -> Fut,
    ) -> Result<V, E>
    where
        Fut: Future<Output = Produced<V, E>>,
    {
        reentrancy::check(self.id(), &key, self.identity.name);
        let mut produce = Some(produce);
        loop {
            let cell = slot
                .take()
                .unwrap_or_else(|| cache.get_with(key.clone(), || Arc::new(OnceCell::new())));
            let generation = self.generation();
            let mut ran = false;
            let mut declined = None;
            let (produce_ref, ran_ref, declined_ref, key_ref) =
                (&mut produce, &mut ran, &mut declined, &key);
            let initialized = cell
                .get_or_try_init(|| async move {
                    let produce = produce_ref.take().ok_or(())?;
                    *ran_ref = true;
                    let panic_counter = PanicCounter(&self.counters);
                    let start = Instant::now();
                    let produced =
                        Tracked::new(self.id(), key_ref.clone(), produce(Some(key_ref.clone())))
                            .await;
                    std::mem::forget(panic_counter);
                    let outcome = self.count(produced, start.elapsed());
                    match outcome {
                        Ok(value) if self.generation() == generation => Ok(value),
                        other => {
                            if other.is_err() {
                                self.counters.error();
                            }
                            *declined_ref = Some(other);
                            Err(())
                        }
                    }
                })
                .await
                .cloned();
            match (initialized, declined) {
                (Ok(value), _) => {
                    if ran {
                        // Restart the TTL clock now that the value exists.
                        if self.generation() == generation {
                            cache.insert(key, cell);
                        }
                        self.after_store();
                    } else {
                        self.counters.hit();
                    }
                    return Ok(value);
                }
                (Err(()), Some(outcome)) => {
                    // Drop the empty cell of a failed computation (a waiter that
                    // re-runs it inserts the value again).
                    if outcome.is_err() && cell.get().is_none() {
                        cache.remove(&key.as_ref());
                    }
                    return outcome;
                }
                (Err(()), None) => continue,
            }
        }
    }
}

impl<S> Core<S> {
    /// Counts a miss (the body ran) or a persistent-tier hit.
    fn count<V, E>(&self, produced: Produced<V, E>, elapsed: std::time::Duration) -> Result<V, E> {
        match produced {
            Produced::Computed(outcome) => {
                self.counters.miss(elapsed);
                outcome
            }
            Produced::Loaded(value, tier) => {
                self.counters.tier_hit(tier);
                Ok(value)
            }
        }
    }
}

fn warn_uncacheable<S>(core: &Core<S>, error: &KeyError) {
    core.counters.uncacheable();
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(function = core.identity.name, %error, "calling without the cache");
    } else {
        tracing::debug!(function = core.identity.name, %error, "calling without the cache");
    }
}
