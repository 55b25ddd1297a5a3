//! The lookup → single flight → compute → store path, sync and async, shared
//! by `cache_data` and `cache_resource`.
//!
//! Generated code calls it in two steps, so the key can borrow the arguments
//! before the body takes them by value:
//! `cache.lookup(|key| key.write(..)).or_compute(move || body)`.
//!
//! A hit serializes the key into a reused thread-local buffer, looks it up by
//! reference and hands out the stored `Arc`'s value: nothing else is
//! allocated. A miss joins the key's [`Flight`] or starts one: concurrent
//! callers of one key run the body once, callers of different keys never
//! wait for each other. An `Err` or a panic stores nothing; a caller that
//! waited on a failed computation runs the body itself, as Streamlit does.
//!
//! Async functions come in two kinds. When the body owns its arguments (no
//! borrowed parameter), its computation is a [`SharedWork`] that every
//! caller of the key polls: cancelling the caller that started it does not
//! cancel it, the others finish it, and if every caller is gone it waits,
//! paused, for the next caller of that key to resume it — with no async
//! runtime involved. A body that borrows its caller's arguments cannot
//! outlive that caller: if the caller is cancelled, a waiter computes again.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use event_listener::Listener;
use futures_util::FutureExt;
use tracing::Instrument;

use crate::budget;
use crate::clock::Deadline;
use crate::config::{Scope, Tier};
use crate::core::{
    Built, Core, Entry, EntryRef, Flight, Joined, Produced, SharedWork, Ticket, Work,
};
use crate::front::{Fronts, Probe, Probed, Written};
use crate::key::{self, Key, KeyError, KeyRef, KeyWriter, StoreKey};
use crate::observe::{self, Computation, Computed, Display, Outcome, Started};
use crate::reentrancy::{self, Computing, Tracked};
use crate::registry::Registered;
use crate::solo::Solo;

/// What a key lookup found.
pub(crate) enum Found<V> {
    /// A hit: the caller's copy of the stored value.
    Value(V),
    /// A miss, and [`Core::stores`] read before the store was asked: while
    /// it is unchanged, nothing was stored since, so the flight lookup need
    /// not ask again.
    Miss(Key, u64),
    Uncacheable(KeyError),
}

/// The front table a lookup may try before moka, and how it names the key.
pub(crate) type FrontRef<V, K> = (&'static Fronts<V, K>, Option<u64>);

/// A call whose key arguments pack into one word, not looked up yet: its
/// finishing method (`or_compute`, …) searches the thread's front table by
/// the word and returns a hit at once, so the whole hit is one inlined path.
/// Only on a miss are the key bytes written (`write_key`) and moka asked.
/// (Possible because every key argument is `Copy`: the key writer and the
/// body can both hold them.)
#[must_use = "a lookup does nothing until it is finished with `or_compute`"]
pub struct WordLookup<C: 'static, V: 'static, W, S: 'static = ()> {
    pub(crate) cache: &'static C,
    pub(crate) word: u64,
    pub(crate) write_key: W,
    /// The thread's entry of a function without key arguments, tried first.
    pub(crate) solo: Option<&'static LocalKey<Solo<V, S>>>,
    /// The caller's copy of a stored value (checked where the lookup was made).
    pub(crate) copy: fn(&V) -> V,
}

