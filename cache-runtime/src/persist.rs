//! Persistent tiers behind the in-memory cache: `#[cache_data(persist = "disk")]`
//! keeps values in a folder that survives restarts, `persist = "redis"` shares
//! them between processes and replicas.
//!
//! # Tiers
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
//! a panic and never a wrong value.
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
//! # Redis
//!
//! Behind the `redis` cargo feature. Records live under
//! `{prefix}{function id}:{key digest}` with a Redis expiry equal to the `ttl`.
//! `f::clear()`, `f::invalidate(..)` and `cache_data::clear()` delete the
//! records and publish an event on `{prefix}events`; every process sharing the
//! Redis drops the matching entries from its in-memory tier as soon as the
//! event arrives (milliseconds on a healthy network). While a process's event
//! subscription is down it reconnects every second, and its memory tier can
//! serve a cleared value until the subscription is back or the entry's `ttl`
//! passes: give shared functions a `ttl`.
//!
//! Concurrent misses across processes: the first replica to miss takes a lock
//! (`SET NX PX`, 30 s) and computes; the others poll for its record every 20 ms
//! for up to [`Settings::lock_wait`], then compute themselves. So a key is
//! computed once across replicas unless the computation outlasts the wait.
//!
//! Every Redis operation has a timeout ([`Settings::redis_timeout`]); after a
//! failure Redis is skipped for one second, the call computes locally, and the
//! failure is logged and counted. A cache outage never becomes an application
//! outage.

mod disk;
mod record;
#[cfg(feature = "redis")]
mod redis;

use std::path::PathBuf;
use std::sync::OnceLock;
#[cfg(feature = "redis")]
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::{Produced, Tier};
use crate::key::Key;
#[cfg(feature = "redis")]
use crate::registry;
use crate::store::{Identity, View};

pub(crate) use disk::Disk;

/// Where persistent tiers keep their data. See the [module docs](self).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// The disk tier's folder.
    pub dir: PathBuf,
    /// The disk tier's size bound, in bytes.
    pub disk_max_bytes: u64,
    /// The Redis URL, e.g. `redis://127.0.0.1:6379/`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this crate writes.
    pub redis_prefix: String,
    /// Timeout of each Redis operation (and of connecting).
    pub redis_timeout: Duration,
    /// How long a replica waits for another replica's computation of the same key.
    pub lock_wait: Duration,
    /// How long a replica's computation lock lives if it never releases it.
    pub lock_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            dir: default_dir(),
            disk_max_bytes: 1 << 30,
            redis_url: None,
            redis_prefix: "cache-runtime:".into(),
            redis_timeout: Duration::from_millis(250),
            lock_wait: Duration::from_secs(5),
            lock_ttl: Duration::from_secs(30),
        }
    }
}

fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    base.unwrap_or_else(|| PathBuf::from(".cache"))
        .join("cache-runtime")
}

impl Settings {
    /// The defaults, overridden by the `CACHE_RUNTIME_*` environment variables.
    /// An unparsable value is logged and ignored.
    pub fn from_env() -> Self {
        let mut settings = Self::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let number = |name: &str| {
            var(name).and_then(|text| match text.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    tracing::warn!(
                        variable = name,
                        value = text,
                        "not a whole number; using the default"
                    );
                    None
                }
            })
        };
        if let Some(dir) = var("CACHE_RUNTIME_DIR") {
            settings.dir = dir.into();
        }
        if let Some(bytes) = number("CACHE_RUNTIME_DISK_MAX_BYTES") {
            settings.disk_max_bytes = bytes;
        }
        settings.redis_url = var("CACHE_RUNTIME_REDIS_URL");
        if let Some(prefix) = var("CACHE_RUNTIME_REDIS_PREFIX") {
            settings.redis_prefix = prefix;
        }
        if let Some(ms) = number("CACHE_RUNTIME_REDIS_TIMEOUT_MS") {
            settings.redis_timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = number("CACHE_RUNTIME_LOCK_WAIT_MS") {
            settings.lock_wait = Duration::from_millis(ms);
        }
        settings
    }

    /// Sets [`Settings::dir`].
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// Sets [`Settings::disk_max_bytes`].
    pub fn disk_max_bytes(mut self, bytes: u64) -> Self {
        self.disk_max_bytes = bytes;
        self
    }

    /// Sets [`Settings::redis_url`].
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// Sets [`Settings::redis_prefix`].
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_prefix = prefix.into();
        self
    }

    /// Sets [`Settings::redis_timeout`].
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// Sets [`Settings::lock_wait`].
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// [`configure`] was called after the settings were already fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyConfigured;

