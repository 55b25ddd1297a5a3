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
    /// Full path, e.g. `my_app::db::load_rows`. A method is named by its
    /// module (`my_app::find`); one whose cache is found at run time (a
    /// generic method, a method of a generic or trait impl) by its `Self`
    /// type, as `std::any::type_name` writes it (`my_app::Stack<u32>::peek`).
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
    /// With `refresh_mode = "background"`, how long past its `ttl` a value
    /// is still served while it is refreshed (its `max_stale`); `None` in
    /// the default mode.
    pub max_stale: Option<Duration>,
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
    function(name).inspect(CachedFunction::clear).is_some()
}

/// The cached function named `name` (its full path, as
/// [`FunctionInfo::name`] gives it), once it has been called: the handle of
/// a function whose own handle is out of reach, such as a method of a trait
/// impl (`#[cache_data(trait_impl)]`), named after its `Self` type,
/// `my_app::Circle::area`.
///
/// ```
/// use cache_runtime::cache_data;
///
/// trait Shape {
///     fn area(&self) -> f64;
/// }
///
/// #[derive(serde::Serialize)]
/// struct Circle {
///     radius: f64,
/// }
///
/// impl Shape for Circle {
///     #[cache_data(trait_impl)]
///     fn area(&self) -> f64 {
///         3.14 * self.radius * self.radius
///     }
/// }
///
/// let name = format!("{}::area", std::any::type_name::<Circle>());
/// assert!(cache_runtime::function(&name).is_none(), "not called yet");
/// Circle { radius: 1.0 }.area();
/// let area = cache_runtime::function(&name).expect("called");
/// assert_eq!(area.stats().misses, 1);
/// area.clear();
/// assert_eq!(area.stats().entries, 0);
/// ```
pub fn function(name: &str) -> Option<CachedFunction> {
    let caches: Vec<_> = snapshot(None)
        .into_iter()
        .filter(|c| c.name() == name)
        .collect();
    let first = caches.first()?;
    Some(CachedFunction {
        name: first.name(),
        caches,
    })
}

/// The controls of a cached function found by name with [`function`]. Two
/// functions of one name (the same method of two trait impls for one type,
/// `Debug::fmt` and `Display::fmt`) are controlled together.
#[derive(Clone)]
pub struct CachedFunction {
    name: &'static str,
    caches: Vec<&'static dyn Registered>,
}

impl std::fmt::Debug for CachedFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedFunction")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CachedFunction {
    /// Its full path.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Removes every entry, in memory and in its persistent tier.
    pub fn clear(&self) {
        for cache in &self.caches {
            cache.clear();
        }
    }

    /// Hits, misses, entries and compute time.
    pub fn stats(&self) -> Stats {
        self.caches.iter().fold(Stats::default(), |mut sum, cache| {
            sum.add(&cache.info().stats);
            sum
        })
    }

    /// Its settings and counters (one per function of this name).
    pub fn info(&self) -> Vec<FunctionInfo> {
        self.caches.iter().map(|cache| cache.info()).collect()
    }
}
