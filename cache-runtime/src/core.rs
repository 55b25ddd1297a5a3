//! The part every cache shares: its resolved configuration, the moka store of
//! entries, the computations in flight, the clear epoch, counters and
//! registration.
//!
//! # Consistency
//!
//! Every computation runs in a [`Flight`] registered under its key. A value is
//! stored only by [`Core::settle`], which holds the `flights` lock while it
//! checks that its flight is still attached and inserts into moka. `clear`
//! and `invalidate` take the same lock to detach the flights they cover and
//! to remove entries, so the two are totally ordered: a computation that
//! started before a clear or an invalidate of its key is never stored, and
//! one that started after it is. Flights are per key, so `invalidate(2)`
//! never disturbs key 1's computation.
//!
//! moka's `invalidate_all` is lazy and goes by timestamps (an entry whose
//! write moka has not applied yet survives it), and the front tables check an
//! entry's own state rather than ask moka, so a clear also marks every stored
//! entry gone and bumps the cache's epoch and removal count: a front table
//! that sees a new epoch drops all it holds, one never takes an entry found
//! before it, and a function without arguments sees its count move. A clear
//! is complete the moment it returns.
//!
//! Values are stored as [`EntryRef`]s (a `triomphe::Arc` of the value and one
//! state word): moka's insert path clones only the `Arc`, and each entry's
//! deadline (a `ttl` counted from the write, or a persistent record's own
//! deadline) drives moka's per-entry expiry. moka keys them by a
//! [`StoreKey`]: the key's bytes, or a word function's packed word.
//!
//! Nothing here calls user code while holding a lock: `on_release` hooks are
//! queued by moka's eviction listener and run by the caller afterwards.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use event_listener::Event;
use moka::Expiry;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;

use crate::budget::{self, BudgetOwner};
use crate::clock::Deadline;
use crate::config::{Config, Eviction, Identity, Kind, Scope, Tier};
use crate::key::{Key, KeyHasher, KeyRef, StoreKey};
use crate::registry::{self, FunctionInfo, Registered};
use crate::scope::{self, Prefix};
use crate::stats::Counters;

/// A shared handle on an [`Entry`]: `triomphe`'s `Arc`, which has no weak
/// count, so an entry of a word-sized value fits a 32-byte allocation.
pub(crate) type EntryRef<V> = triomphe::Arc<Entry<V>>;

/// One stored value and what decides whether it may still be served.
#[derive(Debug)]
pub(crate) struct Entry<V> {
    pub(crate) value: V,
    /// Its liveness and deadline in one word (an entry of a `u64` is then
    /// 24 bytes): [`GONE`] once it left the store (evicted, expired,
    /// replaced, removed; a clear is told apart by the cache's epoch), below
    /// it the deadline (see [`Deadline::packed`]).
    state: AtomicU64,
}

/// The bit of [`Entry::state`] that says the entry left the store.
const GONE: u64 = 1 << 63;

impl<V> Entry<V> {
    /// A new entry, served until `deadline`.
    pub(crate) fn new(value: V, deadline: Deadline) -> EntryRef<V> {
        triomphe::Arc::new(Entry {
            value,
            state: AtomicU64::new(deadline.packed()),
        })
    }

    /// The caller's copy: moved out when no one else holds the entry (a value
    /// a clear discarded), else `copy` of it.
    #[inline]
    pub(crate) fn into_value(entry: EntryRef<V>, copy: fn(&V) -> V) -> V {
        // A plain load first: a stored entry is shared with moka, and a
        // failed `try_unwrap` would cost an atomic read-modify-write.
        if !entry.is_unique() {
            return copy(&entry.value);
        }
        triomphe::Arc::try_unwrap(entry)
            .map_or_else(|shared| copy(&shared.value), |entry| entry.value)
    }

    /// May be served: still in the store, and before its deadline. What a
    /// front-table hit checks instead of moka.
    #[inline]
    pub(crate) fn is_current(&self) -> bool {
        let state = self.state.load(Ordering::Acquire);
        state & GONE == 0 && Deadline::packed_is_ahead(state)
    }

    /// When it expires: its `ttl` from the write, or its record's deadline.
    pub(crate) fn deadline(&self) -> Deadline {
        Deadline::unpack(self.state.load(Ordering::Relaxed))
    }

    /// Whether it left the store.
    pub(crate) fn is_gone(&self) -> bool {
        self.state.load(Ordering::Acquire) & GONE != 0
    }

    /// Records that it left the store: no front table serves it again.
    pub(crate) fn mark_gone(&self) {
        self.state.fetch_or(GONE, Ordering::Release);
    }
}

