//! Per-thread front tables: the hit that does not reach moka.
//!
//! moka stays the store of record (bounds, expiry, eviction listener, single
//! flight), but its cheapest `get` is ~600 instructions: a read log, its
//! housekeeping, a clock read, an epoch pin. Each cached function therefore
//! has, in every thread that calls it, a small table of the entries that
//! thread hit recently: `Arc`s of moka's own entries, found by the call's
//! packed argument word or key hash, and checked on every hit against what
//! the entry itself knows:
//!
//! - **exact key**: a packed word is injective (equal words are equal
//!   arguments), and a hash match is confirmed by comparing the key bytes,
//!   so no two argument values ever share an answer;
//! - **clear**: a `clear()` bumps the cache's epoch; a thread that sees a new
//!   epoch drops its whole table, and an entry found in moka before a clear
//!   is never put in a table after it;
//! - **eviction, invalidation, replacement**: moka's eviction listener (and
//!   every removal of ours) marks the entry gone;
//! - **TTL**: the entry's own deadline, on the coarse clock (see `clock`).
//!
//! A front hit in a bounded cache marks its slot *pending*: pending slots are
//! replayed into moka (a `get`, oldest first) before this thread computes a
//! miss, and whenever the front hits since the last replay reach 16 × the
//! pending slots (so at most one moka `get` per 16 front hits).
//! Single-threaded LRU is therefore exact (Streamlit's `1, 2, 1, 3, 1` with
//! `max_entries = 2` computes 3 times, front hits in between or not); across
//! threads it is exact at those replay points (a thread that exits with
//! pending hits does not replay them).
//!
//! A table starts at 16 slots in 4-way sets and doubles when a set is full
//! while at least 1/8 of the table is used, up to 8192 slots (and never much
//! beyond twice `max_entries`), ~56 bytes a slot.
//!
//! What a table holds stays alive until the table lets go of it: an entry
//! that left the store (evicted, expired, invalidated) when the thread next
//! looks at its slot, or at the next sweep (once the thread's misses reach an
//! eighth of the slots, or every 65,536 front hits); everything, after a
//! clear, at the thread's next call of the function. A thread that never
//! calls the function again keeps its table; when it exits, the next thread
//! given its id inherits it. So removed values may outlive their removal by
//! a while, in at most as many tables as threads ever called the function at
//! once. `#[cache_data(front = false)]` opts a function out, for very large
//! values whose removal must free them at once.

use std::cell::RefCell;
use std::sync::atomic::AtomicU64;

use thread_local::ThreadLocal;

use crate::budget;
use crate::core::{Built, Core, EntryRef};
use crate::key::{Key, KeyError, KeyRef, KeyWriter, StoreKey};
use crate::stats;

/// Ways in a set.
const WAYS: usize = 4;
/// Slots in a new table.
const MIN_SLOTS: usize = 16;
/// The most slots a table grows to.
const MAX_SLOTS: usize = 8192;
/// Replay once front hits since the last replay reach this × pending slots.
const REPLAY_EVERY: u64 = 16;
/// Sweep a table for entries that left the store once its thread's misses
/// reach its slots / this: a few slots' worth of work per miss.
const SWEEP_EVERY: u64 = 8;
/// ...and once every this many front hits, which also run moka's
/// maintenance for a cache with a `ttl` (front hits never reach moka, and
/// expired entries are only evicted, and released, by its maintenance).
const SWEEP_HITS: u32 = 1 << 16;

/// How a call names its key to the front table.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Probe<'a> {
    /// The key arguments packed into one word (integers, `bool`s): equal
    /// words are equal arguments.
    Word(u64),
    /// The key's bytes and hash.
    Key(KeyRef<'a>),
}

impl Probe<'_> {
    #[inline]
    fn tag(self) -> u64 {
        match self {
            Probe::Word(word) => word,
            Probe::Key(key) => key.tag(),
        }
    }
}

/// What a probe found: `O` is what `serve` makes of a value.
pub(crate) enum Probed<V, O = V> {
    /// The caller's copy of a current entry's value; the hit is counted in
    /// the stats already.
    Hit(O),
    /// A current entry that `serve` refused (a resource's failed `validate`):
    /// the caller removes it from the store.
    Refused(EntryRef<V>),
    Miss,
}

