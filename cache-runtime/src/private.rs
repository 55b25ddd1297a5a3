//! Support for the code `#[cache_data]` and `#[cache_resource]` generate.
//! Not public API: anything here may change in any release.

pub use std::sync::Arc;
pub use std::time::Duration;

pub use crate::config::{Config, Identity, IntoPersist, Persist, Spinner};
pub use crate::data::{AsyncDataCache, DataCache, DataValue};
pub use crate::engine::{Lookup, WordLookup};
pub use crate::family::{Family, Member};
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

/// The error type of a `Result` function's declared return type (an alias
/// such as `io::Result<T>` included), for its `warm(..)`.
pub trait Fallible {
    /// `E` of `Result<T, E>`.
    type Error;
}

impl<T, E> Fallible for Result<T, E> {
    type Error = E;
}

/// Checked for each owned argument of a `refresh_mode = "background"` function.
#[diagnostic::on_unimplemented(
    message = "`refresh_mode = \"background\"` keeps its own copy of each argument for the refresh, which runs after the call returned: `{Self}` must be `Clone + Send + 'static`",
    label = "this argument is copied for the refresh",
    note = "derive `Clone` for it, or take it by reference (`&T`, copied with `ToOwned`)"
)]
pub trait RefreshArgument: Clone + Send + 'static {}
impl<T: Clone + Send + 'static> RefreshArgument for T {}

/// A background refresh's copy of an owned argument.
#[inline]
pub fn own_argument<T: RefreshArgument>(value: &T) -> T {
    value.clone()
}

/// Checked for each borrowed argument `&T` of a `refresh_mode = "background"` function.
#[diagnostic::on_unimplemented(
    message = "`refresh_mode = \"background\"` keeps its own copy of each argument for the refresh, which runs after the call returned: `&{Self}` must be copyable with `ToOwned` into something `Send + 'static`",
    label = "this argument is copied for the refresh",
    note = "e.g. `&str` becomes a `String`, `&[T]` a `Vec<T>` and `&T` a `T` when `T: Clone`"
)]
pub trait RefreshBorrowed: ToOwned<Owned: Send + 'static> {}
impl<T: ?Sized + ToOwned<Owned: Send + 'static>> RefreshBorrowed for T {}

/// A background refresh's copy of a borrowed argument.
#[inline]
pub fn own_borrowed<T: ?Sized + RefreshBorrowed>(value: &T) -> T::Owned {
    value.to_owned()
}

/// `max_entries` of any integer type (a `usize` constant, a literal) as `u64`.
#[inline]
pub fn entry_count<T: TryInto<u64>>(count: T) -> u64 {
    count.try_into().unwrap_or(u64::MAX)
}

/// `max_size = <expression>` of any integer type, in bytes, as `u64`.
#[inline]
pub fn byte_count<T: TryInto<u64>>(bytes: T) -> u64 {
    bytes.try_into().unwrap_or(u64::MAX)
}

/// Checked for the value of a `max_size` function without `size_with`.
#[diagnostic::on_unimplemented(
    message = "a `max_size` function weighs its values by their serialized size, but `{Self}` is not `Serialize`",
    label = "this value cannot be weighed",
    note = "derive `serde::Serialize` for it, or weigh it yourself: `size_with = path` where `fn path(value: &{Self}) -> usize`"
)]
pub trait Weighable {
    /// The value's size in bytes.
    fn serialized_size(&self) -> usize;
}

impl<T: serde::Serialize> Weighable for T {
    fn serialized_size(&self) -> usize {
        // Serializing into a counter cannot fail for lack of room; a value
        // that refuses to serialize weighs nothing.
        postcard::serialize_with_flavor(self, postcard::ser_flavors::Size::default()).unwrap_or(0)
    }
}

/// Checked for a `size_with = path`.
#[diagnostic::on_unimplemented(
    message = "`size_with` must name a function `fn(&{T}) -> usize`",
    label = "this is `{Self}`",
    note = "weigh the value by reference and return its bytes: `fn frame_bytes(value: &{T}) -> usize`"
)]
pub trait SizeWith<T> {
    /// The value's size in bytes.
    fn weigh(&self, value: &T) -> usize;
}

impl<T, F: Fn(&T) -> usize> SizeWith<T> for F {
    fn weigh(&self, value: &T) -> usize {
        self(value)
    }
}

/// A `max_size` function's weigher from its `size_with`.
#[inline]
pub fn size_with<T>(weigh: impl SizeWith<T>, value: &T) -> usize {
    weigh.weigh(value)
}

/// A `max_size` function's weigher: the value's serialized size.
pub fn serialized_size<T: Weighable>(value: &T) -> usize {
    value.serialized_size()
}

/// A value to weigh for the memory budget when its function has neither
/// `max_size` nor `size_with`: by its serialized size if it is `Serialize`,
/// else not at all. Which one is picked where the macro expands, by
/// autoref specialization: `(&WeighProbe(value)).weight()` with
/// [`WeighSerialized`] and [`WeighNothing`] in scope.
#[derive(Debug)]
pub struct WeighProbe<'a, T>(pub &'a T);

/// [`WeighProbe`] of a `Serialize` value: its serialized size.
pub trait WeighSerialized {
    /// The value's weight.
    fn weight(&self) -> Option<usize>;
}

impl<T: serde::Serialize> WeighSerialized for WeighProbe<'_, T> {
    fn weight(&self) -> Option<usize> {
        Some(self.0.serialized_size())
    }
}

/// [`WeighProbe`] of any other value: no weight.
pub trait WeighNothing {
    /// No weight.
    fn weight(&self) -> Option<usize>;
}

impl<T> WeighNothing for &WeighProbe<'_, T> {
    fn weight(&self) -> Option<usize> {
        None
    }
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