/// moka's per-entry expiry: each entry lives until its own deadline, and
/// `grace` after it (a background-refresh function's stale window).
struct ByDeadline {
    grace: Duration,
}

impl ByDeadline {
    fn remaining<V>(&self, entry: &Entry<V>) -> Option<Duration> {
        entry.deadline().later_by(self.grace).remaining()
    }
}

impl<K, V> Expiry<K, EntryRef<V>> for ByDeadline {
    fn expire_after_create(
        &self,
        _key: &K,
        entry: &EntryRef<V>,
        _created_at: Instant,
    ) -> Option<Duration> {
        self.remaining(entry)
    }

    fn expire_after_update(
        &self,
        _key: &K,
        entry: &EntryRef<V>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.remaining(entry)
    }
}

pub(crate) type Moka<V, K> = moka::sync::Cache<K, EntryRef<V>, KeyHasher>;

/// How a flight ended, as its waiters see it.
#[derive(Debug)]
enum Settled<V> {
    Running,
    /// Stored: waiters take this value.
    Ready(EntryRef<V>),
    /// Failed, panicked, was cancelled, or was discarded by a clear: waiters
    /// compute again (as Streamlit's do).
    Retry,
}

/// A computation in progress for one key; concurrent callers of the key wait
/// on it instead of computing.
pub(crate) struct Flight<V> {
    state: Mutex<Settled<V>>,
    done: Event,
    /// Set (under the `flights` lock) by a clear or invalidate that covers it.
    detached: Arc<AtomicBool>,
    /// For async functions whose body owns its arguments: the computation
    /// itself, driven by whichever caller polls it, so it survives the
    /// cancellation of the caller that started it.
    pub(crate) shared: Option<SharedWork<V>>,
}

/// An async computation shared by every caller of its key: it yields the
/// entry to store, or `None` when it failed.
pub(crate) type SharedWork<V> = futures_util::future::Shared<Work<V>>;

/// The computation behind a [`SharedWork`].
pub(crate) type Work<V> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<EntryRef<V>>> + Send>>;

impl<V> std::fmt::Debug for Flight<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flight")
            .field("detached", &self.detached)
            .finish_non_exhaustive()
    }
}

impl<V> Flight<V> {
    /// The value it stored, `None` to compute again, or a listener to wait on.
    pub(crate) fn poll_settled(
        &self,
    ) -> Result<Option<EntryRef<V>>, event_listener::EventListener> {
        // A listener (an allocation) only when there is something to wait
        // for; the state is asked again once it listens, so no settle is
        // missed (see `Core::settle`).
        if let Some(settled) = self.settled() {
            return Ok(settled);
        }
        let listener = self.done.listen();
        self.settled().ok_or(listener)
    }

    /// The stored value, `Some(None)` to compute again, `None` while running.
    fn settled(&self) -> Option<Option<EntryRef<V>>> {
        match &*lock(&self.state) {
            Settled::Running => None,
            Settled::Ready(entry) => Some(Some(EntryRef::clone(entry))),
            Settled::Retry => Some(None),
        }
    }

    /// The write permit for the persistent tiers.
    pub(crate) fn ticket(&self, gate: &'static RwLock<()>) -> Ticket {
        Ticket {
            detached: Arc::clone(&self.detached),
            gate,
        }
    }

    /// The shared computation, for async callers that drive it.
    pub(crate) fn shared(&self) -> Option<SharedWork<V>> {
        self.shared.clone()
    }
}

/// Permission to write a computed value to a persistent tier, valid while
/// the computation's flight is attached. Holds no reference to the flight.
#[derive(Debug)]
pub(crate) struct Ticket {
    detached: Arc<AtomicBool>,
    gate: &'static RwLock<()>,
}

impl Ticket {
    /// Runs `write` unless a clear or invalidate has covered this computation;
    /// a clear of the tier waits for a write already under way, then removes it.
    pub(crate) fn write<R>(&self, write: impl FnOnce() -> R) -> Option<R> {
        let _writing = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        (!self.detached.load(Ordering::Acquire)).then(write)
    }

    /// Whether no clear or invalidate has covered this computation (yet):
    /// for a write that cannot hold the gate (an async one), whose tier
    /// orders it against clears by itself (Redis's generations).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn is_current(&self) -> bool {
        !self.detached.load(Ordering::Acquire)
    }

    /// Keeps the computation's value out of memory (its caller still gets
    /// it; callers waiting on it look again).
    pub(crate) fn keep_out_of_memory(&self) {
        self.detached.store(true, Ordering::Release);
    }
}

/// What a miss produced: the body's outcome, or a value loaded from a
/// persistent tier with its record's deadline.
pub(crate) enum Produced<V, E> {
    Computed(Result<V, E>),
    Loaded(V, Tier, Deadline),
}