impl std::fmt::Display for AlreadyConfigured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the persistent tiers were already configured, by an earlier `configure` or by a first \
             persistent call (which reads the environment); call `configure` once at start-up",
        )
    }
}

impl std::error::Error for AlreadyConfigured {}

/// Sets where the persistent tiers live. Call it once at start-up, before the
/// first persistent call.
///
/// # Errors
/// [`AlreadyConfigured`] when the settings were already fixed; the earlier
/// settings stay in force.
pub fn configure(settings: Settings) -> Result<(), AlreadyConfigured> {
    let mut offered = Some(settings);
    SETTINGS.get_or_init(|| offered.take().expect("taken once"));
    if offered.is_none() {
        Ok(())
    } else {
        Err(AlreadyConfigured)
    }
}

/// The settings in force (from the environment if [`configure`] was not called).
pub fn settings() -> &'static Settings {
    SETTINGS.get_or_init(Settings::from_env)
}

fn disk() -> &'static Disk {
    static DISK: OnceLock<Disk> = OnceLock::new();
    DISK.get_or_init(|| {
        let settings = settings();
        Disk::new(settings.dir.clone(), settings.disk_max_bytes)
    })
}

#[cfg(feature = "redis")]
fn redis_tier() -> Option<&'static redis::RedisTier> {
    static REDIS: OnceLock<Option<redis::RedisTier>> = OnceLock::new();
    REDIS
        .get_or_init(|| {
            let settings = settings();
            let url = settings.redis_url.as_deref()?;
            match redis::RedisTier::new(url, settings.redis_prefix.clone(), settings.redis_timeout, settings.lock_wait) {
                Ok(tier) => {
                    tier.listen(apply_event);
                    Some(tier)
                }
                Err(error) => {
                    tracing::error!(%error, url, "invalid Redis URL; `persist = \"redis\"` stays in memory");
                    None
                }
            }
        })
        .as_ref()
}

#[cfg(feature = "redis")]
fn apply_event(event: redis::Event) {
    match event {
        redis::Event::Clear(function) => registry::each(|cache| {
            if cache.persist_id() == function {
                cache.clear_memory();
            }
        }),
        redis::Event::Invalidate(function, key) => {
            let key = crate::key::key_from_bytes(&key);
            registry::each(|cache| {
                if cache.persist_id() == function {
                    cache.invalidate_memory(&key);
                }
            });
        }
        redis::Event::ClearAll => registry::each(|cache| {
            if cache.kind() == registry::Kind::Data {
                cache.clear_memory();
            }
        }),
    }
}

/// Which persistent tier a function uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persist {
    /// A folder on this machine.
    Disk,
    /// A Redis server shared by several processes (the `redis` feature).
    #[cfg(feature = "redis")]
    Redis,
}

/// Checked for the value of a `persist` function.
#[diagnostic::on_unimplemented(
    message = "`persist` stores `{Self}` outside the process, so it must implement `Serialize` and `DeserializeOwned`",
    label = "this value is written to the persistent tier",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it, or remove `persist` to cache in memory only"
)]
pub trait PersistValue: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> PersistValue for T {}

/// How a persistent function's values are written and read back.
#[derive(Debug)]
pub struct Persistence<V> {
    tier: Persist,
    encode: fn(&V) -> Result<Vec<u8>, postcard::Error>,
    decode: fn(&[u8]) -> Result<V, postcard::Error>,
}

impl<V> Persistence<V> {
    /// The tier this function persists to.
    pub fn tier(&self) -> Persist {
        self.tier
    }
}

impl<V: PersistValue> Persistence<V> {
    /// Postcard encoding in `tier`.
    pub const fn postcard(tier: Persist) -> Self {
        Self {
            tier,
            encode: |value| postcard::to_allocvec(value),
            decode: |bytes| postcard::from_bytes(bytes),
        }
    }
}

