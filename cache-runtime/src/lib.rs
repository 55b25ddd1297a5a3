//! Streamlit's caching API for Rust: annotate an ordinary function and it is
//! memoized, with Streamlit's semantics, checked at compile time.
//!
//! # Example
//!
//! ```
//! use cache_runtime::{cache_data, cache_resource};
//! use std::sync::Arc;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct Row { id: u32, name: String }
//!
//! #[derive(Debug)]
//! struct DbError;
//!
//! /// Runs once per distinct `(table, limit)` every ten minutes.
//! #[cache_data(ttl = "10m", max_entries = 1000)]
//! fn load_rows(table: &str, limit: u32) -> Result<Vec<Row>, DbError> {
//!     if table.is_empty() {
//!         return Err(DbError); // errors are never cached
//!     }
//!     Ok((0..limit).map(|id| Row { id, name: format!("{table}-{id}") }).collect())
//! }
//!
//! struct Connection { url: String }
//! fn is_alive(_: &Connection) -> bool { true }
//! fn close(_: &Connection) {}
//!
//! /// One shared connection per URL.
//! #[cache_resource(validate = is_alive, on_release = close)]
//! fn connect(url: &str) -> Connection {
//!     Connection { url: url.to_owned() }
//! }
//!
//! let rows = load_rows("users", 3).unwrap();       // miss: runs the body
//! assert_eq!(load_rows("users", 3).unwrap(), rows);  // hit: a fresh copy
//! assert_eq!(load_rows::stats().hits, 1);
//!
//! let a: Arc<Connection> = connect("db://a");
//! assert!(Arc::ptr_eq(&a, &connect("db://a")));      // the same Arc every time
//!
//! load_rows::invalidate("users", 3);  // one entry        (Streamlit: f.clear(*args))
//! load_rows::clear();                 // this function    (Streamlit: f.clear())
//! cache_data::clear();                // every cache_data (st.cache_data.clear())
//! cache_resource::clear();            // every resource   (st.cache_resource.clear())
//! ```
//!
//! # The two macros
//!
//! | | [`#[cache_data]`](macro@cache_data) | [`#[cache_resource]`](macro@cache_resource) |
//! |---|---|---|
//! | for | data: query results, computations | shared resources: connections, models, clients |
//! | a hit returns | a clone of the value (the caller owns it) | the same `Arc<T>` to every caller |
//! | the value needs | `Clone + Send + Sync` | `Send + Sync` (no `Clone`, no serde) |
//! | hooks | — | `validate`, `on_release` |
//!
//! Both accept `ttl` and `max_entries`, both work on `async fn` (with any
//! executor), on methods, and on functions returning `Result`.
//!
//! # Arguments and keys
//!
//! Every argument is part of the key **by value**: it is serialized with
//! `serde` into postcard bytes, so `&str`, `&[T]`, `f64`, `Vec<f64>`, `Option`,
//! tuples and any `#[derive(Serialize)]` struct work with no `Hash`/`Eq`
//! boilerplate. `&str` and `String` of equal text give the same key.
//!
//! - A parameter whose name starts with `_` is left out of the key, as in
//!   Streamlit. `#[cache(skip)]` on a parameter does the same without renaming it.
//! - `#[cache(hash_with = path)]` keys the parameter by what `path(&arg)`
//!   returns (Streamlit's `hash_funcs`), e.g. a connection keyed by its URL.
//! - Methods: `self` is part of the key (it must be `Serialize`) unless marked
//!   `#[cache(skip)] &self`. The concrete `Self` type is always part of a
//!   method's key, so the instantiations of a generic `impl<T>` never share
//!   entries.
//!
//! # Hashing
//!
//! Keys are compared by their exact bytes; the 64-bit xxh3 hash, seeded once per
//! process from the OS random source, only picks the bucket. Two different
//! argument values therefore never share an entry, even if an attacker chooses
//! them to collide. Floats are keyed by their bits (`0.0` and `-0.0` differ, a
//! NaN matches the same NaN). A `HashMap`/`HashSet` argument serializes in its
//! own iteration order, so two equal maps may miss each other's entry (never
//! return a wrong value): use `BTreeMap`/`BTreeSet` arguments for reliable hits.
//!
//! The function's identity — its module path, its name and a hash of its
//! tokens — namespaces its entries, so an edited function body starts a fresh
//! cache.
//!
//! # Configuration
//!
//! - `ttl`: seconds as an integer or float (`ttl = 90`, `ttl = 0.5`), a string
//!   with units checked at compile time (`"90s"`, `"10m"`, `"1h30m"`, `"1d"`,
//!   `"250ms"`), or any `Duration` expression. Entries expire that long after
//!   they were written; reads do not extend it. A unit-less string is a compile
//!   error (Streamlit reads `"10"` as ten *nanoseconds*).
//! - `max_entries`: at most this many entries; the least recently used one is
//!   evicted (moka's LRU policy, so a new value is always admitted).
//!   `max_entries = 0` is a compile error (Streamlit fails on the first write).
//!
//! - `persist`: `"disk"` or `"redis"` keeps values in a persistent tier behind
//!   memory (values need `Serialize + DeserializeOwned`); see [`persist`].
//! - `name`: the function's identity (default: its module path and name), for
//!   persistent records that should survive moving the function.
//!
//! # Errors and panics
//!
//! A function returning `Result` (including aliases named `Result` such as
//! `io::Result<T>` or `anyhow::Result<T>`) caches only `Ok` values: an `Err`
//! goes to its caller and the next call runs the body again. A panic in the
//! body caches nothing, poisons nothing, and a caller that was waiting for that
//! computation runs the body itself.
//!
//! # Concurrent calls on the same key
//!
//! Concurrent callers of one key run the body once; the others wait and get
//! the result (moka's `optionally_get_with` for sync functions, a per-key
//! `OnceCell` for async ones). Callers of different keys never wait for each
//! other. A function that calls itself with the *same* arguments panics with a
//! message saying so instead of waiting for itself forever; recursion on
//! different arguments (Fibonacci, dynamic programming) works.
//!
//! A `clear()` or `invalidate()` that happens while a value is being computed
//! wins: the computation returns its value to its caller but does not store it.
//!
//! # Clearing and inspecting
//!
//! Each cached function gets a companion handle with its own name:
//!
//! - `f::clear()` removes every entry, `f::invalidate(args…)` the entry for
//!   those arguments (the key arguments only, in order), `f::stats()` returns
//!   its [`Stats`].
//! - Methods, where no such handle can live, get `Self::f_cache_clear()`,
//!   `self.f_cache_invalidate(args…)` and `Self::f_cache_stats()`.
//! - [`cache_data::clear`], [`cache_resource::clear`] and [`clear_all`] clear
//!   every function of a kind; [`functions`] lists every cached function called
//!   so far with its stats, for dashboards and logs.
//!
//! The companion handle is a zero-sized type named after the function (types
//! and functions live in different namespaces), rather than a module, so that
//! it also works for functions declared inside other functions.
//!
//! # Known limitations
//!
//! - The macro sees only the function, not the `impl` around it. It treats a
//!   function with a `self` receiver or a mention of `Self` as a method. An
//!   associated function with neither (`fn connect(url: &str) -> Db` inside
//!   `impl Db`) is treated as a free function and the companion type cannot go
//!   in an `impl` block: declare it outside the `impl`, or add `where Self: Sized`
//!   to mark it as associated.
//! - Methods of trait impls cannot be cached directly (the handle functions
//!   are not trait members): cache an inherent helper and call it.
//! - Generic functions are rejected (one cache per function, not per type):
//!   cache a non-generic function for each concrete type.
//!
//! # Where we differ from Streamlit
//!
//! - `cache_data` clones instead of pickling: a hit costs one `Clone`.
//! - `on_release` is also called for an entry that fails `validate` (Streamlit
//!   drops it silently), so every resource is released exactly once.
//! - Bad `ttl` / `max_entries` values and unhashable arguments are compile
//!   errors, not runtime exceptions.
//! - `persist = "disk"` honours the `ttl`, has a size bound and a configurable
//!   folder; `persist = "redis"` shares the cache between replicas (Streamlit
//!   has neither).
//! - Stats are a public API ([`functions`], `f::stats()`), not only metrics.

