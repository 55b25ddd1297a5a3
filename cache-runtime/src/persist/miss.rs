//! The miss path through a persistent tier: look for the key's record, else
//! compute and write the value back (if the computation is still current),
//! and the tier's share of `clear` and `invalidate`.

use std::future::Future;
use std::time::Duration;

use super::error::TierError;
use super::record::{self, Refused};
use super::tiers::{Backend, Held, Start, Watch};
use super::value::Persistence;
use crate::clock::Deadline;
use crate::config::{Identity, Persist, Tier};
use crate::core::{Produced, Ticket};
use crate::key::Key;
use crate::stats::Counters;

/// What the tier needs to know of the function it serves, resolved from its
/// configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site<'a> {
    pub(crate) identity: &'a Identity,
    /// `identity`'s id in the tiers, hashed once per function.
    pub(crate) persist_id: u64,
    pub(crate) tier: Persist,
    pub(crate) ttl: Option<Duration>,
    pub(crate) counters: &'a Counters,
}

impl Site<'_> {
    fn fail(&self, what: &str, error: &TierError) {
        self.counters.persist_error();
        if error.is_outage() {
            // The tier logged the outage once; each call counts it.
            tracing::debug!(function = self.identity.name, tier = ?self.tier, %error, "{what}; computing instead");
        } else {
            tracing::warn!(function = self.identity.name, tier = ?self.tier, %error, "{what}; computing instead");
        }
    }
}

/// What a look at a Redis record before the single flight found (see
/// [`Persistence::peek`]).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) enum Peek<V> {
    /// A valid record's value, its tier and deadline; `keep`: whether memory
    /// may keep it (the events channel heard throughout the read).
    Found((V, Tier, Deadline), bool),
    /// No valid record: the flight this caller may start goes on from there.
    Absent,
    /// The tier did not answer (counted and logged): the flight computes
    /// without it.
    Unavailable,
}

/// What a caller learned of the tier before its flight began, for the
/// computation it may start: a step it need not take again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Peeked {
    /// Nothing: the computation reads the tier first.
    #[default]
    Nothing,
    /// No record a moment ago: the computation claims the key at once,
    /// without reading the record again (the claim waits out another
    /// process's computation and reads its record then).
    Absent,
    /// The tier just failed to answer: compute without it.
    Unavailable,
}

impl<V> Peek<V> {
    /// What the computation a caller starts after this peek may skip.
    pub(crate) fn peeked(&self) -> Peeked {
        match self {
            Peek::Found(..) => Peeked::Nothing,
            Peek::Absent => Peeked::Absent,
            Peek::Unavailable => Peeked::Unavailable,
        }
    }
}

