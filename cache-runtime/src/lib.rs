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
//! load_rows::warm("orders", 5).unwrap(); // computed and stored, not returned
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
//! # Generic functions
//!
//! A generic function gets a cache per instantiation: its type arguments
//! are part of its identity, so `top::<u32>` and `top::<String>` never
//! share entries, even for arguments with equal bytes. `top::clear()`
//! clears every instantiation, `top::stats()` sums them, and
//! [`functions`] lists each (`my_app::top::<u32>`). Type parameters must be
//! `'static` (the macro adds the bound) and meet what keys and values need.
//! Finding an instantiation's cache costs a lookup by its `TypeId`s on
//! every call (a read lock), so a generic hit is slower than a plain one.
//!
//! ```
//! use cache_runtime::cache_data;
//! use serde::Serialize;
//!
//! #[cache_data]
//! fn top<T: Serialize + Clone + Ord + Send + Sync>(mut xs: Vec<T>, n: usize) -> Vec<T> {
//!     xs.sort();
//!     xs.into_iter().rev().take(n).collect()
//! }
//!
//! assert_eq!(top(vec![3u32, 1, 2], 2), [3, 2]);
//! assert_eq!(top(vec!["b", "a"], 1), ["b"]);
//! assert_eq!(top::stats().misses, 2);
//! top::clear(); // both instantiations
//! ```
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
//!   returns, e.g. a connection keyed by its URL.
//! - `hash_funcs(Type = path, ..)` in the attribute does that for every key
//!   parameter of a type (Streamlit's `hash_funcs`):
//!   `#[cache_data(hash_funcs(Connection = conn_key, Frame = frame_digest))]`
//!   keys each `Connection` by `conn_key(&conn)` (a `fn(&T) -> K` with
//!   `K: Serialize`). It also applies through `&`, `Option<T>`, `Vec<T>`,
//!   `[T]` and `[T; N]`, nested in any order (`Option<&[Connection]>`): each
//!   item is keyed by the function, nothing is collected. A parameter's own
//!   `hash_with` wins over it; `self` is never matched. An entry that applies
//!   to no key parameter is a compile error (likely a typo), and so is an
//!   entry's type inside a type it cannot look into (`HashMap<K, Connection>`,
//!   a tuple, `Box<Connection>`): key that parameter with `hash_with`, or add
//!   an entry for the whole type.
//! - Methods: `self` is part of the key (it must be `Serialize`) unless marked
//!   `#[cache(skip)] &self`. The concrete `Self` type is always part of a
//!   method's key, so the instantiations of a generic `impl<T>` never share
//!   entries.
//! - Generic functions and methods: each instantiation has a cache of its
//!   own (`top::<u32>` and `top::<String>`, `Stack<u8>::peek` and
//!   `Stack<u64>::peek`, never share entries), listed by [`functions`] under
//!   its types' names; the handle's `clear()` and `stats()` cover every
//!   instantiation. A cache is found by its types' `TypeId`s, so they are
//!   `'static`: the macro adds the bound to a function's own type
//!   parameters, and asks what a value needs (`Clone + Send + Sync +
//!   'static` for data) of the value's type in a `where` clause, so an
//!   instantiation that falls short is one error, at its call. A method's
//!   return type may be `Self`.
//!
//! A macro sees tokens, not types, so "type" in `hash_funcs` means the type
//! *as written*: type aliases and `use` renames are not resolved, and
//! `Option` and `Vec` are recognized by name. An entry matches a parameter
//! whose written path ends with the entry's path, generic arguments included
//! (spacing and a leading `::` aside): `Connection` matches `Connection` and
//! `db::Connection`; `db::Connection` matches `crate::db::Connection` but not
//! `Connection`; `Frame<f64>` matches neither `Frame` nor `Frame<f32>`. When
//! several entries match, the longest path wins.
//!
//! # Hashing
//!
//! Keys are compared by their exact bytes; the 64-bit xxh3 hash, seeded once per
//! process from the OS random source, only picks the bucket. Two different
//! argument values therefore never share an entry, even if an attacker chooses
//! them to collide. Floats are keyed by their bits (`0.0` and `-0.0` differ, a
//! NaN matches the same NaN).
//!
//! Keys are canonical: the entries of every map, and of every `HashSet`,
//! `BTreeSet` or `IndexSet`, are ordered by their encoded bytes, so two equal
//! `HashMap`s built in different orders or with different capacities are the
//! same key (Streamlit hashes a dict in insertion order, so equal dicts miss).
//!
//! A key longer than 256 bytes (a large slice, a long string) is stored and
//! compared as the BLAKE3-256 digest of its bytes, computed while they are
//! written (a `&[u8]`, `&[f64]`, `&[f32]`, `&str` or `String` argument, or a
//! `Vec` of those numbers, is streamed into it in 64 KiB chunks, never
//! buffered whole; other types are encoded whole first): an entry's memory
//! stays bounded, two different arguments still never share an entry (that
//! would take a BLAKE3 collision), and the digest is the same in every
//! process, so the disk and Redis tiers find it again.
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
//! - `max_size` (`cache_data` only): at most this many bytes of values in
//!   memory, the least recently used going first. An integer is bytes; a
//!   string needs a unit, all powers of 1024 as in Streamlit (`"256MiB"`,
//!   `"2gb"`, `"1.5 KB"`, fractions rounded down). A value weighs its
//!   serialized (postcard) size, so it must be `Serialize`, or what
//!   `size_with = path` (`fn(&T) -> usize`) says. A single value heavier
//!   than `max_size` is still stored, alone (a warning is logged once). It
//!   bounds memory only: a `persist` tier keeps what memory evicts.
//!   [`Stats::evicted`] counts evictions by reason.
//!
//! ```
//! use cache_runtime::cache_data;
//!
//! /// Frames of a video, at most 64 KiB of them in memory.
//! #[cache_data(max_size = "64KiB")]
//! fn frame(index: u32) -> Vec<u8> {
//!     vec![index as u8; 1024]
//! }
//!
//! #[derive(Clone)]
//! struct Image {
//!     pixels: Vec<u32>,
//! }
//!
//! fn image_bytes(image: &Image) -> usize {
//!     image.pixels.len() * 4
//! }
//!
//! /// Not `Serialize`: weighed by `image_bytes`.
//! #[cache_data(max_size = 8 * 1024, size_with = image_bytes)]
//! fn thumbnail(id: u32) -> Image {
//!     Image { pixels: vec![id; 1024] }
//! }
//!
//! for index in 0..100 {
//!     frame(index);
//! }
//! let stats = frame::stats();
//! assert!(stats.entries <= 64, "each frame weighs 1 KiB and a few bytes");
//! assert!(stats.evicted.max_size >= 36);
//! thumbnail(1);
//! thumbnail(2);
//! thumbnail(3); // 4 KiB each: the least recently used goes
//! assert_eq!(thumbnail::stats().entries, 2);
//! ```
//!
//! - The process-wide memory budget (Streamlit's `server.maxCacheDataSize`):
//!   `CACHE_RUNTIME_MAX_MEMORY=2GiB` (units as `max_size`; `0` or unset: no
//!   budget), or [`budget::set_max_memory`] before the first cached call,
//!   bounds the weights of all in-memory `cache_data` entries together:
//!   after each store they fit it again, the least recently used entries
//!   of any function going first ([`Stats::evicted`]`.budget`). A value
//!   weighs what its `size_with` says (`size_with` alone, without
//!   `max_size`, weighs for the budget only), else its serialized size;
//!   a value that is not `Serialize` is not counted. Persistent tiers and
//!   `cache_resource` values are not counted (as in Streamlit). See
//!   [`budget`] for how recency is kept.
//! - `refresh_mode = "background"` (with a `ttl`; not with `persist`):
//!   between the `ttl` and the hard deadline the stale value is returned at
//!   once and at most one refresh per key runs on a bounded pool
//!   ([`refresh::workers`], 4 by default; a saturated pool skips rather than
//!   queues); past the hard deadline the call waits for a fresh value. The
//!   hard deadline is the `ttl` plus `max_stale` (a duration like `ttl`; by
//!   default one more `ttl`, Streamlit's `2 × ttl`). A refresh that returns
//!   `Err` or panics keeps the stale value, logs a warning and rests the key
//!   for [`refresh::COOLDOWN`]; a clear or invalidate during a refresh wins.
//!   A resource's replaced value is released (`on_release`). The refresh
//!   keeps its own copy of the arguments (`&T` by `ToOwned`, owned ones by
//!   `Clone`), made only on a miss or a refresh; `async fn` works too (see
//!   [`refresh::set_async_spawner`] for a body that needs tokio's reactor).
//!   Such calls are [`Outcome::Stale`] in a [`trace`] and counted in
//!   [`Stats::stale_hits`] and [`Stats::refreshes`].
//!
//! ```
//! use cache_runtime::cache_data;
//! # use std::{thread::sleep, time::Duration};
//!
//! /// Fresh for 100 ms; then served stale (for up to 10 s) while refreshed.
//! #[cache_data(ttl = "100ms", refresh_mode = "background", max_stale = "10s")]
//! fn quote(symbol: &str) -> String {
//!     format!("{symbol}: {}", quote::stats().misses + quote::stats().refreshes.succeeded)
//! }
//!
//! assert_eq!(quote("ACME"), "ACME: 0");
//! sleep(Duration::from_millis(150));
//! assert_eq!(quote("ACME"), "ACME: 0"); // stale, at once; refreshing behind
//! while quote::stats().refreshes.succeeded == 0 {
//!     sleep(Duration::from_millis(5));
//! }
//! assert_eq!(quote("ACME"), "ACME: 1");
//! ```
//!
//! - `show_spinner` / `show_time`: while a miss computes, a terminal shows a
//!   spinner on stderr with Streamlit's text, "Running `load_rows(...)`."
//!   (`()` for a function without arguments), or `show_spinner = "Loading
//!   rows…"`; `show_spinner = false` shows nothing and `show_time = true`
//!   adds the time elapsed (0.1 s precision). Only the outermost miss spins
//!   (a miss nested in another shows nothing, as in Streamlit), only when
//!   stderr is a terminal (never into a pipe or a log), and the line is
//!   erased when the call returns. The default `spinner` feature draws it
//!   (with `indicatif`); a server build can leave it out. The same events
//!   reach [`observe::subscribe_computations`], for a web page's progress.
//! - `scope = "session"`: each browser session has entries of its own, and
//!   they go (resources released) when it ends; see [`session`].
//! - `persist`: `"disk"` or `"redis"` keeps values in a persistent tier behind
//!   memory (values need `Serialize + DeserializeOwned`); `"auto"` picks Redis
//!   when a Redis URL is configured, else the disk; any expression evaluating
//!   to a [`Persist`] or `Option<Persist>` picks at run time. Like a `ttl`
//!   expression it is evaluated once, at the first call. See [`persist`].
//! - `name`: the function's identity (default: its module path and name), for
//!   persistent records that should survive moving the function.
//! - `method`: marks an associated function that mentions neither `self` nor
//!   `Self` (see the limitations below).
//! - `trait_impl`: marks a method of a trait impl. Its cache lives inside it
//!   (a trait impl holds the trait's items only), named after its `Self`
//!   type, `my_app::Circle::area`; reach it with [`function`] or
//!   [`clear_function`]. `#[cache_resource]` cannot change such a method's
//!   signature to return an `Arc`: return `Arc<T>` from
//!   `#[cache_data(trait_impl)]` instead, and every caller shares the one value.
//! - `generic`: marks a method of a generic `impl` whose types mention the
//!   impl's parameters, when the macro cannot tell: it recognizes `Self` and
//!   names like `T`, `K` or `V2`, not `Item`.
//! - `crate = path`: where `cache-runtime` is, for a crate that re-exports it
//!   under another name (`crate = my_facade::caching`).
//! - `front = false`: no per-thread front table (see [Performance](#performance)),
//!   for very large values: without one, a removed value is freed by the
//!   removal itself rather than when each thread that hit it next looks.
//!
//! A mistake in the attribute is reported at the offending token and is the
//! only error: the function and its controls are still declared (with the
//! attribute's valid arguments), so its call sites do not fail as well.
//!
//! # Errors and panics
//!
//! A function returning `Result` (including aliases named `Result` such as
//! `io::Result<T>` or `anyhow::Result<T>`) caches only `Ok` values: an `Err`
//! goes to its caller and the next call runs the body again. A panic in the
//! body caches nothing, poisons nothing, and a caller that was waiting for that
//! computation runs the body itself.
//!
//! # Concurrent calls
//!
//! - **One computation per key.** Concurrent callers of one key run the body
//!   once; the others wait and get its result (counted as hits). Callers of
//!   different keys never wait for each other.
//! - **Errors and panics are not shared.** A caller that was waiting on a
//!   computation that returned `Err` or panicked runs the body itself.
//! - **Async callers can be cancelled.** When an async function's parameters
//!   own their values (no `&`, no lifetime), its computation is shared by
//!   every caller of the key and driven by whichever of them is polled:
//!   dropping the caller that started it does not stop it, and if every
//!   caller is dropped it waits, paused, for the next caller of that key to
//!   resume it (Streamlit: "cancelling one waiter does not cancel the shared
//!   computation"). No async runtime is involved, so its future must be
//!   `Send`. A body that borrows its caller's arguments cannot outlive that
//!   caller: if it is dropped, a waiting caller computes instead. A function
//!   that calls itself is always of the second kind.
//! - **A clear always wins.** Once `f::clear()`, `f::invalidate(..)` or a
//!   global clear has returned, no call — on any thread — gets a value whose
//!   computation started before it: a computation in flight during the clear
//!   hands its value to its own caller but stores it nowhere (not in memory,
//!   not in a persistent tier), and callers waiting on it compute again, as
//!   Streamlit's do. An invalidate covers one key only: computations of other
//!   keys go on and are stored.
//! - **Recursion.** A function that calls itself with the *same* arguments
//!   panics with a message saying so instead of waiting for itself forever;
//!   recursion on different arguments (Fibonacci, dynamic programming) works.
//! - **Expiry.** A `ttl` counts from the write. A value loaded from a
//!   persistent tier expires in memory at its record's deadline, not a full
//!   `ttl` after it was loaded.
//! - **Copies.** Values are stored behind an `Arc`: a `cache_data` miss makes
//!   at most one deep copy (the caller's), a hit exactly one, and a
//!   `cache_resource` call none.
//!
//! # Performance
//!
//! A hit is the product: measured side by side by the `hit_path` benchmark,
//! a `u64` hit costs about a third of the `cached` crate's (`max_size`) on
//! one thread and a tenth on two, a `(&str, u32)` hit about two thirds on
//! one thread and a fifth on two, and a zero-argument `cache_resource` about
//! as much as cloning a `LazyLock<Arc<T>>` — against 25–95 µs for
//! Streamlit's `st.cache_data` (by machine and load). The README has the
//! numbers.
//! How:
//!
//! - **A front table per thread.** moka stays the store of record (bound,
//!   expiry, eviction, single flight), but its `get` costs ~600 instructions.
//!   Each thread keeps, per function, a small table of the entries it hit,
//!   checked on every hit against the entry itself: the exact key,
//!   whether moka still holds it (the eviction listener marks it gone), the
//!   cache's clear epoch, and its deadline. A bounded cache learns of front hits
//!   (for LRU) before this thread's next miss inserts, and every 16 front hits
//!   per pending entry otherwise.
//! - **Arguments packed into one word.** When every key argument is an
//!   integer, `bool` or `char` (as written) and they fit in 64 bits, a hit
//!   finds its entry by the packed word and writes no key bytes at all, and
//!   moka keys the entry by that word (as raw moka keys a `u64`).
//! - **A function without arguments** keeps its entry in a `thread_local!`
//!   of its own, so its hit is about the cost of cloning a
//!   `LazyLock<Arc<T>>`.
//! - **Direct key writers** for strings, integers and byte or float slices
//!   produce postcard's exact bytes without serde, into the thread's front
//!   table.
//! - **A coarse clock** for `ttl` checks: exact at the deadline, ~10 ns
//!   instead of ~40 (see the clock's notes on its margin).
//! - **Per-thread hit counters**, summed by `stats()`.
//!
//! What a hit cannot avoid is one hash (or word), one probe and one clone of
//! the value. Two costs remain by design: a removed value is freed when each
//! thread that holds it in its front table next looks (or sweeps; opt out
//! with `front = false`); and an entry costs ~1.1× raw moka's memory (one
//! 32-byte allocation per entry, which the front table's liveness check
//! needs).
//!
//! # Where a value came from
//!
//! With a [`tracing`](https://docs.rs/tracing) subscriber, each computation
//! (a miss, or a background refresh) is a `cache.compute` span with fields
//! `function`, `refresh` and `outcome` (`ok`, `error` or `abandoned`), nested
//! as the calls are (also across `.await`), and each hit a TRACE event
//! `cache.hit` with its `function`.
//!
//! [`trace`] runs a closure and returns, with its result, a [`CallRecord`] for
//! every cached call made while it ran on this thread (nested calls included,
//! other threads' calls never): the function, its [`Outcome`] (`Hit`, `Miss`,
//! `Disk`, `Redis`, `Uncached`, …) and how long it took. [`trace_async`] does
//! the same for a future. Both are observers of one event source,
//! [`observe`], which other reporting (a spinner, metrics, a dashboard's
//! banner) subscribes to as well.
//!
//! ```
//! use cache_runtime::{cache_data, trace, Outcome};
//!
//! #[cache_data]
//! fn rows(table: &str) -> Vec<String> {
//!     vec![format!("{table}-1")]
//! }
//!
//! #[cache_data]
//! fn report(table: &str) -> usize {
//!     rows(table).len()
//! }
//!
//! let (_, calls) = trace(|| report("users"));
//! let seen: Vec<_> = calls.iter().map(|c| (c.function.rsplit("::").next().unwrap(), c.outcome)).collect();
//! assert_eq!(seen, [("rows", Outcome::Miss), ("report", Outcome::Miss)]);
//!
//! let (_, calls) = trace(|| report("users"));
//! assert_eq!(calls[0].outcome, Outcome::Hit);
//! ```
//!
//! # Clearing and inspecting
//!
//! Each cached function gets a companion handle with its own name:
//!
//! - `f::clear()` removes every entry, `f::invalidate(args…)` the entry for
//!   those arguments (the key arguments only, in order), `f::stats()` returns
//!   its [`Stats`].
//! - `f::warm(args…)` (all of the function's arguments) computes and stores
//!   the entry for those arguments without returning it, if it is not cached
//!   yet: warm a cache at start-up, off the request path (an `async fn`'s
//!   `warm` is awaited; a `Result` function's returns its error, storing
//!   nothing, as a call would).
//! - Methods, where no such handle can live, get `Self::f_cache_clear()`,
//!   `self.f_cache_invalidate(args…)`, `self.f_cache_warm(args…)` and
//!   `Self::f_cache_stats()`. Methods of trait impls, which can get nothing
//!   beside them, are reached by name: [`function`] returns a
//!   [`CachedFunction`] handle (`clear()`, `stats()`, `info()`).
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
//! - An async function whose arguments own their values must have a `Send`
//!   body (its shared computation may be finished by another thread); take a
//!   borrowed argument (`&T`) to opt into the caller-driven kind instead.
//! - The macro sees only the function, not the `impl` around it. It treats a
//!   function with a `self` receiver or a mention of `Self` as a method. An
//!   associated function with neither (`fn connect(url: &str) -> Pool` inside
//!   `impl Db`) needs the `method` flag, `#[cache_data(method)]`, so that its
//!   controls are generated as associated functions (`Db::connect_cache_clear()`)
//!   rather than as a companion type, which cannot live in an `impl`.
//!   For the same reason a method of a trait impl needs the `trait_impl`
//!   flag (without it, the generated controls are reported as not members
//!   of the trait), and a method of a generic `impl` whose parameter is not
//!   named like one (`impl<Item> Queue<Item>`) needs `generic` (without it,
//!   the compiler reports a generic parameter used from an outer item).
//! - Const generics are rejected: a cache is found by its types'
//!   `TypeId`s, and const arguments have none; pass the value as an
//!   ordinary argument.
//! - Type parameters on a method of a trait impl are rejected: each
//!   instantiation's cache needs them `'static`, and an impl cannot add a
//!   bound the trait does not have. Cache a generic free function and call
//!   it from the method.
//! - A generic function's hit, or a method's whose cache is found at run
//!   time (generic, of a generic or trait impl, or returning `Self`), also
//!   finds its instantiation's cache: two compares and a downcast for the
//!   first instantiation made, a read lock for the others; and a function
//!   without arguments among them goes through the front table rather
//!   than its own thread-local entry.
//!
//! # How the crate is built
//!
//! Layers, bottom to top; each module imports only from the layers below it
//! (moka's `common/` under `sync/` and `future/` is the model):
//!
//! ```text
//!  lib.rs  metrics   global clears (memory + persistent tiers), re-exports, metrics
//!  data   resource   the two macros' caches: compose engine, front and persist
//!  engine  persist/  lookup → single flight → compute  |  disk and Redis tiers
//!  refresh           background refreshes: stale serving, the bounded pool
//!  front             per-thread front tables of moka's entries
//!  core              moka store of entries (by key or word), flights, clear epoch
//!  budget            the process-wide memory budget's ledger of entries
//!  registry          the list of cached functions, per-kind clears
//!  config  key  canonical  clock  stats  observe  reentrancy  scope   shared vocabulary
//! ```
//!
//! A function's configuration (its `ttl`, `max_entries`, `max_size`, refresh
//! mode and tier)
//! is resolved once, at its first call, and passed down from the core.
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
//! - `refresh_mode = "background"` works on `async fn` (Streamlit rejects
//!   it, #16800), its stale window is set per function with `max_stale`
//!   (Streamlit: a process-wide multiplier; users asked for this, #17009),
//!   and a refresh's failure is not counted as a caller's error.
//! - `max_size` and the memory budget weigh a value by its postcard encoding
//!   (Streamlit: pickled bytes), or by a `size_with` function for values
//!   that are not `Serialize`. `max_size` cannot be combined with
//!   `max_entries` (a compile error): moka bounds a cache by one measure.
//! - Equal maps and sets are equal keys, whatever their insertion order.
//! - `scope = "session"`: a function's bounds apply to it as a whole, across
//!   sessions (Streamlit: per session), and a session is an HTTP session
//!   that ends when it is ended or expires idle, not when a tab disconnects
//!   (a reload keeps its entries); see [`session`].
//! - A clear also discards a computation in flight in another process sharing
//!   the Redis tier: its record is refused once any process cleared the
//!   function or invalidated the key (per-function and per-key generations).

