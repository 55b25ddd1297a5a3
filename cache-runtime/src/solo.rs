//! The front of a function without key arguments: its one entry, held per
//! thread in a `thread_local!` the macro declares inside the function.
//!
//! Such a function (a connection, a model, a settings file) is called
//! everywhere, and its hit is measured against cloning a
//! `LazyLock<Arc<T>>`: a single atomic increment. A front table (see
//! `front`) is found through the `thread_local` crate and probed by the word;
//! here the hit is one read of a thread-local the compiler places directly.
//! Nor does it look at the entry: beside it the thread keeps the cache's
//! count of removals when the entry was found current, and its deadline. A
//! function without arguments has one entry at most, so the count not having
//! moved (one load of the cache's static) means the entry is still stored; a
//! clear, an invalidate, an eviction or a failed `validate` moves it. The
//! value is copied (for a resource, its `Arc` cloned) last, so the one write
//! to a line other threads share comes right before the caller gets it. It is filled from the thread's front table
//! after a front hit, and lets go of its entry when the entry stops being
//! current, or when the thread exits.

use std::cell::{Cell, RefCell};
use std::sync::atomic::AtomicU64;

use crate::clock::Deadline;
use crate::core::EntryRef;
use crate::front::Probed;
use crate::stats;

/// One thread's entry of a function without key arguments (declared by
/// generated code in a `thread_local!`), and beside it `O`, what a hit hands
/// out when that is cheap to copy (a resource's `Arc`; `()` otherwise).
pub struct Solo<V, O = ()> {
    held: RefCell<Option<Held<V, O>>>,
    /// This thread's hit counter in the cache's stats.
    hits: Cell<Option<&'static AtomicU64>>,
}

/// What a [`Solo`] holds.
struct Held<V, O> {
    entry: EntryRef<V>,
    out: O,
    /// The cache's removals when the entry was last found current.
    removals: u64,
    deadline: Deadline,
}

impl<V, O> std::fmt::Debug for Solo<V, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Solo").finish_non_exhaustive()
    }
}

impl<V, O> Default for Solo<V, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V, O> Solo<V, O> {
    /// Empty: the first call of each thread fills it.
    pub const fn new() -> Self {
        Self {
            held: RefCell::new(None),
            hits: Cell::new(None),
        }
    }

    /// The caller's copy (`copy` of the entry's value and `O`), if no entry
    /// left the cache since this one was found current (`removals` is the
    /// cache's count now), its deadline is ahead and `accept` (a resource's
    /// `validate`) accepts it. A re-entrant call (from the value's `clone` or
    /// a `validate`) finds it busy and misses.
    #[inline]
    pub(crate) fn probe<Out>(
        &self,
        removals: u64,
        accept: impl FnOnce(&V) -> bool,
        copy: impl FnOnce(&V, &O) -> Out,
    ) -> Probed<V, Out> {
        let Ok(mut held) = self.held.try_borrow_mut() else {
            return Probed::Miss;
        };
        let Some(current) = held.as_ref() else {
            return Probed::Miss;
        };
        if current.removals != removals || !current.deadline.is_ahead() {
            *held = None;
            return Probed::Miss;
        }
        if !accept(&current.entry.value) {
            return held
                .take()
                .map_or(Probed::Miss, |held| Probed::Refused(held.entry));
        }
        if let Some(hits) = self.hits.get() {
            stats::count_hit(hits);
        }
        Probed::Hit(copy(&current.entry.value, &current.out))
    }

    /// Holds `entry`, found current after the cache had seen `removals`
    /// removals, and `out`, for the next calls.
    pub(crate) fn fill(&self, entry: EntryRef<V>, out: O, removals: u64, hits: &'static AtomicU64) {
        if let Ok(mut held) = self.held.try_borrow_mut() {
            let deadline = entry.deadline();
            *held = Some(Held {
                entry,
                out,
                removals,
                deadline,
            });
            self.hits.set(Some(hits));
        }
    }
}
