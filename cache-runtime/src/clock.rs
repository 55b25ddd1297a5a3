//! Deadlines on the monotonic clock, and a cheap check that one has not
//! passed yet.
//!
//! A hit on a function with a `ttl` must check its entry's deadline, and a
//! precise clock read (`Instant::now`, 25–45 ns on a virtual machine) would
//! cost more than the rest of the hit. On Linux the kernel also keeps a
//! *coarse* monotonic clock (`CLOCK_MONOTONIC_COARSE`: the time of the last
//! timekeeping update, ~10 ns from the vDSO) on the same base, never ahead of
//! the precise one. It lags by up to about two ticks (measured here: 3–8 ms
//! with 4 ms ticks), so a deadline more than a generous margin past the
//! coarse time (8 ticks, at least 32 ms) has certainly not passed; closer to
//! it the precise clock decides. So the check is exact at the edge, and a
//! value is never served past its deadline *provided* the coarse clock lags
//! less than the margin — an assumption about the kernel (its timekeeping
//! stalls last a few ticks), not something a hit can check. Every precise
//! reading (each write computes a deadline) also measures the lag, and if it
//! is ever more than half the margin the coarse clock is dropped for good,
//! so a machine whose clock stalls longer stops using it after the first
//! sign. Elsewhere, both readings are the precise clock.

use std::time::Duration;

/// A point on the monotonic clock, in nanoseconds, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline(u64);

impl Deadline {
    /// No deadline: the entry lives until it is evicted or cleared.
    pub(crate) const NEVER: Deadline = Deadline(u64::MAX);

    /// `after` from now; `None` means never.
    pub(crate) fn after(after: Option<Duration>) -> Deadline {
        match after {
            None => Deadline::NEVER,
            Some(after) => {
                let nanos = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
                Deadline(precise_nanos().saturating_add(nanos))
            }
        }
    }

    /// `by` later (never stays never).
    pub(crate) fn later_by(self, by: Duration) -> Deadline {
        if self == Deadline::NEVER {
            return self;
        }
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        Deadline(self.0.saturating_add(nanos))
    }

    /// Whether there is a deadline at all.
    pub(crate) fn is_set(self) -> bool {
        self != Deadline::NEVER
    }

    /// Still in the future. Cheap: usually one coarse clock read.
    #[inline]
    pub(crate) fn is_ahead(self) -> bool {
        if self == Deadline::NEVER {
            return true;
        }
        let (coarse, margin) = coarse_nanos();
        coarse.saturating_add(margin) < self.0 || precise_nanos() < self.0
    }

    /// Bits of [`Deadline::packed`]: nanoseconds of the monotonic clock
    /// (2⁶³ ns is 292 years of uptime), exact.
    pub(crate) const PACKED_BITS: u32 = 63;
    /// The packed form of [`Deadline::NEVER`] (and the largest).
    const PACKED_NEVER: u64 = (1 << Self::PACKED_BITS) - 1;

    /// Its low [`Deadline::PACKED_BITS`] bits, exact; the bit above them is
    /// the caller's own.
    pub(crate) fn packed(self) -> u64 {
        self.0.min(Self::PACKED_NEVER)
    }

    /// The deadline in the low bits of `word` (see [`Deadline::packed`]).
    pub(crate) fn unpack(word: u64) -> Deadline {
        match word & Self::PACKED_NEVER {
            Self::PACKED_NEVER => Deadline::NEVER,
            nanos => Deadline(nanos),
        }
    }

    /// [`Deadline::is_ahead`] of the deadline packed in the low bits of `word`.
    #[inline(always)]
    pub(crate) fn packed_is_ahead(word: u64) -> bool {
        word & Self::PACKED_NEVER == Self::PACKED_NEVER || Self::unpack(word).is_ahead()
    }