/// One of the tiers, resolved.
#[derive(Clone, Copy)]
enum Backend {
    Disk(&'static Disk),
    #[cfg(feature = "redis")]
    Redis(&'static redis::RedisTier),
}

/// A lock held while computing (Redis only; empty for the disk).
#[derive(Default)]
struct Held {
    #[cfg(feature = "redis")]
    lock: Option<redis::Lock>,
}

enum Start {
    Found(Vec<u8>),
    Compute(Held),
}

impl Backend {
    fn tier(self) -> Tier {
        match self {
            Backend::Disk(_) => Tier::Disk,
            #[cfg(feature = "redis")]
            Backend::Redis(_) => Tier::Redis,
        }
    }

    fn start(self, function: u64, key: &Key) -> Result<Start, String> {
        match self {
            Backend::Disk(disk) => match disk.read(function, key) {
                Ok(Some(record)) => Ok(Start::Found(record)),
                Ok(None) => Ok(Start::Compute(Held::default())),
                Err(error) => Err(format!("reading {}: {error}", disk.dir().display())),
            },
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => match tier.begin(function, key, settings().lock_ttl) {
                Ok(redis::Begin::Found(record)) => Ok(Start::Found(record)),
                Ok(redis::Begin::Compute(lock)) => Ok(Start::Compute(Held { lock })),
                Err(error) => Err(error.to_string()),
            },
        }
    }

    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    fn finish(
        self,
        function: u64,
        key: &Key,
        record: Option<&[u8]>,
        ttl: Option<Duration>,
        held: Held,
    ) -> Result<(), String> {
        match self {
            Backend::Disk(disk) => match record {
                Some(record) => disk
                    .write(function, key, record)
                    .map_err(|error| format!("writing {}: {error}", disk.dir().display())),
                None => Ok(()),
            },
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => tier
                .finish(function, key, record, ttl, held.lock)
                .map_err(|error| error.to_string()),
        }
    }

    fn remove(self, function: u64, key: &Key) -> Result<(), String> {
        match self {
            Backend::Disk(disk) => {
                disk.remove(function, key);
                Ok(())
            }
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => tier
                .remove(function, key)
                .map_err(|error| error.to_string()),
        }
    }

    fn clear(self, function: u64) -> Result<(), String> {
        match self {
            Backend::Disk(disk) => disk
                .clear_function(function)
                .map_err(|error| error.to_string()),
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => tier
                .clear_function(function)
                .map_err(|error| error.to_string()),
        }
    }
}

fn backend(tier: Persist) -> Option<Backend> {
    match tier {
        Persist::Disk => Some(Backend::Disk(disk())),
        #[cfg(feature = "redis")]
        Persist::Redis => {
            let found = redis_tier().map(Backend::Redis);
            if found.is_none() {
                static WARNED: AtomicBool = AtomicBool::new(false);
                if !WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "`persist = \"redis\"` but no Redis is configured (CACHE_RUNTIME_REDIS_URL or \
                         `persist::configure`); caching in memory only"
                    );
                }
            }
            found
        }
    }
}

/// Removes every record of every function from the disk tier and, when
/// configured, the Redis tier (telling the other processes).
pub(crate) fn clear_all_tiers() {
    if let Err(error) = disk().clear_all() {
        tracing::warn!(%error, "could not clear the disk cache");
    }
    #[cfg(feature = "redis")]
    if let Some(tier) = redis_tier()
        && let Err(error) = tier.clear_all()
    {
        tracing::warn!(%error, "could not clear the Redis cache");
    }
}