pub mod budget;
mod canonical;
mod clock;
mod config;
mod core;
mod data;
mod engine;
mod family;
mod front;
mod key;
pub mod metrics;
pub mod observe;
pub mod persist;
mod reentrancy;
pub mod refresh;
mod registry;
mod resource;
mod scope;
mod solo;
mod spinner;
mod stats;

#[doc(hidden)]
pub mod private;

#[doc(hidden)]
pub use private as __private;

#[doc(inline)]
pub use cache_macros::{cache_data, cache_resource};

pub use config::{Kind, Persist, Scope, Spinner};
pub use observe::{CallRecord, Outcome, trace, trace_async};
pub use registry::{CachedFunction, FunctionInfo, clear_function, function, functions};
pub use stats::{COMPUTE_BUCKETS, ComputeTimes, Evictions, Refreshes, Stats};

/// Clears every `#[cache_data]` and `#[cache_resource]` cache, and every
/// persistent record (`st.cache_data.clear()` + `st.cache_resource.clear()`).
pub fn clear_all() {
    registry::clear(None);
    persist::clear_all_tiers();
}

pub mod session {
    //! `scope = "session"`: entries kept per browser session.
    //!
    //! A session-scoped function keys its entries to the [`SessionScope`] its
    //! call runs in: under the state crate's `SessionLayer` that is the
    //! request's browser session, with no code of yours (a browser without a
    //! session gets one, its cookie set on that response); elsewhere run code
    //! in a scope with [`SessionScope::run`] / [`SessionScope::run_async`], and
    //! give a task spawned for a request its scope with
    //! [`InSessionExt::in_current_session`]. A call outside every session
    //! panics, with a message that says how to fix it (Streamlit raises).
    //!
    //! - `f::clear()` in a session clears that session's entries only; outside
    //!   every session it clears every session's. The global clears
    //!   ([`crate::clear_all`], [`crate::cache_data::clear`],
    //!   [`crate::cache_resource::clear`]) clear every session.
    //! - When a session ends ([`end_session`]; the state crate calls it from
    //!   `Session::end` and the store's idle expiry), its entries are dropped
    //!   and `on_release` runs for each of its resources, once.
    //!
    //! ```
    //! use cache_runtime::cache_resource;
    //! use cache_runtime::session::{SessionScope, end_session};
    //! # use std::sync::atomic::{AtomicUsize, Ordering};
    //! # static CLOSED: AtomicUsize = AtomicUsize::new(0);
    //!
    //! struct Conn { user: String }
    //! fn close(_: &Conn) { CLOSED.fetch_add(1, Ordering::SeqCst); }
    //!
    //! /// One connection per user and session, closed when the session ends.
    //! #[cache_resource(scope = "session", on_release = close)]
    //! fn connection(user: &str) -> Conn {
    //!     Conn { user: user.to_owned() }
    //! }
    //!
    //! let tab = SessionScope::new("tab-1");
    //! let conn = tab.run(|| connection("ann"));
    //! assert!(tab.run(|| std::sync::Arc::ptr_eq(&conn, &connection("ann"))));
    //! end_session("tab-1");
    //! assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
    //! ```
    //!
    //! **Where we differ from Streamlit.** A function's `ttl`, `max_entries`
    //! and `max_size` bound it as a whole, across its sessions (Streamlit: per
    //! session), so its memory does not grow with the number of sessions (one
    //! busy session can evict another's entries); its `stats()` count every
    //! session's calls. A session is the state crate's HTTP session: it ends
    //! when it is ended or expires idle, not when a WebSocket disconnects, so a
    //! reload keeps its entries (Streamlit: a reload is a new session, and a
    //! flaky network empties its caches). `scope = "session"` cannot be
    //! combined with `persist` (a compile error; Streamlit silently shares the
    //! files between sessions). Ending a session walks each session-scoped
    //! function's entries once.

    pub use crate::scope::{InSession, InSessionExt, SessionScope};

    /// Ends the session `id`: every session-scoped function drops its
    /// entries for it and its computations in flight (they still return
    /// their value to their caller, and store it nowhere), and `on_release`
    /// runs for each of its resources, once. The state crate calls it when
    /// a session ends; call it yourself for sessions you scope by hand.
    pub fn end_session(id: &str) {
        crate::registry::end_session(&crate::scope::prefix_of(id));
    }
}

/// Operations on every `#[cache_data]` function at once (`st.cache_data`).
pub mod cache_data {
    use crate::config::Kind;
    use crate::registry::{self, FunctionInfo};

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
    use crate::config::Kind;
    use crate::registry::{self, FunctionInfo};

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
