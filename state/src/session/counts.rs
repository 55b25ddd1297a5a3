//! Session starts and ends in this process, by reason, for the metrics.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::store::EndReason;

static STARTS: AtomicU64 = AtomicU64::new(0);
static ENDED: AtomicU64 = AtomicU64::new(0);
static EXPIRED: AtomicU64 = AtomicU64::new(0);
static EVICTED: AtomicU64 = AtomicU64::new(0);

/// Session starts and ends seen by this process (every `SessionLayer` in it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionCounts {
    /// Sessions created.
    pub starts: u64,
    /// Sessions ended by [`Session::end`](super::Session::end).
    pub ended: u64,
    /// Sessions that expired idle (where the store reports it).
    pub expired: u64,
    /// Sessions the store evicted to stay within its capacity.
    pub evicted: u64,
}

impl SessionCounts {
    /// Sessions started and not ended yet, as far as this process saw.
    pub fn active(&self) -> u64 {
        self.starts
            .saturating_sub(self.ended + self.expired + self.evicted)
    }
}

/// The counts so far.
pub fn session_counts() -> SessionCounts {
    SessionCounts {
        starts: STARTS.load(Relaxed),
        ended: ENDED.load(Relaxed),
        expired: EXPIRED.load(Relaxed),
        evicted: EVICTED.load(Relaxed),
    }
}

pub(crate) fn started() {
    STARTS.fetch_add(1, Relaxed);
}

pub(crate) fn ended(reason: EndReason) {
    match reason {
        EndReason::Ended => &ENDED,
        EndReason::Expired => &EXPIRED,
        EndReason::Evicted => &EVICTED,
    }
    .fetch_add(1, Relaxed);
}