/// A function's id in the persistent tiers: its path and code hash.
pub(crate) fn persist_id(identity: &Identity) -> u64 {
    let mut bytes = identity.name.as_bytes().to_vec();
    bytes.extend_from_slice(&identity.code_hash.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

impl<V: Clone + Send + Sync + 'static> Persistence<V> {
    fn fail(&self, view: &View<'_>, what: &str, error: &dyn std::fmt::Display) {
        view.counters.persist_error();
        tracing::warn!(function = view.identity.name, tier = ?self.tier, %error, "{what}; computing instead");
    }

    /// Decodes a found record, removing it if it is not a valid record of this key.
    fn open(&self, view: &View<'_>, backend: Backend, key: &Key, record: &[u8]) -> Option<V> {
        let decoded = record::decode(record, view.identity, key)
            .map_err(|refused| (refused == record::Refused::Expired, refused.to_string()))
            .and_then(|value| {
                (self.decode)(value).map_err(|error| (false, format!("undecodable value: {error}")))
            });
        match decoded {
            Ok(value) => Some(value),
            Err((expired, why)) => {
                if expired {
                    tracing::debug!(function = view.identity.name, "persistent record expired");
                } else {
                    self.fail(view, "refused a persistent record", &why);
                }
                let _ = backend.remove(persist_id(view.identity), key);
                None
            }
        }
    }

    fn encode(&self, view: &View<'_>, key: &Key, value: &V) -> Option<Vec<u8>> {
        match (self.encode)(value) {
            Ok(bytes) => Some(record::encode(view.identity, key, &bytes, view.ttl)),
            Err(error) => {
                self.fail(view, "could not encode the value", &error);
                None
            }
        }
    }

    /// The sync miss path: the tier's record, or the body's value written back.
    pub(crate) fn produce<E>(
        &self,
        view: View<'_>,
        key: Option<&Key>,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Produced<V, E> {
        let (Some(key), Some(backend)) = (key, backend(self.tier)) else {
            return Produced::Computed(compute());
        };
        let function = persist_id(view.identity);
        let held = match backend.start(function, key) {
            Ok(Start::Found(record)) => match self.open(&view, backend, key, &record) {
                Some(value) => return Produced::Loaded(value, backend.tier()),
                None => Held::default(),
            },
            Ok(Start::Compute(held)) => held,
            Err(error) => {
                self.fail(&view, "persistent tier unavailable", &error);
                return Produced::Computed(compute());
            }
        };
        let outcome = compute();
        let record = outcome
            .as_ref()
            .ok()
            .and_then(|value| self.encode(&view, key, value));
        match backend.finish(function, key, record.as_deref(), view.ttl, held) {
            Ok(()) => view.counters.written(record.map_or(0, |r| r.len() as u64)),
            Err(error) => self.fail(&view, "could not store the value", &error),
        }
        Produced::Computed(outcome)
    }

    /// The async miss path: tier I/O runs on a blocking thread pool, so no
    /// executor thread waits on the disk or the network.
    pub(crate) async fn produce_async<E, Fut: std::future::Future<Output = Result<V, E>>>(
        &self,
        view: View<'_>,
        key: Option<Key>,
        compute: impl FnOnce() -> Fut,
    ) -> Produced<V, E> {
        let (Some(key), Some(backend)) = (key, backend(self.tier)) else {
            return Produced::Computed(compute().await);
        };
        let function = persist_id(view.identity);
        let started = {
            let key = key.clone();
            blocking::unblock(move || backend.start(function, &key)).await
        };
        let held = match started {
            Ok(Start::Found(record)) => match self.open(&view, backend, &key, &record) {
                Some(value) => return Produced::Loaded(value, backend.tier()),
                None => Held::default(),
            },
            Ok(Start::Compute(held)) => held,
            Err(error) => {
                self.fail(&view, "persistent tier unavailable", &error);
                return Produced::Computed(compute().await);
            }
        };
        let outcome = compute().await;
        let record = outcome
            .as_ref()
            .ok()
            .and_then(|value| self.encode(&view, &key, value));
        let ttl = view.ttl;
        let written = record.as_ref().map_or(0, |r| r.len() as u64);
        let finished =
            blocking::unblock(move || backend.finish(function, &key, record.as_deref(), ttl, held))
                .await;
        match finished {
            Ok(()) => view.counters.written(written),
            Err(error) => self.fail(&view, "could not store the value", &error),
        }
        Produced::Computed(outcome)
    }

    /// Removes every record of this function from its tier.
    pub(crate) fn clear(&self, identity: &Identity) {
        if let Some(backend) = backend(self.tier)
            && let Err(error) = backend.clear(persist_id(identity))
        {
            tracing::warn!(function = identity.name, %error, "could not clear the persistent tier");
        }
    }

    /// Removes one record from this function's tier.
    pub(crate) fn invalidate(&self, identity: &Identity, key: &Key) {
        if let Some(backend) = backend(self.tier)
            && let Err(error) = backend.remove(persist_id(identity), key)
        {
            tracing::warn!(function = identity.name, %error, "could not invalidate the persistent tier");
        }
    }
}
