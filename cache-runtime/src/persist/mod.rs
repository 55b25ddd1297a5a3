//! Persistent tiers behind the in-memory cache: `#[cache_data(persist = "disk")]`
//! keeps values in a folder that survives restarts, `persist = "redis"` shares
//! them between processes and replicas.
//!
//! # Tiers
//!
//! The tier is chosen by `persist = "disk"`, `"redis"`, `"auto"` (Redis when
//! a Redis URL is configured, else the disk) or any expression evaluating to
//! a [`Persist`] or an `Option<Persist>` (`None`: memory only), resolved once
//! at the function's first call.
//!
//! A call looks in memory first (moka, as without `persist`). A memory miss
//! looks in the persistent tier before running the body; a computed value goes
//! to both. Values are encoded with postcard, so they need `Serialize +
//! DeserializeOwned`. Each stored record carries the function's identity (its
//! path and a hash of its tokens: an edited body never reads old records), the
//! exact key bytes (a digest collision can never return another key's value),
//! its write time and its expiry, and a checksum. A record that is truncated,
//! corrupted, foreign, of another key or past its `ttl` is removed and treated
//! as a miss — logged, counted in [`Stats::persist_errors`](crate::Stats), never
//! a panic and never a wrong value. Other bad data under the Redis prefix is
//! handled too: a key of another Redis type where a record goes is a miss
//! (then overwritten), generation counters that are not counters are
//! replaced by the next clear (which never fails on them), a key where a
//! computation lock goes that has no expiry (every lock has one) is removed
//! rather than waited on (logged the first time), and malformed events are
//! ignored (logged the first time).
//!
//! A record's identity is its function's path and tokens, not its value
//! type's definition: after a struct's fields change elsewhere, a record
//! that no longer decodes is a miss, but one whose bytes happen to decode
//! as the new layout would be served. Change the function's `name` (or its
//! body) when its value type's layout changes.
//!
//! # Configuration
//!
//! Call [`configure`] once at start-up, before the first persistent call, or
//! set environment variables (read on first use when `configure` was not
//! called):
//!
//! | setting | variable | default |
//! |---|---|---|
//! | [`Settings::dir`] | `CACHE_RUNTIME_DIR` | `$XDG_CACHE_HOME/cache-runtime`, else `~/.cache/cache-runtime`, else `./.cache/cache-runtime` |
//! | [`Settings::disk_max_bytes`] | `CACHE_RUNTIME_DISK_MAX_BYTES` | 1 GiB |
//! | [`Settings::redis_url`] | `CACHE_RUNTIME_REDIS_URL` | none: `persist = "redis"` stays in memory and logs a warning once |
//! | [`Settings::redis_prefix`] | `CACHE_RUNTIME_REDIS_PREFIX` | `cache-runtime:` |
//! | [`Settings::redis_timeout`] | `CACHE_RUNTIME_REDIS_TIMEOUT_MS` | 250 ms |
//! | [`Settings::lock_wait`] | `CACHE_RUNTIME_LOCK_WAIT_MS` | 5 s |
//!
//! Large byte blobs: store them as `serde_bytes::ByteBuf` (or a field with
//! `#[serde(with = "serde_bytes")]`); a plain `Vec<u8>` is decoded one element
//! at a time, about three times slower for a 100 MiB value.
//!
//! # Disk
//!
//! One file per entry, `{dir}/{function id}/{key digest}.rec`, written to a
//! temporary file and renamed, so a crash or a concurrent writer never leaves a
//! torn record. The `ttl` is honoured on read (Streamlit ignores it on disk).
//! When the folder grows past `disk_max_bytes`, the oldest records are removed
//! until it is under 90% of the bound. `f::clear()` removes the function's
//! folder; `cache_data::clear()` removes every function's folder.
//!
//! The folder is private to the user: created `0700`, its files `0600`.
//! Since a record in it is loaded as a function's value, a folder another
//! local user could write to is refused, as ssh refuses a loose `~/.ssh`: one
//! that belongs to another user or is writable by its group or by others, one
//! under a directory of another user or a directory writable by others
//! without the sticky bit (`/tmp` has it), or one reached through a symbolic
//! link another user owns. A refused folder is logged once, with the fix,
//! and disk functions cache in memory only. A folder of the user's that
//! others can only read is tightened to `0700`.
//!
//! # Redis
//!
//! Behind the `redis` cargo feature. Records live under
//! `{prefix}{{function id}}:r:{key digest}` with a Redis expiry equal to the
//! `ttl`; beside them, per function, a generation counter (`…:g`), and per
//! key a computation lock (`…:l:…`, with an expiry) and, after an
//! invalidate, the key's generation counter (`…:g:…`, kept an hour). The
//! braces make the function id the key's hash tag: every key of one
//! function is in one slot of a Redis Cluster.
//! `f::clear()`, `f::invalidate(..)` and `cache_data::clear()` delete the
//! records and publish an event on `{prefix}events`; every process sharing the
//! Redis drops the matching entries from its in-memory tier as soon as the
//! event arrives (milliseconds on a healthy network).
//!
//! While a process does not hear the events channel (its subscription
//! dropped, Redis is down or hangs), another process's clear could not reach
//! its memory, so it keeps no Redis-tier value there: its memory tier of
//! every Redis function is emptied as soon as it learns of the outage, calls
//! meanwhile read Redis (or compute, if it is down), and memory keeps values
//! again once it has resubscribed, only values read after that. It learns at
//! once of a closed connection or a failed call to Redis, and within two
//! seconds of a server that hangs (the subscription pings a quiet server
//! every second). It reconnects every second. So no process serves a value
//! cleared elsewhere for longer than that, with or without a `ttl`.
//!
//! # Consistency
//!
//! A value loaded from a tier expires in memory at its record's deadline, not
//! a full `ttl` after it was loaded. A computation that a `clear()` or
//! `invalidate(..)` in this process discarded never writes its record: the
//! write and the tier's clear are ordered by a per-function lock, so a record
//! is either written before the clear (and removed by it) or not at all.
//!
//! Across processes, a clear or invalidate anywhere also discards every
//! computation that began before it, wherever it runs: a computation reads
//! its function's and its key's generation counters when it begins, and its
//! record is written (by a script, atomically) only if they are unchanged.
//! A clear bumps the counter before deleting; a clear of everything bumps
//! every function's counter (found with `SCAN`), then deletes every record.
//! This is stronger than Streamlit, where a computation running during
//! `st.cache_data.clear()` stores its (pre-clear) result afterwards.
//!
//! Concurrent misses across processes: the first replica to miss takes a lock
//! (`SET NX PX`, 30 s) and computes; the others poll for its record every 20 ms
//! for up to [`Settings::lock_wait`], then compute themselves. So a key is
//! computed once across replicas unless the computation outlasts the wait.
//!
//! A miss in memory of a Redis function first reads the key's record with one
//! `GET`, before (and outside) the single flight: a hit costs that read and
//! storing the value in memory, nothing more (about 1.2× a raw `GET` of the
//! same record). Concurrent callers of a key that is in no tier may each
//! read it; only one of them computes, and it claims the key without reading
//! again. A value read this way is kept in memory only if no clear or
//! invalidate ran in this process since the read began. It is not a
//! computation: it reports the outcome `Redis` to [`trace`](crate::trace) and
//! counts as a `redis_hit`, but makes no `cache.compute` span and shows no
//! spinner (a disk load, read under the single flight, does both).
//!
//! # Redis setups
//!
//! - **One server**: `CACHE_RUNTIME_REDIS_URL=redis://host:6379/` (a database
//!   number as the path, `redis://host/2`).
//! - **Secured or managed** (a cloud Redis, one with ACLs):
//!   `rediss://user:password@host:6380/` speaks TLS (rustls, with the `ring`
//!   provider) and logs in as an ACL user (`redis://:password@host/` for
//!   `requirepass` alone). The server's certificate is checked against the
//!   system's roots; for a private CA point `SSL_CERT_FILE` at it. Wrong
//!   credentials are one error in the log (not one per call), counted in
//!   `persist_errors`, and every call computes locally, as in an outage.
//!   The session store takes the same URLs (`state::RedisStore::open`), or a
//!   `redis::Client` built with your certificates.
//! - **From async code**: an `async fn` called on a tokio runtime (with its
//!   IO and time drivers, as `#[tokio::main]` builds it) talks to Redis with
//!   the async client, on one multiplexed connection per process, without a
//!   thread hop; elsewhere (another executor, or a sync function) the tier
//!   uses the sync client, from a blocking thread pool for async calls.
//! - **Redis Cluster**: list the nodes, separated by commas:
//!   `CACHE_RUNTIME_REDIS_URL=redis://10.0.0.1:7000/,redis://10.0.0.2:7000/`
//!   (any of the cluster's nodes; the client learns the others and follows
//!   resharding; a trailing comma makes one seed URL a cluster:
//!   `redis://seed:7000/,`). Each function's keys share a hash tag, so all
//!   of its records, counters and locks live in one slot, and its scripts run
//!   on one node; different functions spread over the masters. Sync calls use
//!   the cluster client, async calls the async cluster client (one per
//!   process). Events go through classic pub/sub, which a cluster carries to
//!   every node: each process subscribes on one node (the next listed one
//!   when that fails). Clears `SCAN` every master. The prefix must not hold
//!   `{` or `}` (it would change the hash tag); TLS and ACL credentials
//!   work as for one server, in each node URL. With a master down, its
//!   functions compute locally (an outage for them) until the cluster fails
//!   over.
//!
//! Every Redis operation has a timeout ([`Settings::redis_timeout`]; on a
//! cluster, a request is retried at most twice, for redirections); after a
//! failure Redis is skipped for one second, the call computes locally, and the
//! failure is logged and counted. A cache outage never becomes an application
//! outage.
//!
//! Upgrading from a version with the previous key layout
//! (`{prefix}{function id}:{key digest}`): the old records are not read (a
//! miss, computed once), and a clear of everything removes them.

mod disk;
mod error;
#[cfg(feature = "redis")]
mod events;
mod folder;
mod miss;
mod record;
#[cfg(feature = "redis")]
mod redis;
mod settings;
mod tiers;
mod value;

pub use crate::config::{IntoPersist, Persist};
pub(crate) use miss::{Peek, Peeked, Site};
pub use settings::{AlreadyConfigured, Settings, configure, settings};
pub(crate) use tiers::{clear_all_tiers, redis_events_heard};
pub use value::{PersistValue, Persistence};
