//! The tier singletons, built from the settings at first use, and one
//! dispatch over them: read a record (or win the right to compute it), write
//! it back, remove it, clear a function or everything.

use std::sync::OnceLock;
#[cfg(feature = "redis")]
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::disk::{Disk, Generations};
use super::error::TierError;
use super::folder;
#[cfg(feature = "redis")]
use super::redis;
use super::settings::settings;
use crate::config::{Persist, Tier};
use crate::key::Key;

/// The disk tier; `None` when its folder is refused (another user could
/// read or plant records there, see `folder`), which keeps disk functions
/// in memory only, with one warning.
fn disk() -> Option<&'static Disk> {
    static DISK: OnceLock<Option<Disk>> = OnceLock::new();
    DISK.get_or_init(|| {
        let settings = settings();
        match folder::prepare(&settings.dir) {
            Ok(()) => Some(Disk::new(settings.dir.clone(), settings.disk_max_bytes)),
            Err(refusal) => {
                tracing::warn!(
                    "`persist = \"disk\"` refuses its folder: {refusal}; caching in memory only"
                );
                None
            }
        }
    })
    .as_ref()
}

/// The Redis tier, once asked for (`None` inside: no URL, or a bad one).
#[cfg(feature = "redis")]
static REDIS: OnceLock<Option<redis::RedisTier>> = OnceLock::new();