/// The finishing methods of a [`WordLookup`]: the same names as
/// [`Lookup`]'s, each returning a front-table hit at once and otherwise
/// finishing the lookup `missed` makes. `$t` is what the body computes,
/// `$stored` what the cache stores, `$out` what the caller gets.
macro_rules! word_lookup_finishers {
    (sync $cache:ident<$t:ident>, $stored:ty, $out:ty, $solo:ty) => {
        impl<$t: Send + Sync + 'static, K: StoreKey, W> WordLookup<$cache<$t, K>, $stored, W, $solo>
        where
            W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        {
            /// [`Lookup::or_compute`], with the front-table hit inlined.
            #[inline]
            pub fn or_compute(self, compute: impl FnOnce() -> $t) -> $out {
                // Out of line: the hit stays a short path with a small frame.
                #[cold]
                #[inline(never)]
                fn miss<$t: Send + Sync + 'static, K: StoreKey, W>(
                    lookup: WordLookup<$cache<$t, K>, $stored, W, $solo>,
                    refused: Option<EntryRef<$stored>>,
                    compute: impl FnOnce() -> $t,
                ) -> $out
                where
                    W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
                {
                    lookup.missed(refused).or_compute(compute)
                }
                match self.probe_front() {
                    Ok(value) => value,
                    Err(refused) => miss(self, refused, compute),
                }
            }

            /// [`Lookup::or_try_compute`], with the front-table hit inlined.
            ///
            /// # Errors
            /// Whatever `compute` returns.
            #[inline]
            pub fn or_try_compute<E>(
                self,
                compute: impl FnOnce() -> Result<$t, E>,
            ) -> Result<$out, E> {
                #[cold]
                #[inline(never)]
                fn miss<$t: Send + Sync + 'static, K: StoreKey, W, E>(
                    lookup: WordLookup<$cache<$t, K>, $stored, W, $solo>,
                    refused: Option<EntryRef<$stored>>,
                    compute: impl FnOnce() -> Result<$t, E>,
                ) -> Result<$out, E>
                where
                    W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
                {
                    lookup.missed(refused).or_try_compute(compute)
                }
                match self.probe_front() {
                    Ok(value) => Ok(value),
                    Err(refused) => miss(self, refused, compute),
                }
            }
        }
    };
    (async $cache:ident<$t:ident>, $stored:ty, $out:ty, $solo:ty) => {
        impl<$t: Send + Sync + 'static, K: StoreKey, W> WordLookup<$cache<$t, K>, $stored, W, $solo>
        where
            W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        {
            /// [`Lookup::or_compute`] (async), with the front-table hit inlined.
            pub async fn or_compute<Fut: Future<Output = $t>>(
                self,
                compute: impl FnOnce() -> Fut,
            ) -> $out {
                match self.probe_front() {
                    Ok(value) => value,
                    Err(refused) => self.missed(refused).or_compute(compute).await,
                }
            }

            /// [`Lookup::or_try_compute`] (async), with the front-table hit inlined.
            ///
            /// # Errors
            /// Whatever `compute` returns.
            pub async fn or_try_compute<E, Fut: Future<Output = Result<$t, E>>>(
                self,
                compute: impl FnOnce() -> Fut,
            ) -> Result<$out, E> {
                match self.probe_front() {
                    Ok(value) => Ok(value),
                    Err(refused) => self.missed(refused).or_try_compute(compute).await,
                }
            }

            /// [`Lookup::or_compute_shared`], with the front-table hit inlined.
            pub async fn or_compute_shared<Fut>(
                self,
                compute: impl FnOnce() -> Fut + Send + 'static,
            ) -> $out
            where
                Fut: Future<Output = $t> + Send + 'static,
            {
                match self.probe_front() {
                    Ok(value) => value,
                    Err(refused) => self.missed(refused).or_compute_shared(compute).await,
                }
            }

            /// [`Lookup::or_try_compute_shared`], with the front-table hit inlined.
            ///
            /// # Errors
            /// Whatever `compute` returns.
            pub async fn or_try_compute_shared<E, Fut>(
                self,
                compute: impl FnOnce() -> Fut + Send + 'static,
            ) -> Result<$out, E>
            where
                Fut: Future<Output = Result<$t, E>> + Send + 'static,
                E: Send + 'static,
            {
                match self.probe_front() {
                    Ok(value) => Ok(value),
                    Err(refused) => self.missed(refused).or_try_compute_shared(compute).await,
                }
            }
        }
    };
}

pub(crate) use word_lookup_finishers;