/// How long a clear waits for moka to drop its copies of the entries it
/// removed (see `Core::await_reclaimed`): past it, they go when moka's
/// reclamation next runs.
const RECLAIM_WAIT: Duration = Duration::from_millis(50);

/// A stored entry's charge to the memory budget: its owner, the entry's id
/// and its weight in bytes.
type Charge = (&'static dyn BudgetOwner, usize, usize);

type FlightMap<V> = HashMap<Key, Arc<Flight<V>>, BuildHasherDefault<crate::key::PassThrough>>;

pub(crate) struct Built<V, K = Key> {
    pub(crate) moka: Moka<V, K>,
    pub(crate) config: Config,
    /// This cache, when its entries count against the process-wide memory
    /// budget (`cache_data` functions, while a budget is in force).
    pub(crate) budget: Option<&'static dyn BudgetOwner>,
}

impl<V, K> std::fmt::Debug for Built<V, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Core<V, K = Key> {
    pub(crate) identity: Identity,
    /// [`Identity::persist_id`], hashed once.
    persist_id: OnceLock<u64>,
    pub(crate) kind: Kind,
    /// The macro's arguments, evaluated once by `config()`.
    config: fn() -> Config,
    resolved: OnceLock<Config>,
    built: OnceLock<Built<V, K>>,
    pub(crate) counters: Counters,
    /// Bumped by every clear.
    epoch: AtomicU64,
    /// Bumped by every value stored (under the flights lock, after the
    /// store): a miss that read it before asking the store knows, while it
    /// is unchanged, that asking again would miss too.
    stores: AtomicU64,
    /// Bumped after every entry that leaves the store is marked gone, and by
    /// every clear.
    removals: AtomicU64,
    /// Bumped (under the flights lock) by every clear and invalidate: a value
    /// read from a tier outside any flight is stored only if none came since
    /// the read began (see [`Core::store_loaded`]).
    discards: AtomicU64,
    flights: Mutex<Option<FlightMap<V>>>,
    /// Held shared while a computed value is written to a persistent tier,
    /// exclusively while the tier is cleared.
    pub(crate) tier_gate: RwLock<()>,
    /// Entries moka removed, waiting for `on_release` (resources only).
    released: Mutex<Vec<EntryRef<V>>>,
    has_released: AtomicBool,
    /// Whether removed entries are queued for `on_release`.
    keeps_released: bool,
    /// A value's weight in bytes, for `max_size` and the memory budget
    /// (`None` for a value that cannot be weighed).
    weigh: Option<fn(&V) -> Option<usize>>,
    /// Whether a value heavier than `max_size` was reported (once).
    warned_heavy: AtomicBool,
    /// Keys whose background refresh failed, and until when they rest
    /// (kept by `refresh`).
    pub(crate) cooldowns: Mutex<Option<HashMap<Key, Instant>>>,
}

impl<V, K> std::fmt::Debug for Core<V, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.identity.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Our critical sections never run user code, so a poisoned lock still
    // holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<V, K> Core<V, K> {
    /// How many values were stored so far (see `Found::Miss`).
    pub(crate) fn stores(&self) -> u64 {
        self.stores.load(Ordering::Acquire)
    }

    /// The function's id in the persistent tiers ([`Identity::persist_id`]).
    pub(crate) fn persist_id(&self) -> u64 {
        *self.persist_id.get_or_init(|| self.identity.persist_id())
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Core<V, K> {
    pub(crate) const fn new(
        identity: Identity,
        kind: Kind,
        config: fn() -> Config,
        keeps_released: bool,
        weigh: Option<fn(&V) -> Option<usize>>,
    ) -> Self {
        Self {
            identity,
            persist_id: OnceLock::new(),
            kind,
            config,
            resolved: OnceLock::new(),
            built: OnceLock::new(),
            counters: Counters::new(),
            epoch: AtomicU64::new(0),
            stores: AtomicU64::new(0),
            removals: AtomicU64::new(0),
            discards: AtomicU64::new(0),
            flights: Mutex::new(None),
            tier_gate: RwLock::new(()),
            released: Mutex::new(Vec::new()),
            has_released: AtomicBool::new(false),
            keeps_released,
            weigh,
            warned_heavy: AtomicBool::new(false),
            cooldowns: Mutex::new(None),
        }
    }

    /// The store, built with the configuration resolved once, and the cache
    /// registered, on first use.
    #[inline]
    pub(crate) fn built(&'static self, owner: &'static dyn Registered) -> &'static Built<V, K> {
        self.built.get_or_init(|| self.build(owner))
    }

    #[cold]
    fn build(&'static self, owner: &'static dyn Registered) -> Built<V, K> {
        let config = self.config();
        let budget = (self.kind == Kind::Data && budget::active())
            .then_some(self as &'static dyn BudgetOwner);
        let mut builder = moka::sync::Cache::builder()
            .name(self.identity.name)
            // LRU, not TinyLFU: a new value is always admitted, as in Streamlit.
            .eviction_policy(EvictionPolicy::lru())
            .eviction_listener(move |key: Arc<K>, entry: EntryRef<V>, cause| {
                self.retire(&entry);
                if budget.is_some() && cause != RemovalCause::Replaced {
                    budget::discharge(self.id(), key.to_key(), budget::entry_id(&entry));
                }
                match cause {
                    RemovalCause::Expired => self.counters.eviction(Eviction::Ttl),
                    RemovalCause::Size if config.max_size.is_some() => {
                        self.counters.eviction(Eviction::MaxSize);
                    }
                    RemovalCause::Size => self.counters.eviction(Eviction::MaxEntries),
                    // A new value stored over an expired one that moka had
                    // not reaped yet: the old one went by its `ttl`.
                    RemovalCause::Replaced if !entry.deadline().is_ahead() => {
                        self.counters.eviction(Eviction::Ttl);
                    }
                    RemovalCause::Explicit | RemovalCause::Replaced => {}
                }
                if self.keeps_released {
                    lock(&self.released).push(entry);
                    self.has_released.store(true, Ordering::Release);
                }
            });
        if let Some(max) = config.max_entries {
            builder = builder.max_capacity(max);
        }
        if let (Some(max), Some(weigh)) = (config.max_size, self.weigh) {
            builder = builder
                .max_capacity(max)
                .weigher(move |_key, entry: &EntryRef<V>| {
                    self.weight(max, weigh(&entry.value).unwrap_or(0))
                });
        }
        // Only a `ttl` gives entries deadlines, or a persistent record written
        // with one; otherwise moka's reads skip the expiry clock altogether.
        if config.ttl.is_some() || config.persist.is_some() {
            builder = builder.expire_after(ByDeadline {
                grace: config.stale_for.unwrap_or_default(),
            });
        }
        let moka = builder.build_with_hasher(KeyHasher);
        registry::register(owner);
        Built {
            moka,
            config,
            budget,
        }
    }

    /// A value's weight for moka: its bytes, at most `max_size` (a heavier
    /// value is still stored, and everything else goes, as in Streamlit) and
    /// at most what moka counts per entry.
    fn weight(&self, max_size: u64, bytes: usize) -> u32 {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if bytes > max_size && !self.warned_heavy.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                function = self.identity.name,
                bytes,
                max_size,
                "a value is larger than the function's `max_size`: it is stored alone, \
                 every other entry was evicted (reported once)"
            );
        }
        u32::try_from(bytes.min(max_size)).unwrap_or(u32::MAX)
    }

    /// The configuration, resolved the first time anything needs it (a call,
    /// a clear, the stats) and never again: a `ttl` or `persist` expression
    /// runs once.
    pub(crate) fn config(&self) -> Config {
        *self.resolved.get_or_init(self.config)
    }

    /// The current epoch: bumped by every clear, so a front table that sees
    /// a new one drops everything at once (see the module notes).
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The entry for `key` if it may be served: present, unexpired, and from
    /// the current epoch.
    #[inline]
    pub(crate) fn get(&self, built: &Built<V, K>, key: KeyRef<'_>) -> Option<EntryRef<V>> {
        let entry = built.moka.get(&K::probe(key))?;
        entry.is_current().then_some(entry)
    }

    /// A background-refresh function's entry for `key` past its `ttl` (or
    /// not) but within its stale window: still stored and not past the hard
    /// deadline. `None` for other functions.
    pub(crate) fn get_stale(&self, built: &Built<V, K>, key: KeyRef<'_>) -> Option<EntryRef<V>> {
        let grace = built.config.stale_for?;
        let entry = built.moka.get(&K::probe(key))?;
        (!entry.is_gone() && entry.deadline().later_by(grace).is_ahead()).then_some(entry)
    }

    /// A flight for a background refresh of `key`, unless a current value
    /// is stored or a computation (a refresh, or a caller's) is running.
    pub(crate) fn start_refresh(
        &'static self,
        built: &Built<V, K>,
        key: &Key,
    ) -> Option<Arc<Flight<V>>> {
        match self.join_or_start(built, key, None, || self.flight(|_| None)) {
            Joined::Started(flight) => Some(flight),
            Joined::Stored(_) | Joined::Waiting(_) => None,
        }
    }

    /// Removes `entry` if it is still the one stored under `key` (a failed
    /// `validate`); a newer value stored meanwhile stays.
    pub(crate) fn remove_entry(&self, built: &Built<V, K>, key: KeyRef<'_>, entry: &EntryRef<V>) {
        let _flights = lock(&self.flights);
        if built
            .moka
            .get(&K::probe(key))
            .is_some_and(|stored| EntryRef::ptr_eq(&stored, entry))
        {
            built.moka.remove(&K::probe(key));
            self.counters.eviction(Eviction::Validate);
        }
        self.retire(entry);
    }

    /// Marks `entry` gone and counts a removal (see [`Core::removals`]).
    fn retire(&self, entry: &Entry<V>) {
        entry.mark_gone();
        self.removals.fetch_add(1, Ordering::Release);
    }

    /// How many entries have left the store so far. Read before an entry is
    /// found current, it tells a holder of that entry whether it may have
    /// left since, with no look at the entry (a function without arguments
    /// has one entry at most; see `solo`).
    #[inline]
    pub(crate) fn removals(&self) -> u64 {
        self.removals.load(Ordering::Acquire)
    }

    /// How many clears and invalidates have run: read before a tier is read
    /// outside any flight, for [`Core::store_loaded`].
    pub(crate) fn discards(&self) -> u64 {
        self.discards.load(Ordering::Acquire)
    }

    /// Joins the flight for `key`, or starts one with `start` (given the
    /// epoch), unless a value was stored meanwhile.
    ///
    /// `stores`: [`Core::stores`] as read before the caller's own lookup
    /// missed, if it just did; when nothing was stored since, the store is
    /// not asked again.
    pub(crate) fn join_or_start(
        &self,
        built: &Built<V, K>,
        key: &Key,
        stores: Option<u64>,
        start: impl FnOnce() -> Flight<V>,
    ) -> Joined<V> {
        let mut flights = lock(&self.flights);
        // Checked again under the lock: a flight settles (stores and leaves
        // the map) under it, so we see its value or its flight, never neither.
        let stored_since = stores.is_none_or(|stores| self.stores() != stores);
        if stored_since && let Some(entry) = self.get(built, key.as_ref()) {
            return Joined::Stored(entry);
        }
        let flights = flights.get_or_insert_with(FlightMap::default);
        if let Some(flight) = flights.get(key) {
            return Joined::Waiting(Arc::clone(flight));
        }
        let flight = Arc::new(start());
        flights.insert(key.clone(), Arc::clone(&flight));
        Joined::Started(flight)
    }

    /// A new flight; `work` makes its shared computation (async functions
    /// that own their arguments) from its write permit.
    pub(crate) fn flight(
        &'static self,
        work: impl FnOnce(Ticket) -> Option<SharedWork<V>>,
    ) -> Flight<V> {
        let detached = Arc::new(AtomicBool::new(false));
        let shared = work(Ticket {
            detached: Arc::clone(&detached),
            gate: &self.tier_gate,
        });
        Flight {
            state: Mutex::new(Settled::Running),
            done: Event::new(),
            detached,
            shared,
        }
    }

    /// Wraps a produced value for storing.
    pub(crate) fn entry(
        &self,
        built: &Built<V, K>,
        value: V,
        deadline: Option<Deadline>,
    ) -> EntryRef<V> {
        let deadline = deadline.unwrap_or_else(|| Deadline::after(built.config.ttl));
        Entry::new(value, deadline)
    }

    /// Ends a flight: stores `entry` if the flight is still attached, wakes
    /// its waiters. Returns whether the value was stored. Only the first call
    /// for a flight acts; later ones report what it did.
    pub(crate) fn settle(
        &self,
        built: &Built<V, K>,
        key: &Key,
        flight: &Arc<Flight<V>>,
        entry: Option<EntryRef<V>>,
    ) -> bool {
        // Weighed for the budget before any lock is taken (it may serialize).
        let charge = entry.as_ref().and_then(|entry| self.charge(built, entry));
        let mut state = lock(&flight.state);
        if !matches!(*state, Settled::Running) {
            return matches!(*state, Settled::Ready(_));
        }
        let stored = {
            let mut flights = lock(&self.flights);
            if let Some(map) = flights.as_mut()
                && map.get(key).is_some_and(|f| Arc::ptr_eq(f, flight))
            {
                map.remove(key);
            }
            match entry {
                Some(entry) if !flight.detached.load(Ordering::Acquire) => {
                    self.put(built, key, &entry);
                    *state = Settled::Ready(entry);
                    true
                }
                _ => {
                    *state = Settled::Retry;
                    false
                }
            }
        };
        drop(state);
        // Only listeners made before this settle took the state lock can be
        // waiting (a later one sees the state settled), and those are
        // counted by now: no listener, nothing to wake (and no allocation,
        // which a notification makes).
        if flight.done.total_listeners() > 0 {
            flight.done.notify(usize::MAX);
        }
        if stored {
            self.after_put(built, key, charge);
        }
        stored
    }

    /// Stores a value read from a persistent tier outside any flight (a
    /// record found before the single flight began), unless a clear or
    /// invalidate came since `discards` ([`Core::discards`]) was read.
    /// Returns whether it was stored.
    pub(crate) fn store_loaded(
        &self,
        built: &Built<V, K>,
        key: &Key,
        discards: u64,
        entry: &EntryRef<V>,
    ) -> bool {
        let charge = self.charge(built, entry);
        let stored = {
            // Clears and invalidates bump `discards` under this lock.
            let _flights = lock(&self.flights);
            let current = self.discards() == discards;
            if current {
                self.put(built, key, entry);
            }
            current
        };
        if stored {
            self.after_put(built, key, charge);
        }
        stored
    }

    /// What storing `entry` charges the memory budget, if it counts against
    /// one: weighed before any lock is taken (weighing may serialize).
    fn charge(&self, built: &Built<V, K>, entry: &EntryRef<V>) -> Option<Charge> {
        let owner = built.budget?;
        let bytes = self.weigh.and_then(|weigh| weigh(&entry.value))?;
        Some((owner, budget::entry_id(entry), bytes))
    }

    /// Stores `entry`; called under the flights lock, which orders stores
    /// against clears and flight lookups (see [`Core::stores`]).
    fn put(&self, built: &Built<V, K>, key: &Key, entry: &EntryRef<V>) {
        built.moka.insert(K::owned(key), EntryRef::clone(entry));
        self.stores.fetch_add(1, Ordering::AcqRel);
    }

    /// After a store, with no lock held: the bound applied and the budget
    /// charged.
    fn after_put(&self, built: &Built<V, K>, key: &Key, charge: Option<Charge>) {
        // Apply the bound now rather than lazily, so eviction follows exact
        // LRU order (as Streamlit's does).
        if built.config.max_entries.is_some() || built.config.max_size.is_some() {
            built.moka.run_pending_tasks();
        }
        if let Some((owner, entry, bytes)) = charge {
            budget::charge(owner, key, entry, bytes);
        }
    }

    /// Clears memory: every entry goes, every computation in flight is
    /// discarded (its caller still gets its value).
    pub(crate) fn clear(&self) {
        // The entries cleared, with their reference counts while moka still
        // held them (data caches only: see `Core::await_reclaimed`).
        let mut cleared = Vec::new();
        {
            let mut flights = lock(&self.flights);
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.discards.fetch_add(1, Ordering::AcqRel);
            for (_, flight) in flights.take().into_iter().flatten() {
                flight.detached.store(true, Ordering::Release);
            }
            if let Some(built) = self.built.get() {
                // Every stored entry is marked gone before the clear
                // returns: moka's `invalidate_all` goes by timestamps, and an
                // entry whose write it has not applied yet still looks valid
                // to it. Nothing is stored meanwhile: storing takes this lock.
                for (key, entry) in built.moka.iter() {
                    entry.mark_gone();
                    if built.budget.is_some() {
                        budget::discharge(self.id(), key.to_key(), budget::entry_id(&entry));
                    }
                    if !self.keeps_released {
                        let count = EntryRef::count(&entry);
                        cleared.push((entry, count));
                    }
                }
                built.moka.invalidate_all();
                // What a function without arguments holds per thread goes
                // with this (see `Core::removals`).
                self.removals.fetch_add(1, Ordering::Release);
            }
        }
        if let Some(built) = self.built.get() {
            // Deliver the removals (for `on_release`) now, not lazily. The
            // later runs let moka reclaim its own copies of the removed
            // entries (deferred by its epoch-based reclamation, which the
            // walk above also pinned, to later maintenance). What other threads' front tables hold goes when
            // each of them next calls the function (see `front`).
            built.moka.run_pending_tasks();
            built.moka.run_pending_tasks();
            built.moka.run_pending_tasks();
            Self::await_reclaimed(built, &cleared);
        }
    }

    /// Waits, briefly, until moka has dropped its own copies of the
    /// `cleared` entries, so that a value nothing else holds (a function
    /// with `front = false`) is freed before the clear returns. moka drops
    /// them through crossbeam-epoch's deferred destruction, which runs once
    /// no thread is pinned in an older epoch: usually during the clear's own
    /// maintenance, later when another thread was pinned (preempted inside
    /// a cache call, say). A count below its value while moka held the entry
    /// means moka let go; other holders (front tables) keep theirs.
    fn await_reclaimed(built: &Built<V, K>, cleared: &[(EntryRef<V>, usize)]) {
        let released = || {
            cleared
                .iter()
                .all(|(entry, count)| EntryRef::count(entry) < *count)
        };
        let deadline = Instant::now() + RECLAIM_WAIT;
        while !released() && Instant::now() < deadline {
            // moka removes a large cache's entries over several runs.
            built.moka.run_pending_tasks();
            crossbeam_epoch::pin().flush();
            std::thread::yield_now();
        }
    }

    /// Removes one key from memory and discards its computation in flight;
    /// `true` if a current value was stored.
    pub(crate) fn invalidate(&self, key: &Key) -> bool {
        let removed = {
            let mut flights = lock(&self.flights);
            self.discards.fetch_add(1, Ordering::AcqRel);
            if let Some(flight) = flights.as_mut().and_then(|map| map.remove(key)) {
                flight.detached.store(true, Ordering::Release);
            }
            // moka does not count what a clear discarded (it drops those
            // lazily) or what expired: only a current value does.
            self.built.get().is_some_and(|built| {
                let probe = K::probe(key.as_ref());
                let current = built.moka.contains_key(&probe);
                if let Some(entry) = built.moka.remove(&probe) {
                    self.retire(&entry);
                }
                current
            })
        };
        if let Some(built) = self.built.get() {
            built.moka.run_pending_tasks();
        }
        removed
    }

    /// Removes from memory every entry whose key starts with `prefix` (one
    /// session's, for `scope = "session"`) and discards their computations
    /// in flight, as [`Core::invalidate`] does for one key; returns how many
    /// current entries went. Walks the whole store: sessions end rarely.
    pub(crate) fn invalidate_prefix(&self, prefix: &[u8]) -> u64 {
        let removed = {
            let mut flights = lock(&self.flights);
            self.discards.fetch_add(1, Ordering::AcqRel);
            if let Some(map) = flights.as_mut() {
                map.retain(|key, flight| {
                    let covered = key.starts_with(prefix);
                    if covered {
                        flight.detached.store(true, Ordering::Release);
                    }
                    !covered
                });
            }
            self.built.get().map_or(0, |built| {
                let keys: Vec<_> = built
                    .moka
                    .iter()
                    .filter(|(key, _)| key.starts_with(prefix))
                    .map(|(key, _)| key)
                    .collect();
                let mut removed = 0;
                for key in keys {
                    if let Some(entry) = built.moka.remove(&*key) {
                        removed += u64::from(entry.is_current());
                        self.retire(&entry);
                    }
                }
                removed
            })
        };
        if let Some(built) = self.built.get() {
            built.moka.run_pending_tasks();
        }
        removed
    }

    /// `f::clear()`: a session-scoped function called in a session clears
    /// that session's entries (none when its id is not chosen yet);
    /// otherwise `everywhere` clears the whole function.
    pub(crate) fn clear_in_scope(&self, everywhere: impl FnOnce()) {
        let session = (self.config().scope == Scope::Session)
            .then(scope::current_chosen_prefix)
            .flatten();
        match session {
            Some(Some(prefix)) => {
                self.invalidate_prefix(&prefix);
            }
            Some(None) => {}
            None => everywhere(),
        }
    }

    /// A session ended: a session-scoped function drops its entries.
    pub(crate) fn end_session(&self, prefix: &Prefix) {
        if self.config().scope == Scope::Session {
            self.invalidate_prefix(prefix);
        }
    }

    /// Entries moka removed since the last call, for `on_release`.
    #[inline]
    pub(crate) fn take_released(&self) -> Vec<EntryRef<V>> {
        if !self.has_released.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut released = lock(&self.released);
        self.has_released.store(false, Ordering::Release);
        std::mem::take(&mut *released)
    }

    pub(crate) fn info(&self) -> FunctionInfo {
        let config = self.config();
        FunctionInfo {
            name: self.identity.name,
            kind: self.kind,
            ttl: config.ttl,
            max_entries: config.max_entries,
            persist: config.persist,
            max_size: config.max_size,
            scope: config.scope,
            max_stale: config.stale_for,
            stats: self.counters.snapshot(self.entry_count()),
        }
    }

    /// The bytes its entries weigh in memory, where known: its `max_size`
    /// weights, else what the memory budget charged it (`charged`, by
    /// cache id).
    pub(crate) fn memory_bytes(&self, charged: &HashMap<usize, u64>) -> Option<u64> {
        let built = self.built.get()?;
        if built.config.max_size.is_some() {
            built.moka.run_pending_tasks();
            return Some(built.moka.weighted_size());
        }
        built
            .budget
            .map(|_| charged.get(&self.id()).copied().unwrap_or(0))
    }

    /// Entries held right now (after applying pending expirations).
    pub(crate) fn entry_count(&self) -> u64 {
        self.built.get().map_or(0, |built| {
            built.moka.run_pending_tasks();
            built.moka.entry_count()
        })
    }

    /// A stable id for the reentrancy check.
    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> BudgetOwner for Core<V, K> {
    fn evict_for_budget(&self, key: &Key, entry: usize) {
        let Some(built) = self.built.get() else {
            return;
        };
        let _flights = lock(&self.flights);
        let probe = K::probe(key.as_ref());
        let current = built
            .moka
            .get(&probe)
            .is_some_and(|stored| budget::entry_id(&stored) == entry);
        if current && let Some(removed) = built.moka.remove(&probe) {
            self.retire(&removed);
            self.counters.eviction(Eviction::Budget);
        }
    }
}

/// What [`Core::join_or_start`] found.
pub(crate) enum Joined<V> {
    /// A value was stored meanwhile.
    Stored(EntryRef<V>),
    /// Another caller is computing it.
    Waiting(Arc<Flight<V>>),
    /// This caller computes it.
    Started(Arc<Flight<V>>),
}

/// What unit tests need to build a core of their own.
#[cfg(test)]
pub(crate) mod testing {
    use super::Core;
    use crate::config::Kind;
    use crate::key::Key;
    use crate::registry::{FunctionInfo, Registered};

    /// The least a core needs to be built: an owner to register.
    pub(crate) struct TestOwner(pub(crate) Core<u64>);

    impl Registered for TestOwner {
        fn info(&self) -> FunctionInfo {
            self.0.info()
        }
        fn clear(&self) {
            self.0.clear();
        }
        fn kind(&self) -> Kind {
            Kind::Data
        }
        fn name(&self) -> &'static str {
            self.0.identity.name
        }
        fn persist_id(&self) -> u64 {
            0
        }
        fn clear_memory(&self) {
            self.0.clear();
        }
        fn invalidate_memory(&self, key: &Key) {
            self.0.invalidate(key);
        }
        fn end_session(&self, prefix: &crate::scope::Prefix) {
            self.0.end_session(prefix);
        }
        fn memory_bytes(&self, charged: &std::collections::HashMap<usize, u64>) -> Option<u64> {
            self.0.memory_bytes(charged)
        }
    }

    /// A `&'static TestOwner` of its own (a clear in one test must not touch
    /// another's), for a `u64` cache named `$name`.
    macro_rules! test_owner {
        ($name:literal) => {{
            static OWNER: $crate::core::testing::TestOwner =
                $crate::core::testing::TestOwner($crate::core::Core::new(
                    $crate::config::Identity {
                        name: $name,
                        code_hash: 0,
                    },
                    $crate::config::Kind::Data,
                    || $crate::config::Config::new(None, None, None),
                    false,
                    None,
                ));
            &OWNER
        }};
    }
    pub(crate) use test_owner;
}