/// What [`Fronts::probe_writing`] found.
pub(crate) enum Written<V, O, W> {
    /// The caller's copy of a current entry's value, counted.
    Hit(O),
    /// Not answered here: the key, owned, and a current entry `serve`
    /// refused (to remove).
    Missed(Key, Option<EntryRef<V>>),
    /// The arguments could not be keyed.
    Uncacheable(KeyError),
    /// The table is in use by this thread (the call is re-entrant, from
    /// inside a key writer or a `clone`): the key writer, unused.
    Busy(W),
}

/// One cached function's front tables, one per thread that calls it.
///
/// Held by the function's cache (not in a `thread_local!`), so it needs no
/// type in generated code: a generic or failing signature never adds errors
/// here. A thread's table stays with its thread-id slot when the thread
/// exits, and the next thread to get that id reuses it (its entries are
/// checked as always), so tables never outnumber live threads by much.
pub(crate) struct Fronts<V: Send + Sync + 'static, K: StoreKey = Key> {
    tables: ThreadLocal<Own<V, K>>,
}

/// One thread's table, alone on its cache lines: `ThreadLocal` places the
/// tables of neighbouring thread ids side by side, and every hit writes its
/// table (the borrow flag, the clock), which must not slow another core.
#[repr(align(128))]
struct Own<V: Send + Sync + 'static, K: StoreKey>(RefCell<Table<V, K>>);

impl<V: Send + Sync + 'static, K: StoreKey> std::fmt::Debug for Fronts<V, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fronts").finish_non_exhaustive()
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Fronts<V, K> {
    /// No tables yet; a thread's is made on its first call.
    pub(crate) const fn new() -> Self {
        Self {
            tables: ThreadLocal::new(),
        }
    }

    #[inline]
    fn table(&self) -> &RefCell<Table<V, K>> {
        match self.tables.get() {
            Some(own) => &own.0,
            None => self.new_table(),
        }
    }

    /// This thread's first call: out of line, so a hit's frame never holds
    /// a (cache-line aligned) table under construction.
    #[cold]
    #[inline(never)]
    fn new_table(&self) -> &RefCell<Table<V, K>> {
        &self.tables.get_or(|| Own(RefCell::new(Table::new()))).0
    }

    /// Looks `probe` up; a current entry's value goes through `serve`.
    /// Re-entrant use (a value's `clone` or a `validate` calling the same
    /// function) finds the table busy and misses.
    #[inline]
    pub(crate) fn probe<O>(
        &self,
        core: &'static Core<V, K>,
        probe: Probe<'_>,
        serve: impl FnOnce(&V) -> Option<O>,
    ) -> Probed<V, O> {
        match self.table().try_borrow_mut() {
            Ok(mut table) => table.probe(core, probe, serve),
            Err(_) => Probed::Miss,
        }
    }

    /// Writes the call's key into this thread's table and probes it there:
    /// a hit needs no other per-thread state, and the key is copied out
    /// (owned) only when the table cannot answer.
    #[inline]
    pub(crate) fn probe_writing<O, W>(
        &self,
        core: &'static Core<V, K>,
        write_key: W,
        serve: impl FnOnce(&V) -> Option<O>,
    ) -> Written<V, O, W>
    where
        W: FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    {
        let Ok(mut table) = self.table().try_borrow_mut() else {
            return Written::Busy(write_key);
        };
        // Out of the table while the probe borrows the rest of it.
        let mut writer = std::mem::replace(&mut table.writer, KeyWriter::new());
        writer.reset();
        let written = match write_key(&mut writer) {
            Err(error) => Written::Uncacheable(error),
            Ok(()) => {
                let key = writer.key_ref();
                match table.probe(core, Probe::Key(key), serve) {
                    Probed::Hit(value) => Written::Hit(value),
                    Probed::Refused(entry) => Written::Missed(key.to_owned_key(), Some(entry)),
                    Probed::Miss => Written::Missed(key.to_owned_key(), None),
                }
            }
        };
        writer.shrink_if_huge();
        table.writer = writer;
        written
    }

    /// Remembers `entry`, just found in moka under `key` in the cache's
    /// epoch `found_in`, for this thread's next calls (unless a clear came
    /// in between).
    pub(crate) fn fill(
        &self,
        core: &'static Core<V, K>,
        built: &'static Built<V, K>,
        probe: Probe<'_>,
        key: KeyRef<'_>,
        entry: &EntryRef<V>,
        found_in: u64,
    ) {
        if let Ok(mut table) = self.table().try_borrow_mut() {
            table.adopt(core, built);
            table.fill(core, built, probe, key, entry, found_in);
        }
    }

    /// The current entry this thread's table holds for `word`, if any (to
    /// fill a function's [`crate::solo::Solo`]).
    pub(crate) fn current(&self, core: &'static Core<V, K>, word: u64) -> Option<EntryRef<V>> {
        let table = self.table().try_borrow().ok()?;
        // A table that has not seen the latest clear may hold what it discarded.
        if table.slots.is_empty() || table.epoch != core.epoch() {
            return None;
        }
        // The set scan of `Table::probe`, written out there too: through a
        // shared helper the hit path lost its inlining (+25% instructions).
        let probe = Probe::Word(word);
        let set = table.set_of(word) * WAYS;
        table.slots[set..set + WAYS]
            .iter()
            .find(|slot| slot.matches(probe, word))
            .and_then(|slot| slot.entry.as_ref())
            .filter(|entry| entry.is_current())
            .cloned()
    }

    /// Before this thread's miss inserts: replays its pending front hits
    /// into moka's LRU order (so the insert evicts what this thread used
    /// least), and now and then lets go of entries that left the store.
    pub(crate) fn before_insert(&self, built: &'static Built<V, K>) {
        if let Ok(mut table) = self.table().try_borrow_mut() {
            if table.pending > 0 {
                table.replay(built);
            }
            table.misses += 1;
            if table.misses * SWEEP_EVERY >= table.slots.len() as u64 {
                table.sweep();
            }
        }
    }
}