impl<C, V, W, S> std::fmt::Debug for WordLookup<C, V, W, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordLookup")
            .field("word", &self.word)
            .finish_non_exhaustive()
    }
}

/// A call whose key has been looked up; finish it with `or_compute` (or
/// `or_try_compute` for a function returning `Result`).
#[must_use = "a lookup does nothing until it is finished with `or_compute`"]
pub struct Lookup<C: 'static, V> {
    pub(crate) cache: &'static C,
    pub(crate) found: Found<V>,
    /// When the call started, if anything observes calls.
    pub(crate) started: Option<Started>,
    /// The caller's copy of a stored value (`Clone::clone`, checked where
    /// the lookup was made).
    pub(crate) copy: fn(&V) -> V,
}

impl<C, V> std::fmt::Debug for Lookup<C, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let found = match self.found {
            Found::Value(_) => "hit",
            Found::Miss(..) => "miss",
            Found::Uncacheable(_) => "uncacheable",
        };
        f.debug_struct("Lookup")
            .field("found", &found)
            .finish_non_exhaustive()
    }
}

/// How a computation ended, for the caller that started it.
enum Done<V, E> {
    /// A value to store (and hand out), computed or loaded from a tier.
    Ready(EntryRef<V>, Outcome),
    Failed(E),
    Panicked(Box<dyn Any + Send>),
}

impl<V, E> Done<V, E> {
    /// How the computation ended, for observers.
    fn computed(&self) -> Computed {
        match self {
            Done::Ready(..) => Computed::Ok,
            Done::Failed(_) => Computed::Err,
            Done::Panicked(_) => Computed::Abandoned,
        }
    }

    /// The entry to store, if any.
    fn entry(&self) -> Option<EntryRef<V>> {
        match self {
            Done::Ready(entry, _) => Some(EntryRef::clone(entry)),
            Done::Failed(_) | Done::Panicked(_) => None,
        }
    }
}

/// Settles a started flight as failed if the computation is abandoned (a
/// panic, or a cancelled async caller), so its waiters compute again.
struct Unsettled<'a, V: Send + Sync + 'static, K: StoreKey> {
    core: &'static Core<V, K>,
    built: &'static Built<V, K>,
    key: &'a Key,
    flight: &'a Arc<Flight<V>>,
    started: Option<Started>,
    /// Reported abandoned if this is dropped unsettled.
    computation: Option<Computation>,
}

impl<V: Send + Sync + 'static, K: StoreKey> Unsettled<'_, V, K> {
    /// The computation's `cache.compute` span (none once it ended).
    fn span(&self) -> tracing::Span {
        self.computation
            .as_ref()
            .map_or_else(tracing::Span::none, |computation| {
                computation.span().clone()
            })
    }