mod data;
mod engine;
mod key;
pub mod persist;
mod reentrancy;
mod registry;
mod resource;
mod stats;
mod store;

#[doc(hidden)]
pub mod private;

#[doc(hidden)]
pub use private as __private;

#[doc(inline)]
pub use cache_macros::{cache_data, cache_resource};

pub use registry::{FunctionInfo, Kind, clear_all, clear_function, functions};
pub use stats::Stats;

/// Operations on every `#[cache_data]` function at once (`st.cache_data`).
pub mod cache_data {
    use crate::registry::{self, FunctionInfo, Kind};

    /// Clears every `#[cache_data]` function's entries, in memory and in the
    /// persistent tiers (`st.cache_data.clear()`).
    pub fn clear() {
        registry::clear(Some(Kind::Data));
        crate::persist::clear_all_tiers();
    }

    /// Every `#[cache_data]` function called so far, with its stats.
    pub fn functions() -> Vec<FunctionInfo> {
        registry::list(Some(Kind::Data))
    }
}

/// Operations on every `#[cache_resource]` function at once (`st.cache_resource`).
pub mod cache_resource {
    use crate::registry::{self, FunctionInfo, Kind};

    /// Clears every `#[cache_resource]` function's entries, calling
    /// `on_release` for each (`st.cache_resource.clear()`).
    pub fn clear() {
        registry::clear(Some(Kind::Resource));
    }

    /// Every `#[cache_resource]` function called so far, with its stats.
    pub fn functions() -> Vec<FunctionInfo> {
        registry::list(Some(Kind::Resource))
    }
}