impl<V: Send + Sync + 'static> Persistence<V> {
    /// Before the single flight, for a Redis function: its record, read with
    /// one `GET` and nothing else (no lock, no flight, no computation
    /// machinery), which is all a hit needs. `None` when there is nothing to
    /// peek at (another tier, no Redis configured).
    ///
    /// Concurrent callers of a key that is in no tier each read it (a read,
    /// never a computation); the one that then starts the computation skips
    /// its own first read ([`Peeked::Absent`]).
    pub(crate) fn peek(&self, site: &Site<'_>, key: &Key) -> Option<Peek<V>> {
        #[cfg(feature = "redis")]
        if let Some(Backend::Redis(tier)) = Backend::of(site.tier) {
            let watch = Backend::Redis(tier).watch();
            let read = tier.read(site.persist_id, key);
            return Some(self.peeked(site, Backend::Redis(tier), key, watch, read));
        }
        let _ = (site, key);
        None
    }

    /// [`Self::peek`] from an async function on a tokio runtime, with the
    /// async client (elsewhere, `None`: the flight reads the tier on the
    /// blocking pool).
    pub(crate) async fn peek_async(&self, site: &Site<'_>, key: &Key) -> Option<Peek<V>> {
        #[cfg(feature = "redis")]
        if let Some(tier) = Backend::of(site.tier).and_then(Backend::async_redis) {
            let watch = Backend::Redis(tier).watch();
            let read = tier.read_async(site.persist_id, key).await;
            return Some(self.peeked(site, Backend::Redis(tier), key, watch, read));
        }
        let _ = (site, key);
        None
    }

    /// What a peek's `read` found.
    #[cfg(feature = "redis")]
    fn peeked(
        &self,
        site: &Site<'_>,
        backend: Backend,
        key: &Key,
        watch: Watch,
        read: Result<Option<Vec<u8>>, TierError>,
    ) -> Peek<V> {
        match read {
            Ok(Some(record)) => match self.open(site, backend, key, &record) {
                Some((value, deadline)) => {
                    Peek::Found((value, backend.tier(), deadline), watch.may_keep())
                }
                // Refused, and removed: the computation writes a good one.
                None => Peek::Absent,
            },
            Ok(None) => Peek::Absent,
            Err(error) => {
                site.fail("persistent tier unavailable", &error);
                backend.failed();
                Peek::Unavailable
            }
        }
    }

    /// Decodes a found record, removing it if it is not a valid record of
    /// this key. Returns the value and its deadline.
    fn open(
        &self,
        site: &Site<'_>,
        backend: Backend,
        key: &Key,
        record: &[u8],
    ) -> Option<(V, Deadline)> {
        let opened = record::decode(record, site.identity, key)
            .map_err(TierError::Refused)
            .and_then(|opened| {
                let value = (self.decode)(opened.value).map_err(|source| TierError::Codec {
                    action: "decoding",
                    source,
                })?;
                Ok((value, Deadline::after(opened.remaining)))
            });
        match opened {
            Ok(found) => Some(found),
            Err(error) => {
                if matches!(error, TierError::Refused(Refused::Expired)) {
                    tracing::debug!(function = site.identity.name, "persistent record expired");
                } else {
                    site.fail("refused a persistent record", &error);
                }
                let _ = backend.remove_refused(site.persist_id, key);
                None
            }
        }
    }

    fn encode(&self, site: &Site<'_>, key: &Key, value: &V) -> Option<Vec<u8>> {
        match (self.encode)(value) {
            Ok(bytes) => Some(record::encode(site.identity, key, &bytes, site.ttl)),
            Err(source) => {
                site.fail(
                    "could not store the value",
                    &TierError::Codec {
                        action: "encoding",
                        source,
                    },
                );
                None
            }
        }
    }

    /// The record of a computed value, or `None` for an `Err` (never stored).
    fn record<E>(&self, site: &Site<'_>, key: &Key, outcome: &Result<V, E>) -> Option<Vec<u8>> {
        outcome
            .as_ref()
            .ok()
            .and_then(|value| self.encode(site, key, value))
    }

    /// Writes `record` if the computation is still current, and releases
    /// what `start` held either way.
    fn write_back(
        site: &Site<'_>,
        backend: Backend,
        key: &Key,
        record: Option<&[u8]>,
        ticket: &Ticket,
        held: Held,
    ) {
        let function = site.persist_id;
        let mut held = Some(held);
        let written = record.and_then(|record| {
            ticket.write(|| {
                let held = held.take().unwrap_or_default();
                backend.finish(function, key, Some(record), site.ttl, held)
            })
        });
        let finished = match (written, held) {
            (Some(result), _) => result.map(|()| record.map_or(0, <[u8]>::len)),
            // Discarded by a clear (or nothing to write): only release.
            (None, Some(held)) => backend
                .finish(function, key, None, site.ttl, held)
                .map(|()| 0),
            (None, None) => Ok(0),
        };
        match finished {
            Ok(bytes) => site.counters.written(bytes as u64),
            Err(error) => site.fail("could not store the value", &error),
        }
    }

    /// Looks in the tier: a valid record's value and deadline, or what to
    /// hold while computing. A refused record is removed and the tier asked
    /// once more, so the recomputed value can be written back.
    fn begin(
        &self,
        site: &Site<'_>,
        backend: Backend,
        key: &Key,
        peeked: Peeked,
    ) -> Result<Result<(V, Deadline), Held>, TierError> {
        let function = site.persist_id;
        let mut read_first = peeked != Peeked::Absent;
        for _ in 0..2 {
            let start = backend.start(function, key, read_first)?;
            read_first = true;
            match start {
                Start::Found(record) => {
                    if let Some(found) = self.open(site, backend, key, &record) {
                        return Ok(Ok(found));
                    }
                }
                Start::Compute(held) => return Ok(Err(held)),
            }
        }
        Ok(Err(Held::default()))
    }

    /// The sync miss path: the tier's record, or the body's value written
    /// back. `peeked`: what this caller's peek found (see [`Self::peek`]).
    pub(crate) fn produce<E>(
        &self,
        site: &Site<'_>,
        key: &Key,
        ticket: Ticket,
        peeked: Peeked,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Produced<V, E> {
        let Some(backend) = Backend::of(site.tier) else {
            return Produced::Computed(compute());
        };
        let watch = backend.watch();
        if peeked == Peeked::Unavailable {
            Self::keep_in_memory_if_allowed(watch, &ticket);
            return Produced::Computed(compute());
        }
        let held = match self.begin(site, backend, key, peeked) {
            Ok(Ok((value, deadline))) => {
                Self::keep_in_memory_if_allowed(watch, &ticket);
                return Produced::Loaded(value, backend.tier(), deadline);
            }
            Ok(Err(held)) => held,
            Err(error) => {
                Self::unavailable(site, backend, watch, &ticket, &error);
                return Produced::Computed(compute());
            }
        };
        let outcome = compute();
        let record = self.record(site, key, &outcome);
        Self::write_back(site, backend, key, record.as_deref(), &ticket, held);
        Self::keep_in_memory_if_allowed(watch, &ticket);
        Produced::Computed(outcome)
    }

    /// The tier did not answer: counted and logged, the tier told (a Redis
    /// failure makes its events channel suspect), and the value the caller
    /// computes instead kept out of memory unless `watch` still allows it.
    fn unavailable(
        site: &Site<'_>,
        backend: Backend,
        watch: Watch,
        ticket: &Ticket,
        error: &TierError,
    ) {
        site.fail("persistent tier unavailable", error);
        backend.failed();
        Self::keep_in_memory_if_allowed(watch, ticket);
    }

    /// Keeps the value out of memory unless `watch`, noted before the tier
    /// was read, still allows it (a Redis value: the events channel heard
    /// throughout). Checked after the tier was read or written; a drop of
    /// the channel after the check is covered by the memory flush that drop
    /// makes.
    fn keep_in_memory_if_allowed(watch: Watch, ticket: &Ticket) {
        if !watch.may_keep() {
            ticket.keep_out_of_memory();
        }
    }

    /// The async miss path. On a tokio runtime the Redis tier is asked with
    /// the async client, on one multiplexed connection; otherwise (and for
    /// the disk) tier I/O runs on a blocking thread pool, so no executor
    /// thread waits on the disk or the network.
    ///
    /// What runs only when the tier has no record (the body, the write
    /// back) is boxed: kept inline, its futures would size this one, and so
    /// every caller's, for the tier hit that never needs them (a future is
    /// copied each time it moves).
    pub(crate) async fn produce_async<E, Fut: Future<Output = Result<V, E>>>(
        &'static self,
        site: &Site<'static>,
        key: Key,
        ticket: Ticket,
        peeked: Peeked,
        compute: impl FnOnce() -> Fut,
    ) -> Produced<V, E> {
        let Some(backend) = Backend::of(site.tier) else {
            return Produced::Computed(Box::pin(compute()).await);
        };
        if peeked == Peeked::Unavailable {
            Self::keep_in_memory_if_allowed(backend.watch(), &ticket);
            return Produced::Computed(Box::pin(compute()).await);
        }
        #[cfg(feature = "redis")]
        if let Some(tier) = backend.async_redis() {
            return self
                .produce_on_redis(site, tier, key, ticket, peeked, compute)
                .await;
        }
        let watch = backend.watch();
        let begun_site = *site;
        let (begun, key) = Box::pin(blocking::unblock(move || {
            (self.begin(&begun_site, backend, &key, peeked), key)
        }))
        .await;
        let held = match begun {
            Ok(Ok((value, deadline))) => {
                Self::keep_in_memory_if_allowed(watch, &ticket);
                return Produced::Loaded(value, backend.tier(), deadline);
            }
            Ok(Err(held)) => held,
            Err(error) => {
                Self::unavailable(site, backend, watch, &ticket, &error);
                return Produced::Computed(Box::pin(compute()).await);
            }
        };
        let outcome = Box::pin(compute()).await;
        let record = self.record(site, &key, &outcome);
        let site = *site;
        let ticket = Box::pin(blocking::unblock(move || {
            Self::write_back(&site, backend, &key, record.as_deref(), &ticket, held);
            ticket
        }))
        .await;
        Self::keep_in_memory_if_allowed(watch, &ticket);
        Produced::Computed(outcome)
    }

    /// [`Self::produce_async`] on the Redis tier with the async client: the
    /// same steps as the sync path. The record is written unless a clear in
    /// this process covered the computation (checked, not held: Redis's
    /// generations order the write against any clear, here or elsewhere).
    #[cfg(feature = "redis")]
    async fn produce_on_redis<E, Fut: Future<Output = Result<V, E>>>(
        &'static self,
        site: &Site<'static>,
        tier: &'static super::redis::RedisTier,
        key: Key,
        ticket: Ticket,
        peeked: Peeked,
        compute: impl FnOnce() -> Fut,
    ) -> Produced<V, E> {
        use super::redis::Begin;

        let backend = Backend::Redis(tier);
        let watch = backend.watch();
        let function = site.persist_id;
        let lock_ttl = super::settings::settings().lock_ttl;
        let mut claim = None;
        let mut read_first = peeked != Peeked::Absent;
        // A refused record is removed and the tier asked once more, so the
        // recomputed value can be written back.
        for _ in 0..2 {
            let begun = tier.begin_async(function, &key, lock_ttl, read_first).await;
            read_first = true;
            match begun {
                Ok(Begin::Found(record)) => {
                    if let Some((value, deadline)) = self.open(site, backend, &key, &record) {
                        Self::keep_in_memory_if_allowed(watch, &ticket);
                        return Produced::Loaded(value, backend.tier(), deadline);
                    }
                }
                Ok(Begin::Compute(held)) => {
                    claim = Some(held);
                    break;
                }
                Err(error) => {
                    Self::unavailable(site, backend, watch, &ticket, &error);
                    return Produced::Computed(Box::pin(compute()).await);
                }
            }
        }
        let outcome = Box::pin(compute()).await;
        let record = self.record(site, &key, &outcome);
        if let Some(claim) = claim {
            let record = record.as_deref().filter(|_| ticket.is_current());
            match Box::pin(tier.finish_async(function, &key, record, site.ttl, claim)).await {
                Ok(()) => site.counters.written(record.map_or(0, <[u8]>::len) as u64),
                Err(error) => site.fail("could not store the value", &error),
            }
        }
        Self::keep_in_memory_if_allowed(watch, &ticket);
        Produced::Computed(outcome)
    }

    /// Removes every record of this function from its tier.
    pub(crate) fn clear(&self, site: &Site<'_>) {
        if let Some(backend) = Backend::of(site.tier)
            && let Err(error) = backend.clear(site.persist_id)
        {
            tracing::warn!(function = site.identity.name, %error, "could not clear the persistent tier");
        }
    }

    /// Removes one record from this function's tier.
    pub(crate) fn invalidate(&self, site: &Site<'_>, key: &Key) {
        if let Some(backend) = Backend::of(site.tier)
            && let Err(error) = backend.invalidate(site.persist_id, key)
        {
            tracing::warn!(function = site.identity.name, %error, "could not invalidate the persistent tier");
        }
    }
}