    /// Counts and stores what the computation produced, wakes its waiters,
    /// and reports the call.
    fn complete<E>(mut self, produced: Produced<V, E>, start: Instant) -> Result<EntryRef<V>, E> {
        let computation = self.computation.take();
        let (core, built, key, flight, started) =
            (self.core, self.built, self.key, self.flight, self.started);
        std::mem::forget(self);
        let done = core.conclude(built, produced, start.elapsed());
        if let Some(computation) = computation {
            computation.end(done.computed());
        }
        core.settle(built, key, flight, done.entry());
        core.finish_computed(started, done)
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Drop for Unsettled<'_, V, K> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A panic is a miss that failed; a cancelled call just stops.
            self.core.counters.error();
            let (name, kind) = (self.core.identity.name, self.core.kind);
            observe::finish(self.started, name, kind, Outcome::Miss);
        }
        self.core.settle(self.built, self.key, self.flight, None);
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Core<V, K> {
    /// The lookup: the thread's front table first (when the function has
    /// one), then moka. `serve` makes the caller's copy of a stored value; a
    /// `None` (a resource's failed `validate`) removes the entry, releasing
    /// it, and the call becomes a miss.
    #[inline]
    pub(crate) fn find(
        &'static self,
        owner: &'static dyn Registered,
        front: Option<&'static Fronts<V, K>>,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        serve: impl Fn(&V) -> Option<V>,
    ) -> (Found<V>, Option<Started>) {
        let Some(fronts) = front else {
            return self.find_keyed(owner, None, None, write_key, serve);
        };
        match fronts.probe_writing(self, write_key, &serve) {
            Written::Hit(value) => {
                self.front_hit();
                (Found::Value(value), None)
            }
            Written::Missed(key, refused) => self.find_owned(owner, fronts, key, refused, serve),
            Written::Uncacheable(error) => (Found::Uncacheable(error), observe::start()),
            Written::Busy(write_key) => {
                self.find_keyed(owner, Some((fronts, None)), None, write_key, serve)
            }
        }
    }

    /// The lookup in moka with the key written into the thread's shared key
    /// buffer: a function without a front table, a re-entrant call, or a
    /// word lookup the front table did not answer (`refused`: an entry it
    /// found but `serve` refused, removed here).
    #[inline(never)]
    pub(crate) fn find_keyed(
        &'static self,
        owner: &'static dyn Registered,
        front: Option<FrontRef<V, K>>,
        refused: Option<EntryRef<V>>,
        write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
        serve: impl Fn(&V) -> Option<V>,
    ) -> (Found<V>, Option<Started>) {
        let started = observe::start();
        let found = key::with_key(write_key, |key| {
            match self.find_in_store(owner, front, refused, key, &serve, started) {
                Ok(value) => Found::Value(value),
                Err(stores) => Found::Miss(key.to_owned_key(), stores),
            }
        });
        (found.unwrap_or_else(Found::Uncacheable), started)
    }

    /// A lookup the front table could not answer, with its key copied out.
    #[cold]
    #[inline(never)]
    fn find_owned(
        &'static self,
        owner: &'static dyn Registered,
        fronts: &'static Fronts<V, K>,
        key: Key,
        refused: Option<EntryRef<V>>,
        serve: impl Fn(&V) -> Option<V>,
    ) -> (Found<V>, Option<Started>) {
        let started = observe::start();
        let found = self.find_in_store(
            owner,
            Some((fronts, None)),
            refused,
            key.as_ref(),
            &serve,
            started,
        );
        match found {
            Ok(value) => (Found::Value(value), started),
            Err(stores) => (Found::Miss(key, stores), started),
        }
    }

    /// The hit path of a lookup by packed word: the front table alone. A
    /// hit is counted (by the table) and returned; `Err` carries the current
    /// entry `serve` refused, if any, on to [`Core::find_keyed`].
    #[inline]
    pub(crate) fn probe_word<O>(
        &'static self,
        fronts: &'static Fronts<V, K>,
        word: u64,
        serve: impl FnOnce(&V) -> Option<O>,
    ) -> Result<O, Option<EntryRef<V>>> {
        self.front_answer(fronts.probe(self, Probe::Word(word), serve))
    }

    /// A front probe's answer: a hit, reported to observers; else the
    /// entry to remove, if one was refused.
    #[inline]
    fn front_answer<O>(&self, probed: Probed<V, O>) -> Result<O, Option<EntryRef<V>>> {
        match probed {
            Probed::Hit(value) => {
                self.front_hit();
                Ok(value)
            }
            Probed::Refused(entry) => Err(Some(entry)),
            Probed::Miss => Err(None),
        }
    }

    /// The hit path of a function without key arguments: its thread-local
    /// entry alone (see [`Solo`]). `Err` as for [`Core::probe_word`].
    #[inline]
    pub(crate) fn probe_solo<O, Out>(
        &'static self,
        solo: &'static LocalKey<Solo<V, O>>,
        accept: impl FnOnce(&V) -> bool,
        copy: impl FnOnce(&V, &O) -> Out,
    ) -> Result<Out, Option<EntryRef<V>>> {
        let removals = self.removals();
        self.front_answer(
            solo.try_with(|solo| solo.probe(removals, accept, copy))
                .unwrap_or(Probed::Miss),
        )
    }

    /// After a front-table hit that the thread's [`Solo`] missed: the entry
    /// goes there for the next calls.
    #[cold]
    #[inline(never)]
    pub(crate) fn refill_solo<O>(
        &'static self,
        fronts: &'static Fronts<V, K>,
        solo: &'static LocalKey<Solo<V, O>>,
        word: u64,
        out: impl FnOnce(&V) -> O,
    ) {
        // Read before the entry is found current (see `Core::removals`).
        let removals = self.removals();
        if let Some(entry) = fronts.current(self, word) {
            let out = out(&entry.value);
            let hits = self.counters.local_hits();
            let _ = solo.try_with(|solo| solo.fill(entry, out, removals, hits));
        }
    }

    /// Reports a front hit to observers, if any.
    #[inline]
    fn front_hit(&self) {
        tracing::trace!(function = self.identity.name, "cache.hit");
        if observe::active() {
            self.report_front_hit();
        }
    }

    /// Reports a front-table hit to observers (timed from now: a hit that
    /// never left the table takes no measurable time).
    #[cold]
    fn report_front_hit(&self) {
        observe::finish(
            observe::start(),
            self.identity.name,
            self.kind,
            Outcome::Hit,
        );
    }

    /// The lookup in moka, after the front table (if any) missed: a value
    /// found there fills the front table; `refused` is an entry the front
    /// table found but `serve` refused, removed here. `None`: a miss.
    #[inline(never)]
    fn find_in_store(
        &'static self,
        owner: &'static dyn Registered,
        front: Option<FrontRef<V, K>>,
        refused: Option<EntryRef<V>>,
        key: KeyRef<'_>,
        serve: &impl Fn(&V) -> Option<V>,
        started: Option<Started>,
    ) -> Result<V, u64> {
        let built = self.built(owner);
        // Read before the store is: see `Found::Miss`.
        let stores = self.stores();
        if let Some(entry) = refused {
            self.remove_entry(built, key, &entry);
            return Err(stores);
        }
        // A clear after this read keeps the entry out of the front table.
        let epoch = self.epoch();
        let Some(entry) = self.get(built, key) else {
            if let Some((fronts, _)) = front {
                // Before this miss inserts, moka learns this thread's
                // front hits, so the insert evicts the least recent.
                fronts.before_insert(built);
            }
            return Err(stores);
        };
        let Some(value) = serve(&entry.value) else {
            self.remove_entry(built, key, &entry);
            return Err(stores);
        };
        if built.budget.is_some() {
            budget::touch(self.id(), key);
        }
        if let Some((fronts, word)) = front {
            let probe = word.map_or(Probe::Key(key), Probe::Word);
            fronts.fill(self, built, probe, key, &entry, epoch);
        }
        self.hit(started);
        Ok(value)
    }

    pub(crate) fn hit(&self, started: Option<Started>) {
        tracing::trace!(function = self.identity.name, "cache.hit");
        self.counters.hit();
        observe::finish(started, self.identity.name, self.kind, Outcome::Hit);
    }

    /// A value a persistent tier held, read before any flight began (see
    /// `persist`'s peek): counted as the tier's hit, reported, and stored in
    /// memory when `keep` allows, unless a clear or invalidate came since
    /// `discards` ([`Core::discards`]) was read.
    pub(crate) fn loaded(
        &self,
        built: &Built<V, K>,
        key: &Key,
        discards: u64,
        started: Option<Started>,
        (value, tier, deadline): (V, Tier, Deadline),
        keep: bool,
    ) -> Served<V> {
        self.counters.tier_hit(tier);
        let entry = self.entry(built, value, Some(deadline));
        if keep {
            self.store_loaded(built, key, discards, &entry);
        }
        observe::finish(
            started,
            self.identity.name,
            self.kind,
            Outcome::loaded(tier),
        );
        Served::Entry(entry)
    }

    /// Counts what a computation produced and wraps a value for storing.
    fn conclude<E>(
        &self,
        built: &Built<V, K>,
        produced: Produced<V, E>,
        elapsed: Duration,
    ) -> Done<V, E> {
        match produced {
            Produced::Computed(Ok(value)) => {
                self.counters.miss(elapsed);
                Done::Ready(self.entry(built, value, None), Outcome::Miss)
            }
            Produced::Computed(Err(error)) => {
                self.counters.miss(elapsed);
                self.counters.error();
                Done::Failed(error)
            }
            Produced::Loaded(value, tier, deadline) => {
                self.counters.tier_hit(tier);
                let entry = self.entry(built, value, Some(deadline));
                Done::Ready(entry, Outcome::loaded(tier))
            }
        }
    }

    /// Reports the end of a call that computed (or failed to).
    fn finish_computed<E>(
        &self,
        started: Option<Started>,
        done: Done<V, E>,
    ) -> Result<EntryRef<V>, E> {
        let outcome = match &done {
            Done::Ready(_, outcome) => *outcome,
            Done::Failed(_) | Done::Panicked(_) => Outcome::Miss,
        };
        observe::finish(started, self.identity.name, self.kind, outcome);
        match done {
            Done::Ready(entry, _) => Ok(entry),
            Done::Failed(error) => Err(error),
            Done::Panicked(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs the body with the cache bypassed (the key could not be written).
    fn uncached<E>(
        &self,
        started: Option<Started>,
        error: &KeyError,
        produced: Produced<V, E>,
    ) -> Result<V, E> {
        warn_uncacheable(self, error);
        observe::finish(started, self.identity.name, self.kind, Outcome::Uncached);
        match produced {
            Produced::Computed(outcome) => outcome,
            Produced::Loaded(value, _, _) => Ok(value),
        }
    }

    /// The caller that started `flight` begins computing: reported to
    /// observers, and settled as failed if it is abandoned.
    fn start_computing<'a>(
        &'static self,
        built: &'static Built<V, K>,
        key: &'a Key,
        flight: &'a Arc<Flight<V>>,
        started: Option<Started>,
    ) -> Unsettled<'a, V, K> {
        let computation = self.begin_computation(key, false);
        Unsettled {
            core: self,
            built,
            key,
            flight,
            started,
            computation: Some(computation),
        }
    }

    /// A computation of `key` starts: announced, shown, traced.
    pub(crate) fn begin_computation(&self, key: &Key, refresh: bool) -> Computation {
        let config = self.config();
        let arguments_from = match config.scope {
            Scope::Global => 0,
            Scope::Session => crate::scope::PREFIX_LEN,
        };
        let display = Display {
            spinner: config.spinner,
            show_time: config.show_time,
        };
        Computation::begin(
            self.identity.name,
            self.kind,
            !key.is_empty_from(arguments_from),
            display,
            refresh,
        )
    }

    /// Finishes a sync lookup; `produce` gets the key and the write permit on
    /// a miss (`None`s when the arguments could not be keyed).
    pub(crate) fn resolve<E>(
        &'static self,
        built: &'static Built<V, K>,
        found: Found<V>,
        started: Option<Started>,
        produce: impl FnOnce(Option<(&Key, Ticket)>) -> Produced<V, E>,
    ) -> Result<Served<V>, E> {
        match found {
            Found::Value(value) => Ok(Served::Value(value)),
            Found::Miss(key, stores) => self
                .compute(built, key, stores, started, produce)
                .map(Served::Entry),
            Found::Uncacheable(error) => {
                self.counters.uncacheable();
                let produced = produce(None);
                self.uncached(started, &error, produced).map(Served::Value)
            }
        }
    }

    #[inline(never)]
    fn compute<E>(
        &'static self,
        built: &'static Built<V, K>,
        key: Key,
        stores: u64,
        started: Option<Started>,
        produce: impl FnOnce(Option<(&Key, Ticket)>) -> Produced<V, E>,
    ) -> Result<EntryRef<V>, E> {
        reentrancy::check(self.id(), &key, self.identity.name);
        let mut stores = Some(stores);
        let flight = loop {
            match self.join_or_start(built, &key, stores.take(), || self.flight(|_| None)) {
                Joined::Stored(entry) => {
                    self.hit(started);
                    return Ok(entry);
                }
                Joined::Waiting(flight) => {
                    let settled = loop {
                        match flight.poll_settled() {
                            Ok(settled) => break settled,
                            Err(listener) => listener.wait(),
                        }
                    };
                    if let Some(entry) = settled {
                        self.hit(started);
                        return Ok(entry);
                    }
                }
                Joined::Started(flight) => break flight,
            }
        };
        let unsettled = self.start_computing(built, &key, &flight, started);
        let _computing = Computing::enter(self.id(), &key);
        let start = Instant::now();
        let span = unsettled.span();
        let produced = span.in_scope(|| produce(Some((&key, flight.ticket(&self.tier_gate)))));
        unsettled.complete(produced, start)
    }

    /// Finishes an async lookup whose body may borrow its caller's arguments:
    /// the caller that starts a computation drives it.
    pub(crate) async fn resolve_async<E, Fut>(
        &'static self,
        built: &'static Built<V, K>,
        found: Found<V>,
        started: Option<Started>,
        produce: impl FnOnce(Option<(Key, Ticket)>) -> Fut,
    ) -> Result<Served<V>, E>
    where
        Fut: Future<Output = Produced<V, E>>,
    {
        let (key, stores) = match found {
            Found::Value(value) => return Ok(Served::Value(value)),
            Found::Miss(key, stores) => (key, stores),
            Found::Uncacheable(error) => {
                self.counters.uncacheable();
                let produced = Box::pin(produce(None)).await;
                return self.uncached(started, &error, produced).map(Served::Value);
            }
        };
        reentrancy::check(self.id(), &key, self.identity.name);
        let mut stores = Some(stores);
        let flight = loop {
            match self.join_or_start(built, &key, stores.take(), || self.flight(|_| None)) {
                Joined::Stored(entry) => {
                    self.hit(started);
                    return Ok(Served::Entry(entry));
                }
                Joined::Waiting(flight) => {
                    if let Some(entry) = self.wait_async(built, &key, &flight).await {
                        self.hit(started);
                        return Ok(Served::Entry(entry));
                    }
                }
                Joined::Started(flight) => break flight,
            }
        };
        let unsettled = self.start_computing(built, &key, &flight, started);
        let start = Instant::now();
        let ticket = flight.ticket(&self.tier_gate);
        // Boxed (by `Tracked`): the computation's future would otherwise
        // size this one, and the caller's, which is copied each time it moves.
        let produced = Tracked::new(self.id(), key.clone(), produce(Some((key.clone(), ticket))))
            .instrument(unsettled.span())
            .await;
        unsettled.complete(produced, start).map(Served::Entry)
    }

    /// Finishes an async lookup whose body owns its arguments: the computation
    /// is shared by every caller of the key and survives their cancellation.
    pub(crate) async fn resolve_shared<E, Fut>(
        &'static self,
        built: &'static Built<V, K>,
        found: Found<V>,
        started: Option<Started>,
        produce: impl FnOnce(Option<(Key, Ticket)>) -> Fut,
    ) -> Result<Served<V>, E>
    where
        Fut: Future<Output = Produced<V, E>> + Send + 'static,
        E: Send + 'static,
    {
        let (key, stores) = match found {
            Found::Value(value) => return Ok(Served::Value(value)),
            Found::Miss(key, stores) => (key, stores),
            Found::Uncacheable(error) => {
                self.counters.uncacheable();
                let produced = Box::pin(produce(None)).await;
                return self.uncached(started, &error, produced).map(Served::Value);
            }
        };
        reentrancy::check(self.id(), &key, self.identity.name);
        let mut produce = Some(produce);
        let mut stores = Some(stores);
        let slot: Arc<Mutex<Option<Done<V, E>>>> = Arc::new(Mutex::new(None));
        loop {
            let joined = self.join_or_start(built, &key, stores.take(), || {
                self.flight(|ticket| {
                    let produce = produce.take()?;
                    // Boxed at once: moved as a pointer from here on.
                    let work = Box::pin(produce(Some((key.clone(), ticket))));
                    Some(self.shared_work(built, key.clone(), work, Arc::clone(&slot)))
                })
            });
            let (flight, mine) = match joined {
                Joined::Stored(entry) => {
                    self.hit(started);
                    return Ok(Served::Entry(entry));
                }
                Joined::Waiting(flight) => (flight, false),
                Joined::Started(flight) => (flight, true),
            };
            let settled = self.wait_async(built, &key, &flight).await;
            let done = mine
                .then(|| slot.lock().unwrap_or_else(PoisonError::into_inner).take())
                .flatten();
            match done {
                // This caller started the computation: it gets its value,
                // error or panic, stored or not.
                Some(done) => return self.finish_computed(started, done).map(Served::Entry),
                None => {
                    if let Some(entry) = settled {
                        self.hit(started);
                        return Ok(Served::Entry(entry));
                    }
                }
            }
        }
    }

    /// The shared computation of one key: runs `work`, counts it, and yields
    /// the entry to store; the starting caller's `slot` learns how it went.
    fn shared_work<E: Send + 'static>(
        &'static self,
        built: &'static Built<V, K>,
        key: Key,
        work: Pin<Box<impl Future<Output = Produced<V, E>> + Send + 'static>>,
        slot: Arc<Mutex<Option<Done<V, E>>>>,
    ) -> SharedWork<V> {
        let tracked = Tracked::boxed(self.id(), key.clone(), work);
        let run = async move {
            let computation = self.begin_computation(&key, false);
            let start = Instant::now();
            let tracked = tracked.instrument(computation.span().clone());
            let done = match AssertUnwindSafe(tracked).catch_unwind().await {
                Ok(produced) => self.conclude(built, produced, start.elapsed()),
                Err(panic) => {
                    self.counters.error();
                    Done::Panicked(panic)
                }
            };
            computation.end(done.computed());
            let entry = done.entry();
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(done);
            entry
        };
        let work: Work<V> = Box::pin(run);
        work.shared()
    }

    /// Waits for a flight to settle, driving its computation when it is
    /// shared. Returns the stored entry (`None`: compute again).
    async fn wait_async(
        &'static self,
        built: &'static Built<V, K>,
        key: &Key,
        flight: &Arc<Flight<V>>,
    ) -> Option<EntryRef<V>> {
        if let Some(work) = flight.shared() {
            let entry = work.await;
            self.settle(built, key, flight, entry);
        }
        loop {
            match flight.poll_settled() {
                Ok(settled) => return settled,
                Err(listener) => listener.await,
            }
        }
    }
}

/// What a call hands out: an entry (stored, or computed by this caller), or
/// the caller's own value (a hit's copy, or computed with the cache bypassed).
pub(crate) enum Served<V> {
    Entry(EntryRef<V>),
    Value(V),
}

impl<V> Served<V> {
    /// The caller's value: `copy` of an entry still shared, else moved out.
    #[inline]
    pub(crate) fn into_value(self, copy: fn(&V) -> V) -> V {
        match self {
            Served::Value(value) => value,
            Served::Entry(entry) => Entry::into_value(entry, copy),
        }
    }
}

fn warn_uncacheable<V, K>(core: &Core<V, K>, error: &KeyError) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(function = core.identity.name, %error, "calling without the cache");
    } else {
        tracing::debug!(function = core.identity.name, %error, "calling without the cache");
    }
}

/// Turns `Result<V, Infallible>` into `V`.
pub(crate) fn infallible<V>(result: Result<V, std::convert::Infallible>) -> V {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}
