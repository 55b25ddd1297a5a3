//! The process-wide memory budget over in-memory `cache_data` entries
//! (Streamlit's `server.maxCacheDataSize`): `CACHE_RUNTIME_MAX_MEMORY=2GiB`,
//! or [`set_max_memory`] in code.
//!
//! A ledger — one moka cache, least recently used first, bounded by the
//! budget — holds one charge per stored entry of every `cache_data`
//! function: its weight (the function's `size_with`, else its serialized
//! size; values that are not `Serialize` are not counted). A store charges
//! it; a hit touches it; an entry that leaves its function's cache is
//! discharged. When a charge pushes the ledger over the budget, moka evicts
//! the least recently used charges, and their entries are removed from their
//! functions (counted as `Stats::evicted.budget`) before the store returns.
//!
//! Recency is exact for hits answered by moka. A hit answered by a thread's
//! front table reaches the ledger when that thread replays its front hits
//! (before it stores a value of the same function, and at least every 16
//! front hits per entry), and a hit on a function without arguments, from
//! its thread-local entry, not at all: such entries can look older to the
//! budget than they are. With a budget each stored value is also weighed
//! once (serialized into a byte counter), and its ledger charge costs about
//! one more key per entry.

use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock, PoisonError};

use moka::notification::RemovalCause;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;

use crate::key::{Key, KeyRef};

/// The environment variable with the budget: bytes, or a number with a
/// binary unit as `max_size` takes them (`"2GiB"`, `"512mb"`); `0` (as
/// unset) means no budget.
pub const MAX_MEMORY_VARIABLE: &str = "CACHE_RUNTIME_MAX_MEMORY";

/// A cache whose entries the budget may evict.
pub(crate) trait BudgetOwner: Sync {
    /// Removes the entry stored under `key` if it is still `entry` (see
    /// [`entry_id`]), counting a budget eviction.
    fn evict_for_budget(&self, key: &Key, entry: usize);
}

/// The identity of a stored entry (its allocation), so that a charge never
/// evicts or discharges a newer entry stored under the same key.
pub(crate) fn entry_id<T>(entry: &triomphe::Arc<T>) -> usize {
    triomphe::Arc::as_ptr(entry) as usize
}

/// The identity of a cache in the ledger.
pub(crate) fn owner_id(owner: &dyn BudgetOwner) -> usize {
    std::ptr::from_ref(owner).cast::<()>() as usize
}

/// Which entry a charge is for: its cache and key.
#[derive(Clone, PartialEq, Eq)]
struct Charged {
    owner: usize,
    key: Key,
}

impl Hash for Charged {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.owner);
        self.key.hash(state);
    }
}

/// [`Charged`] borrowed, for touches on the hit path.
struct ChargedRef<'a> {
    owner: usize,
    key: KeyRef<'a>,
}

impl Hash for ChargedRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `Charged` hashes: `Key` hashes as its `u64`.
        state.write_usize(self.owner);
        state.write_u64(self.key.hash());
    }
}

impl moka::Equivalent<Charged> for ChargedRef<'_> {
    fn equivalent(&self, charged: &Charged) -> bool {
        self.owner == charged.owner && self.key.is(&charged.key)
    }
}

#[derive(Clone, Copy)]
struct Charge {
    owner: &'static dyn BudgetOwner,
    entry: usize,
    weight: u32,
}

struct Ledger {
    charges: moka::sync::Cache<Charged, Charge>,
    /// Charges moka evicted for the budget, whose entries are still to be
    /// removed (outside moka's listener).
    over: &'static Mutex<Vec<(Key, Charge)>>,
}

/// A budget asked for in code, before the first store.
static REQUESTED: OnceLock<u64> = OnceLock::new();

static LEDGER: OnceLock<Option<Ledger>> = OnceLock::new();

/// Sets the process-wide budget in bytes (`0`: none), instead of (and over)
/// `CACHE_RUNTIME_MAX_MEMORY`. It takes effect only before the first cached
/// call (the budget is resolved once, then); `false` if it was too late or a
/// budget was already set in code.
///
/// ```
/// // At start-up, before any cached call:
/// if !cache_runtime::budget::set_max_memory(2 << 30) {
///     eprintln!("too late: the budget was already resolved"); // 2 GiB
/// }
/// ```
pub fn set_max_memory(bytes: u64) -> bool {
    LEDGER.get().is_none() && REQUESTED.set(bytes).is_ok() && LEDGER.get().is_none()
}

/// The budget in force, in bytes (resolving it now if nothing was stored
/// yet); `None` without one.
pub fn max_memory() -> Option<u64> {
    ledger().map(|ledger| ledger.charges.policy().max_capacity().unwrap_or(u64::MAX))
}

/// The bytes charged right now: the weight of every in-memory `cache_data`
/// entry that could be weighed (each capped at the budget); `0` without a
/// budget.
pub fn charged_bytes() -> u64 {
    ledger().map_or(0, |ledger| {
        ledger.charges.run_pending_tasks();
        ledger.charges.weighted_size()
    })
}

/// The bytes charged right now per cache (by [`owner_id`]); empty without
/// a budget. Walks the ledger once.
pub(crate) fn charged_by_owner() -> std::collections::HashMap<usize, u64> {
    let mut charged = std::collections::HashMap::new();
    if let Some(ledger) = ledger() {
        ledger.charges.run_pending_tasks();
        for (key, charge) in &ledger.charges {
            *charged.entry(key.owner).or_default() += u64::from(charge.weight);
        }
    }
    charged
}