#[cfg(feature = "redis")]
fn redis_tier() -> Option<&'static redis::RedisTier> {
    REDIS
        .get_or_init(|| {
            let settings = settings();
            let url = settings.redis_url.as_deref()?;
            if settings.redis_prefix.contains(['{', '}']) {
                tracing::error!(
                    prefix = settings.redis_prefix,
                    "the Redis prefix (CACHE_RUNTIME_REDIS_PREFIX) must not contain `{{` or `}}`: \
                     they would change the keys' hash tags on a Redis Cluster; choose another \
                     prefix. `persist = \"redis\"` stays in memory"
                );
                return None;
            }
            match redis::RedisTier::new(url, settings.redis_prefix.clone(), settings.redis_timeout, settings.lock_wait) {
                Ok(tier) => {
                    tier.listen(super::events::apply, super::events::subscription);
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

/// One of the tiers, resolved.
#[derive(Clone, Copy)]
pub(crate) enum Backend {
    Disk(&'static Disk),
    #[cfg(feature = "redis")]
    Redis(&'static redis::RedisTier),
}

/// What a computation holds until it finishes (Redis: its generations and
/// lock; nothing for the disk).
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// The disk generations the computation started under.
    disk: Option<Generations>,
    #[cfg(feature = "redis")]
    claim: Option<redis::Claim>,
}

/// Whether a value read from (or written to) a tier may be kept in memory.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Watch {
    /// A disk value: nothing else clears it unseen.
    Always,
    /// A Redis value, while the events channel (another process's clears)
    /// is heard without a break since this subscription.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    WhileHeard(u64),
    /// A Redis value read while the events channel is not heard.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Never,
}

impl Watch {
    /// Whether the value may be kept in memory now.
    pub(crate) fn may_keep(self) -> bool {
        match self {
            Watch::Always => true,
            #[cfg(feature = "redis")]
            Watch::WhileHeard(subscription) => super::events::still_heard(subscription),
            #[cfg(not(feature = "redis"))]
            Watch::WhileHeard(_) => true,
            Watch::Never => false,
        }
    }
}

/// What a memory miss found in the tier.
pub(crate) enum Start {
    /// A stored record.
    Found(Vec<u8>),
    /// Nothing: compute, holding what `finish` must release.
    Compute(Held),
}

impl Backend {
    /// The backend for `tier`; `None` when it is not configured (Redis without
    /// a URL), which keeps the function in memory only.
    pub(crate) fn of(tier: Persist) -> Option<Backend> {
        match tier {
            Persist::Disk => disk().map(Backend::Disk),
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

    /// The Redis tier, when this is it and the caller runs on a tokio
    /// runtime (whose drivers the async client needs): an async call then
    /// talks to Redis without a thread hop.
    #[cfg(feature = "redis")]
    pub(crate) fn async_redis(self) -> Option<&'static redis::RedisTier> {
        match self {
            Backend::Redis(tier) if tokio::runtime::Handle::try_current().is_ok() => Some(tier),
            _ => None,
        }
    }

    /// A tier operation failed: for Redis, the events channel is suspect
    /// too, so memory stops keeping Redis values until the listener hears
    /// the server again (see `events`).
    pub(crate) fn failed(self) {
        match self {
            Backend::Disk(_) => {}
            #[cfg(feature = "redis")]
            Backend::Redis(_) => super::events::subscription(false),
        }
    }

    /// Noted before the tier is read: whether the value may be kept in
    /// memory (see [`Watch::may_keep`]).
    pub(crate) fn watch(self) -> Watch {
        match self {
            Backend::Disk(_) => Watch::Always,
            #[cfg(feature = "redis")]
            Backend::Redis(_) => super::events::heard().map_or(Watch::Never, Watch::WhileHeard),
        }
    }

    pub(crate) fn tier(self) -> Tier {
        match self {
            Backend::Disk(_) => Tier::Disk,
            #[cfg(feature = "redis")]
            Backend::Redis(_) => Tier::Redis,
        }
    }

    /// Reads the key's record, or claims its computation. `read_first`:
    /// `false` when the caller just found no record (Redis then claims at
    /// once; the disk always reads).
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) fn start(
        self,
        function: u64,
        key: &Key,
        read_first: bool,
    ) -> Result<Start, TierError> {
        match self {
            Backend::Disk(disk) => {
                // Generations first: a record written after them is newer.
                let generations = disk
                    .generations(function, key)
                    .map_err(TierError::disk("reading", disk.dir()))?;
                match disk.read(function, key) {
                    Ok(Some(record)) => Ok(Start::Found(record)),
                    Ok(None) => Ok(Start::Compute(Held {
                        disk: Some(generations),
                        #[cfg(feature = "redis")]
                        claim: None,
                    })),
                    Err(error) => Err(TierError::disk("reading", disk.dir())(error)),
                }
            }
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => {
                match tier.begin(function, key, settings().lock_ttl, read_first)? {
                    redis::Begin::Found(record) => Ok(Start::Found(record)),
                    redis::Begin::Compute(claim) => Ok(Start::Compute(Held {
                        disk: None,
                        claim: Some(claim),
                    })),
                }
            }
        }
    }

    /// Stores `record` (if any) and releases what `start` held.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) fn finish(
        self,
        function: u64,
        key: &Key,
        record: Option<&[u8]>,
        ttl: Option<Duration>,
        held: Held,
    ) -> Result<(), TierError> {
        match self {
            Backend::Disk(disk) => match (record, held.disk) {
                (Some(record), Some(generations)) => {
                    let written = disk
                        .write(function, key, record, generations)
                        .map_err(TierError::disk("writing", disk.dir()))?;
                    if !written {
                        tracing::debug!(
                            "a clear or invalidate in another process discarded this record"
                        );
                    }
                    Ok(())
                }
                // Nothing to write, or computed after the tier failed to answer.
                _ => Ok(()),
            },
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => match held.claim {
                Some(claim) => tier.finish(function, key, record, ttl, claim),
                // Computed after the tier failed to answer: nothing to pin it to.
                None => Ok(()),
            },
        }
    }

    /// Removes a record that was refused (corrupt, expired, foreign).
    pub(crate) fn remove_refused(self, function: u64, key: &Key) -> Result<(), TierError> {
        match self {
            Backend::Disk(disk) => {
                disk.remove(function, key);
                Ok(())
            }
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => tier.remove(function, key),
        }
    }

    /// `f::invalidate(..)`: removes the key's record and discards its
    /// computations in flight in every process.
    pub(crate) fn invalidate(self, function: u64, key: &Key) -> Result<(), TierError> {
        match self {
            Backend::Disk(disk) => disk
                .invalidate(function, key)
                .map_err(TierError::disk("invalidating", disk.dir())),
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => tier.remove(function, key),
        }
    }

    pub(crate) fn clear(self, function: u64) -> Result<(), TierError> {
        match self {
            Backend::Disk(disk) => disk
                .clear_function(function)
                .map_err(TierError::disk("clearing", disk.dir())),
            #[cfg(feature = "redis")]
            Backend::Redis(tier) => tier.clear_function(function),
        }
    }
}

/// Removes every record of every function from the disk tier and, when
/// configured, the Redis tier (telling the other processes).
/// Whether this process hears the Redis events channel, once the Redis
/// tier is in use (`None` before, and without the `redis` feature).
pub(crate) fn redis_events_heard() -> Option<bool> {
    #[cfg(feature = "redis")]
    if let Some(Some(_)) = REDIS.get() {
        return Some(super::events::heard().is_some());
    }
    None
}

pub(crate) fn clear_all_tiers() {
    // A folder that is not there holds nothing to clear: not made for that.
    if settings().dir.exists()
        && let Some(disk) = disk()
        && let Err(error) = disk.clear_all()
    {
        tracing::warn!(%error, "could not clear the disk cache");
    }
    #[cfg(feature = "redis")]
    if let Some(tier) = redis_tier()
        && let Err(error) = tier.clear_all()
    {
        tracing::warn!(%error, "could not clear the Redis cache");
    }
}