    /// The time left until it, `None` when there is no deadline.
    pub(crate) fn remaining(self) -> Option<Duration> {
        self.is_set()
            .then(|| Duration::from_nanos(self.0.saturating_sub(precise_nanos())))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod source {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};

    fn nanos(time: Timespec) -> u64 {
        let secs = u64::try_from(time.tv_sec).unwrap_or(0);
        let subsec = u64::try_from(time.tv_nsec).unwrap_or(0);
        secs.saturating_mul(1_000_000_000).saturating_add(subsec)
    }

    pub(super) fn precise_nanos() -> u64 {
        let precise = nanos(clock_gettime(ClockId::Monotonic));
        let margin = MARGIN.load(Relaxed);
        if margin != 0 && margin != u64::MAX {
            // Keep the margin honest: a lag of half of it turns it off.
            let coarse = nanos(clock_gettime(ClockId::MonotonicCoarse));
            if precise.saturating_sub(coarse) > margin / 2 {
                MARGIN.store(u64::MAX, Relaxed);
            }
        }
        precise
    }

    /// How far the coarse clock may lag: 0 until known, `u64::MAX` when the
    /// coarse clock is not used.
    static MARGIN: AtomicU64 = AtomicU64::new(0);

    /// Ticks of margin.
    const TICKS: u64 = 8;
    /// The least margin.
    const LEAST: u64 = 32_000_000;
    /// Beyond this (very coarse ticks) the coarse clock is not worth it.
    const MOST: u64 = 200_000_000;

    #[cold]
    fn margin() -> u64 {
        let tick = nanos(clock_getres(ClockId::MonotonicCoarse));
        let margin = tick.saturating_mul(TICKS).max(LEAST);
        let margin = if tick == 0 || margin > MOST {
            u64::MAX
        } else {
            margin
        };
        // Only from "unknown": a lag seen meanwhile (which stored `u64::MAX`)
        // must not be undone by a late first reading.
        match MARGIN.compare_exchange(0, margin, Relaxed, Relaxed) {
            Ok(_) => margin,
            Err(current) => current,
        }
    }

    /// The coarse time and how far the precise time may be ahead of it.
    #[inline]
    pub(super) fn coarse_nanos() -> (u64, u64) {
        let margin = match MARGIN.load(Relaxed) {
            0 => margin(),
            margin => margin,
        };
        if margin == u64::MAX {
            return (0, u64::MAX);
        }
        (nanos(clock_gettime(ClockId::MonotonicCoarse)), margin)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod source {
    use std::sync::LazyLock;
    use std::time::Instant;

    static BASE: LazyLock<Instant> = LazyLock::new(Instant::now);

    pub(super) fn precise_nanos() -> u64 {
        u64::try_from(BASE.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// No coarse clock: the precise one, with no margin.
    #[inline]
    pub(super) fn coarse_nanos() -> (u64, u64) {
        (precise_nanos(), 0)
    }
}

use source::{coarse_nanos, precise_nanos};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_ahead_until_it_passes() {
        let deadline = Deadline::after(Some(Duration::from_millis(30)));
        assert!(deadline.is_ahead());
        assert!(deadline.remaining().unwrap() <= Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(31));
        assert!(!deadline.is_ahead());
        assert_eq!(deadline.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn never_is_always_ahead() {
        assert!(Deadline::NEVER.is_ahead());
        assert!(!Deadline::NEVER.is_set());
        assert_eq!(Deadline::after(None), Deadline::NEVER);
        assert_eq!(Deadline::NEVER.remaining(), None);
    }

    #[test]
    fn a_packed_deadline_is_exact_and_keeps_never() {
        let deadline = Deadline(5_123_456_789);
        assert_eq!(Deadline::unpack(deadline.packed()), deadline);
        // The bit above the packed ones belongs to the caller.
        let high = 1 << Deadline::PACKED_BITS;
        assert_eq!(Deadline::unpack(high | deadline.packed()), deadline);
        assert_eq!(
            Deadline::unpack(high | Deadline::NEVER.packed()),
            Deadline::NEVER
        );
        assert!(Deadline::packed_is_ahead(high | Deadline::NEVER.packed()));
        assert!(!Deadline::packed_is_ahead(Deadline(1).packed()));
        let soon = Deadline::after(Some(Duration::from_millis(30)));
        assert!(Deadline::packed_is_ahead(soon.packed()));
        std::thread::sleep(Duration::from_millis(31));
        assert!(!Deadline::packed_is_ahead(soon.packed()));
    }

    #[test]
    fn the_coarse_clock_never_runs_ahead_of_the_precise_one() {
        for _ in 0..10_000 {
            let (coarse, _) = coarse_nanos();
            let precise = precise_nanos();
            assert!(coarse <= precise, "{coarse} > {precise}");
        }
    }

    #[test]
    fn at_the_edge_the_precise_clock_decides() {
        // A deadline a few milliseconds away is within the coarse margin:
        // the check must fall through to the precise clock and stay exact.
        for _ in 0..20 {
            let deadline = Deadline::after(Some(Duration::from_millis(2)));
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(2) {}
            assert!(!deadline.is_ahead());
        }
    }
}