#[cfg(test)]
mod tests {
    use super::testing::test_owner;
    use crate::key::{Key, owned_key};

    fn key(n: u64) -> Key {
        owned_key(|writer| writer.write("n", &n)).expect("a u64 is keyed")
    }

    /// A value read from a tier outside any flight is stored only if no
    /// clear or invalidate ran since its read began: what it read may be
    /// what they removed.
    #[test]
    fn a_loaded_value_is_stored_only_if_nothing_was_discarded_since_its_read() {
        let owner = test_owner!("core::tests::loaded");
        let (core, built) = (&owner.0, owner.0.built(owner));
        let entry = |value| core.entry(built, value, None);
        let stored = |n| core.get(built, key(n).as_ref()).map(|entry| entry.value);

        let before = core.discards();
        assert!(core.store_loaded(built, &key(1), before, &entry(10)));
        assert_eq!(stored(1), Some(10));

        let invalidate = || {
            core.invalidate(&key(9));
        };
        let clear = || core.clear();
        let end_session = || {
            core.invalidate_prefix(b"unrelated");
        };
        let discards: [&dyn Fn(); 3] = [&invalidate, &clear, &end_session];
        for (n, discard) in (2..).zip(discards) {
            let before = core.discards();
            discard();
            assert!(!core.store_loaded(built, &key(n), before, &entry(20)));
            assert_eq!(stored(n), None);
            // Read after the discard: stored.
            assert!(core.store_loaded(built, &key(n), core.discards(), &entry(21)));
            assert_eq!(stored(n), Some(21));
        }
    }
}