fn ledger() -> Option<&'static Ledger> {
    LEDGER.get_or_init(build).as_ref()
}

/// Whether a budget is in force; cheap after the first call.
#[inline]
pub(crate) fn active() -> bool {
    ledger().is_some()
}

fn build() -> Option<Ledger> {
    let max = match REQUESTED.get() {
        Some(&bytes) => bytes,
        None => from_environment()?,
    };
    if max == 0 {
        return None; // as Streamlit's `0`: no budget
    }
    let over: &'static Mutex<Vec<(Key, Charge)>> = Box::leak(Box::new(Mutex::new(Vec::new())));
    let charges = moka::sync::Cache::builder()
        .name("cache_runtime::budget")
        .eviction_policy(EvictionPolicy::lru())
        .max_capacity(max)
        .weigher(|_: &Charged, charge: &Charge| charge.weight)
        .eviction_listener(move |charged: std::sync::Arc<Charged>, charge, cause| {
            if cause == RemovalCause::Size {
                over.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((charged.key.clone(), charge));
            }
        })
        .build();
    Some(Ledger { charges, over })
}

/// The budget `CACHE_RUNTIME_MAX_MEMORY` sets, if it is set and valid (an
/// invalid one is reported, and there is no budget).
fn from_environment() -> Option<u64> {
    let text = std::env::var(MAX_MEMORY_VARIABLE).ok()?;
    match parse_bytes(&text) {
        Ok(bytes) => Some(bytes),
        Err(problem) => {
            tracing::error!(
                variable = MAX_MEMORY_VARIABLE,
                value = text,
                "{problem}; no memory budget is in force"
            );
            None
        }
    }
}

/// Parses a byte count as `max_size` takes it: an integer, or a number with
/// a unit among b, kb, kib, mb, mib, gb, gib, tb, tib (any case, all powers
/// of 1024 as in Streamlit, an optional space, fractions rounded down).
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number.replace('_', "");
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kb" | "kib" => 10,
        "mb" | "mib" => 20,
        "gb" | "gib" => 30,
        "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown unit `{other}`: write bytes (`2147483648`) or a number with b, kb, kib, mb, mib, gb, gib, tb or tib (`2GiB`)"
            ));
        }
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(format!(
            "`{text}` is not a size: write e.g. `2GiB` or `512MiB`"
        ));
    }
    let too_large = || format!("`{text}` is too large");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut bytes = whole.checked_shl(shift).ok_or_else(too_large)?;
    if !fraction.is_empty() {
        let digits = fraction.len().min(30) as u32;
        let fraction: u128 = fraction[..digits as usize]
            .parse()
            .map_err(|_| too_large())?;
        bytes += (fraction << shift) / 10u128.pow(digits);
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Charges a stored entry of `owner` and enforces the budget: when this
/// returns, the charges fit it again (the evicted entries are gone).
pub(crate) fn charge(owner: &'static dyn BudgetOwner, key: &Key, entry: usize, bytes: usize) {
    let Some(ledger) = ledger() else { return };
    let max = ledger.charges.policy().max_capacity().unwrap_or(u64::MAX);
    // Heavier than the budget: charged as the whole budget, so it is kept
    // alone rather than never (as `max_size` does).
    let weight = u64::try_from(bytes).unwrap_or(u64::MAX).min(max);
    let charge = Charge {
        owner,
        entry,
        weight: u32::try_from(weight).unwrap_or(u32::MAX),
    };
    let charged = Charged {
        owner: owner_id(owner),
        key: key.clone(),
    };
    ledger.charges.insert(charged, charge);
    enforce(ledger);
}

/// Applies moka's pending evictions and removes their entries.
fn enforce(ledger: &Ledger) {
    ledger.charges.run_pending_tasks();
    let over = std::mem::take(&mut *ledger.over.lock().unwrap_or_else(PoisonError::into_inner));
    for (key, charge) in over {
        charge.owner.evict_for_budget(&key, charge.entry);
    }
}

/// An entry left its cache (on its own or by a clear): its charge goes, if it
/// is still that entry's.
pub(crate) fn discharge(owner: usize, key: Key, entry: usize) {
    let Some(ledger) = ledger() else { return };
    ledger
        .charges
        .entry(Charged { owner, key })
        .and_compute_with(|charged| match charged {
            Some(charged) if charged.value().entry == entry => Op::Remove,
            _ => Op::Nop,
        });
}

/// A hit on `key` of `owner`: its charge becomes the most recently used.
#[inline]
pub(crate) fn touch(owner: usize, key: KeyRef<'_>) {
    if let Some(ledger) = ledger() {
        ledger.charges.get(&ChargedRef { owner, key });
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_as_max_size_takes_them() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("2 gb"), Ok(2 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5KB"), Ok(1536));
        assert_eq!(parse_bytes(" 1_000 b "), Ok(1000));
        assert_eq!(parse_bytes("0.5kib"), Ok(512));
        assert_eq!(parse_bytes("0"), Ok(0));
        for bad in [
            "",
            "GiB",
            "2 parsecs",
            "1.2.3",
            "-1",
            "99999999999999999999TiB",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }
}
