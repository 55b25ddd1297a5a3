//! Support for the code `#[cache_data]` and `#[cache_resource]` generate.
//! Not public API: anything here may change in any release.

pub use std::sync::Arc;
pub use std::time::Duration;

pub use crate::config::{Config, Identity, IntoPersist, Persist};
pub use crate::data::{AsyncDataCache, DataCache, DataValue};
pub use crate::engine::{Lookup, WordLookup};
pub use crate::key::{
    Key, KeyArgument, KeyError, KeyRef, KeyWriter, OneByte, Signed, StoreKey, Unsigned, Word,
    WordPart,
};
pub use crate::persist::Persistence;
pub use crate::resource::{AsyncResourceCache, Hooks, ResourceCache, Shared};
pub use crate::solo::Solo;
pub use crate::stats::Stats;

/// `Result<(), KeyError>::Ok(())`, so generated key writers need no path to `Result`.
pub const KEY_OK: Result<(), KeyError> = Ok(());

/// Checked for the value a `#[cache_resource]` function returns.
#[diagnostic::on_unimplemented(
    message = "`#[cache_resource]` needs `{Self}: Send + Sync + 'static`: one value is shared by every thread",
    label = "this value is shared by every caller",
    note = "wrap the non-`Sync` parts in a `Mutex`, or cache it per thread yourself"
)]
pub trait ResourceValue: Send + Sync + 'static {}
impl<T: Send + Sync + 'static> ResourceValue for T {}

/// Type-checks the stored value of a `#[cache_resource]` function.
pub const fn resource_value<T: ResourceValue>() {}

/// Pins an async body's output type to the function's declared return type,
/// so `?` and inference inside the body behave as in the original function.
#[inline(always)]
pub fn pin_output<T, F: std::future::Future<Output = T>>(future: F) -> F {
    future
}

/// `max_entries` of any integer type (a `usize` constant, a literal) as `u64`.
#[inline]
pub fn entry_count<T: TryInto<u64>>(count: T) -> u64 {
    count.try_into().unwrap_or(u64::MAX)
}

/// `persist = <expression>`: a `Persist` or an `Option<Persist>`.
#[inline]
pub fn persist_choice(choice: impl IntoPersist) -> Option<Persist> {
    choice.into_persist()
}

/// `persist = "auto"`: Redis when a Redis URL is configured, else the disk.
pub fn persist_auto() -> Option<Persist> {
    Some(Persist::auto())
}

/// `persist = "redis"`: needs the `redis` feature.
#[cfg(feature = "redis")]
pub const fn persist_redis() -> Option<Persist> {
    Some(Persist::Redis)
}

/// `persist = "redis"`: needs the `redis` feature (a compile error without it,
/// as the configuration is evaluated in a `const`).
#[cfg(not(feature = "redis"))]
pub const fn persist_redis() -> Option<Persist> {
    panic!(
        "`persist = \"redis\"` needs the `redis` feature of cache-runtime: \
         add `features = [\"redis\"]` to the cache-runtime dependency"
    )
}

/// Drops the in-memory entries of every function whose name ends with
/// `::{short_name}`, leaving persistent tiers alone: what a restarted process
/// sees. For tests of the persistent tiers.
pub fn clear_memory(short_name: &str) {
    crate::registry::clear_memory_named(short_name);
}