struct Slot<V> {
    /// The packed word or the key's hash; meaningful when `entry` is set.
    tag: u64,
    /// The entry's key: compared on hash probes, replayed into moka.
    key: Option<Key>,
    entry: Option<EntryRef<V>>,
    /// When it was last hit (bounded caches) or filled (the table's clock):
    /// replay order and victim choice.
    stamp: u64,
    /// Hit here since it was last replayed into moka.
    pending: bool,
}

impl<V> Slot<V> {
    const EMPTY: Self = Slot {
        tag: 0,
        key: None,
        entry: None,
        stamp: 0,
        pending: false,
    };

    #[inline]
    fn matches(&self, probe: Probe<'_>, tag: u64) -> bool {
        self.tag == tag
            && self.entry.is_some()
            && match probe {
                Probe::Word(_) => true,
                // Equal tags: the bytes decide.
                Probe::Key(key) => self.key.as_ref().is_some_and(|stored| key.is(stored)),
            }
    }
}

/// The cache a table fronts, and its store.
type Owner<V, K> = (&'static Core<V, K>, &'static Built<V, K>);

struct Table<V: Send + Sync + 'static, K: StoreKey> {
    /// `sets × WAYS` slots; empty until the first fill.
    slots: Vec<Slot<V>>,
    /// The buffer a call's key is written into (see
    /// [`Fronts::probe_writing`]).
    writer: KeyWriter,
    /// The cache this table fronts, known from the first fill.
    owner: Option<Owner<V, K>>,
    /// This thread's hit counter in the owner's stats.
    hits: Option<&'static AtomicU64>,
    /// The cache epoch this table last saw (a new one empties it).
    epoch: u64,
    /// Slots holding an entry.
    used: usize,
    /// Counts front hits, for stamps.
    clock: u64,
    /// Slots with `pending` set.
    pending: usize,
    hits_since_replay: u64,
    /// Misses since the last sweep.
    misses: u64,
    /// Front hits since the last sweep.
    hits_since_sweep: u32,
    max_slots: usize,
    /// The cache has `max_entries`, so its LRU order matters.
    bounded: bool,
    /// Reused by `replay` to order pending slots without allocating each time.
    replay: Vec<(u64, usize)>,
}

