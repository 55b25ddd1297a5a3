//! The process-wide list of cached functions, filled as each is first called.
//! It knows caches only through [`Registered`]; the global clears that also
//! reach the persistent tiers are composed in `lib.rs`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::config::{Kind, Persist, Scope};
use crate::key::Key;
use crate::scope::Prefix;
use crate::stats::Stats;

/// A cached function as the registry lists it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FunctionInfo {
    /// Full path, e.g. `my_app::db::load_rows` (methods: `my_app::Repo::find`).
    pub name: &'static str,
    /// The macro that cached it.
    pub kind: Kind,
    /// Its `ttl`, if any.
    pub ttl: Option<Duration>,
    /// Its `max_entries`, if any.
    pub max_entries: Option<u64>,
    /// Its persistent tier (`persist = ..`), if any.
    pub persist: Option<Persist>,
    /// Its `max_size` in bytes, if any.
    pub max_size: Option<u64>,
    /// Whether its entries are shared or kept per session.
    pub scope: Scope,
    /// Its counters right now.
    pub stats: Stats,
}

impl FunctionInfo {
    /// The last segment of [`FunctionInfo::name`], e.g. `load_rows`.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit("::").next().unwrap_or(self.name)
    }
}

/// What the registry needs from a cache.
pub(crate) trait Registered: Sync {
    fn info(&self) -> FunctionInfo;
    /// Clears memory and the persistent tier.
    fn clear(&self);
    fn kind(&self) -> Kind;
    fn name(&self) -> &'static str;
    /// The function's id in the persistent tiers.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn persist_id(&self) -> u64;
    /// Clears the in-memory tier only (another process cleared the shared tier).
    fn clear_memory(&self);
    /// Drops one in-memory entry only (another process invalidated it).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn invalidate_memory(&self, key: &Key);
    /// A session ended: drops its entries (session-scoped functions only).
    fn end_session(&self, prefix: &Prefix);
    /// The bytes its entries weigh in memory, where known: its `max_size`
    /// weights, or what the memory budget `charged` it (by cache id).
    fn memory_bytes(&self, charged: &HashMap<usize, u64>) -> Option<u64>;
}

static REGISTRY: Mutex<Vec<&'static dyn Registered>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<&'static dyn Registered>> {
    // The list is only pushed to; a panic elsewhere cannot leave it half-written.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn register(cache: &'static dyn Registered) {
    registry().push(cache);
}

pub(crate) fn clear_memory_named(short_name: &str) {
    for cache in snapshot(None) {
        if cache.name().rsplit("::").next() == Some(short_name) {
            cache.clear_memory();
        }
    }
}

/// Runs `f` on every registered cache (outside the registry lock).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn each(mut f: impl FnMut(&dyn Registered)) {
    for cache in snapshot(None) {
        f(cache);
    }
}

fn snapshot(kind: Option<Kind>) -> Vec<&'static dyn Registered> {
    registry()
        .iter()
        .copied()
        .filter(|c| kind.is_none_or(|k| c.kind() == k))
        .collect()
}

/// Every registered cache, sorted by name, for the metrics.
pub(crate) fn caches() -> Vec<&'static dyn Registered> {
    let mut caches = snapshot(None);
    caches.sort_by_key(|cache| cache.name());
    caches
}

/// Every cached function called so far in this process, with its stats,
/// sorted by name.
pub fn functions() -> Vec<FunctionInfo> {
    list(None)
}

pub(crate) fn list(kind: Option<Kind>) -> Vec<FunctionInfo> {
    let mut infos: Vec<_> = snapshot(kind).into_iter().map(|c| c.info()).collect();
    infos.sort_by_key(|info| info.name);
    infos
}

/// Drops the entries of the session with key prefix `prefix` from every
/// session-scoped function.
pub(crate) fn end_session(prefix: &Prefix) {
    for cache in snapshot(None) {
        cache.end_session(prefix);
    }
}

/// Clears every cache of `kind` (every cache when `None`).
pub(crate) fn clear(kind: Option<Kind>) {
    // Clear outside the registry lock: `on_release` hooks may call cached functions.
    for cache in snapshot(kind) {
        cache.clear();
    }
}

/// Clears every entry of the cached function named `name` (its full path, as
/// [`FunctionInfo::name`] gives it). Returns `false` when no function of that
/// name has been called yet.
pub fn clear_function(name: &str) -> bool {
    let found: Vec<_> = snapshot(None)
        .into_iter()
        .filter(|c| c.name() == name)
        .collect();
    for cache in &found {
        cache.clear();
    }
    !found.is_empty()
}