impl<V: Send + Sync + 'static, K: StoreKey> Table<V, K> {
    const fn new() -> Self {
        Table {
            slots: Vec::new(),
            owner: None,
            hits: None,
            epoch: 0,
            used: 0,
            clock: 0,
            pending: 0,
            hits_since_replay: 0,
            misses: 0,
            hits_since_sweep: 0,
            max_slots: MAX_SLOTS,
            bounded: false,
            replay: Vec::new(),
            writer: KeyWriter::new(),
        }
    }

    #[inline]
    fn set_of(&self, tag: u64) -> usize {
        let sets = self.slots.len() / WAYS;
        // Fibonacci hashing: spreads consecutive integers over the sets.
        ((tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize) & (sets - 1)
    }

    #[inline]
    fn probe<O>(
        &mut self,
        core: &'static Core<V, K>,
        probe: Probe<'_>,
        serve: impl FnOnce(&V) -> Option<O>,
    ) -> Probed<V, O> {
        if self.slots.is_empty() {
            return Probed::Miss;
        }
        let epoch = core.epoch();
        if epoch != self.epoch {
            self.purge(epoch);
            return Probed::Miss;
        }
        let tag = probe.tag();
        let set = self.set_of(tag) * WAYS;
        let Some(way) = self.slots[set..set + WAYS]
            .iter()
            .position(|slot| slot.matches(probe, tag))
        else {
            return Probed::Miss;
        };
        let way = set + way;
        let slot = &mut self.slots[way];
        let Some(entry) = slot.entry.as_ref().filter(|entry| entry.is_current()) else {
            self.vacate(way);
            return Probed::Miss;
        };
        let Some(value) = serve(&entry.value) else {
            let entry = EntryRef::clone(entry);
            self.vacate(way);
            return Probed::Refused(entry);
        };
        if let Some(hits) = self.hits {
            stats::count_hit(hits);
        }
        if self.bounded {
            // Only a bounded cache needs the order of hits (for replay); an
            // unbounded one picks a victim in a full set by fill order.
            self.clock += 1;
            slot.stamp = self.clock;
            if !slot.pending {
                slot.pending = true;
                self.pending += 1;
            }
            self.hits_since_replay += 1;
            if self.hits_since_replay >= REPLAY_EVERY * self.pending as u64
                && let Some((_, built)) = self.owner
            {
                self.replay(built);
            }
        }
        self.hits_since_sweep += 1;
        if self.hits_since_sweep >= SWEEP_HITS {
            self.maintain();
        }
        Probed::Hit(value)
    }

    /// Learns which cache it fronts, on the first fill.
    fn adopt(&mut self, core: &'static Core<V, K>, built: &'static Built<V, K>) {
        if self.owner.is_some() {
            return;
        }
        self.owner = Some((core, built));
        self.hits = Some(core.counters.local_hits());
        // A bounded cache, or one under the memory budget, learns of front
        // hits (for its LRU order).
        self.bounded = built.config.max_entries.is_some()
            || built.config.max_size.is_some()
            || built.budget.is_some();
        if let Some(max) = built.config.max_entries {
            // Twice the bound, as a power of two: never much beyond what
            // the cache itself may hold.
            let cap = usize::try_from(max.saturating_mul(2))
                .unwrap_or(usize::MAX)
                .checked_next_power_of_two()
                .unwrap_or(MAX_SLOTS);
            self.max_slots = cap.clamp(MIN_SLOTS, MAX_SLOTS);
        }
        self.epoch = core.epoch();
    }

    fn fill(
        &mut self,
        core: &'static Core<V, K>,
        built: &'static Built<V, K>,
        probe: Probe<'_>,
        key: KeyRef<'_>,
        entry: &EntryRef<V>,
        found_in: u64,
    ) {
        let epoch = core.epoch();
        if epoch != self.epoch {
            self.purge(epoch);
        }
        if found_in != epoch || !entry.is_current() {
            return;
        }
        if self.slots.is_empty() {
            self.slots = (0..MIN_SLOTS).map(|_| Slot::EMPTY).collect();
            self.reserve_replay();
        }
        let tag = probe.tag();
        let way = loop {
            let set = self.set_of(tag) * WAYS;
            let mut free = None;
            let mut oldest = set;
            for i in set..set + WAYS {
                let slot = &self.slots[i];
                if slot.matches(probe, tag) {
                    free = Some(i);
                    break;
                }
                let live = slot.entry.as_ref().is_some_and(|entry| entry.is_current());
                if !live && free.is_none() {
                    free = Some(i);
                }
                if slot.stamp < self.slots[oldest].stamp {
                    oldest = i;
                }
            }
            if let Some(free) = free {
                break free;
            }
            if self.slots.len() < self.max_slots && self.used * 8 >= self.slots.len() {
                self.grow();
                continue;
            }
            if self.slots[oldest].pending {
                // Evicted from the front: its pending hit goes to moka now.
                if let Some(key) = &self.slots[oldest].key {
                    built.moka.get(&K::probe(key.as_ref()));
                }
            }
            break oldest;
        };
        self.vacate(way);
        let slot = &mut self.slots[way];
        slot.tag = tag;
        if !slot.key.as_ref().is_some_and(|stored| key.is(stored)) {
            slot.key = Some(key.to_owned_key());
        }
        slot.entry = Some(EntryRef::clone(entry));
        self.clock += 1;
        slot.stamp = self.clock;
        self.used += 1;
    }

    /// Empties a slot (keeping its key's allocation for reuse).
    fn vacate(&mut self, way: usize) {
        let slot = &mut self.slots[way];
        if slot.entry.take().is_some() {
            self.used -= 1;
        }
        if std::mem::take(&mut slot.pending) {
            self.pending -= 1;
        }
    }

    /// Sizes the replay buffer for every slot now, so a replay on the hit
    /// path never allocates.
    fn reserve_replay(&mut self) {
        if self.bounded {
            self.replay
                .reserve(self.slots.len().saturating_sub(self.replay.len()));
        }
    }

    /// Doubles the table, placing every held entry again.
    #[cold]
    fn grow(&mut self) {
        let doubled = (0..self.slots.len() * 2).map(|_| Slot::EMPTY).collect();
        let old = std::mem::replace(&mut self.slots, doubled);
        self.reserve_replay();
        self.used = 0;
        self.pending = 0;
        for slot in old {
            if slot.entry.is_none() {
                continue;
            }
            let set = self.set_of(slot.tag) * WAYS;
            if let Some(i) = (set..set + WAYS).find(|&i| self.slots[i].entry.is_none()) {
                self.used += 1;
                self.pending += usize::from(slot.pending);
                self.slots[i] = slot;
            }
        }
    }

    /// A sweep, and moka's maintenance when entries expire.
    #[cold]
    fn maintain(&mut self) {
        self.sweep();
        if let Some((_, built)) = self.owner
            && built.config.ttl.is_some()
        {
            built.moka.run_pending_tasks();
        }
    }

    /// Lets go of every held entry that left the store (evicted, expired,
    /// invalidated), so a thread's table does not keep removed values alive
    /// long after: without it they would live until their slot is reused.
    #[cold]
    fn sweep(&mut self) {
        self.misses = 0;
        self.hits_since_sweep = 0;
        for way in 0..self.slots.len() {
            let stale = self.slots[way]
                .entry
                .as_ref()
                .is_some_and(|entry| !entry.is_current());
            if stale {
                self.vacate(way);
            }
        }
    }

    /// A clear happened: every held entry is stale, and is let go now.
    #[cold]
    fn purge(&mut self, epoch: u64) {
        for slot in &mut self.slots {
            slot.entry = None;
            slot.pending = false;
        }
        self.used = 0;
        self.pending = 0;
        self.hits_since_replay = 0;
        self.epoch = epoch;
    }

    /// Replays pending front hits into moka, oldest first.
    #[cold]
    fn replay(&mut self, built: &Built<V, K>) {
        let mut order = std::mem::take(&mut self.replay);
        order.clear();
        order.extend(
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| slot.pending)
                .map(|(i, slot)| (slot.stamp, i)),
        );
        order.sort_unstable();
        for &(_, i) in &order {
            let slot = &mut self.slots[i];
            slot.pending = false;
            if let Some(key) = &slot.key
                && slot.entry.is_some()
            {
                built.moka.get(&K::probe(key.as_ref()));
                if let Some(owner) = built.budget {
                    budget::touch(budget::owner_id(owner), key.as_ref());
                }
            }
        }
        self.pending = 0;
        self.hits_since_replay = 0;
        self.replay = order;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::TestOwner;

    /// A core and its front tables of its own, per test (a clear in one
    /// test must not touch another's).
    struct Subject {
        owner: &'static TestOwner,
        fronts: &'static Fronts<u64>,
    }

    macro_rules! subject {
        ($name:literal) => {{
            static FRONTS: Fronts<u64> = Fronts::new();
            Subject {
                owner: crate::core::testing::test_owner!($name),
                fronts: &FRONTS,
            }
        }};
    }

    impl Subject {
        fn core(&self) -> &'static Core<u64> {
            &self.owner.0
        }

        fn built(&self) -> &'static Built<u64> {
            self.core().built(self.owner)
        }

        fn entry(&self, value: u64) -> EntryRef<u64> {
            let core = self.core();
            core.entry(self.built(), value, None)
        }

        fn fill(&self, key: KeyRef<'_>, entry: &EntryRef<u64>) {
            self.fronts.fill(
                self.core(),
                self.built(),
                Probe::Key(key),
                key,
                entry,
                self.core().epoch(),
            );
        }

        fn probe(&self, key: KeyRef<'_>) -> Option<u64> {
            match self
                .fronts
                .probe(self.core(), Probe::Key(key), |value| Some(*value))
            {
                Probed::Hit(value) => Some(value),
                Probed::Refused(_) | Probed::Miss => None,
            }
        }
    }

    /// Every key has the same front-table hash, so every one lands in one
    /// 4-way set with one tag: only the bytes tell them apart, and they
    /// always must.
    #[test]
    fn forced_hash_collisions_never_share_an_answer() {
        let subject = subject!("front::tests::collisions");
        let keys: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i, i ^ 0x5a, 7]).collect();
        // The entries stay alive here: a front table only holds what moka holds.
        let entries: Vec<_> = (0..64).map(|i| subject.entry(1000 + i)).collect();
        for (i, key) in keys.iter().enumerate() {
            let key = KeyRef::with_tag(42, key);
            subject.fill(key, &entries[i]);
            // The one just filled is found, with its own value.
            assert_eq!(subject.probe(key), Some(1000 + i as u64));
            // Every other key either misses or answers its own value.
            for (j, other) in keys.iter().enumerate() {
                let found = subject.probe(KeyRef::with_tag(42, other));
                assert!(
                    found.is_none() || found == Some(1000 + j as u64),
                    "key {j} answered {found:?} after filling key {i}"
                );
            }
        }
        // Bytes that were never filled miss, even with the shared hash.
        assert_eq!(subject.probe(KeyRef::with_tag(42, b"never")), None);
        // A different hash with filled bytes misses too.
        assert_eq!(subject.probe(KeyRef::with_tag(43, &keys[63])), None);
    }

    /// An entry that left the store is not served, and a clear empties the
    /// whole table.
    #[test]
    fn gone_entries_and_clears_are_misses() {
        let subject = subject!("front::tests::gone");
        let (a, b) = (subject.entry(1), subject.entry(2));
        let (ka, kb) = (KeyRef::with_tag(1, b"a"), KeyRef::with_tag(2, b"b"));
        subject.fill(ka, &a);
        subject.fill(kb, &b);
        assert_eq!((subject.probe(ka), subject.probe(kb)), (Some(1), Some(2)));
        a.mark_gone();
        assert_eq!((subject.probe(ka), subject.probe(kb)), (None, Some(2)));
        subject.core().clear();
        assert_eq!(subject.probe(kb), None);
    }
}
