//! [`MemoryStore`]: sessions in this process, on a moka cache with idle expiry.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt as _, ready};
use moka::notification::RemovalCause;

use super::error::SessionError;
use super::id::SessionId;
use super::store::{EndReason, ExpiryListener, Record, SessionStore, UpdateFn, entry_size};

/// How long an untouched session lives by default: 24 hours.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Default)]
struct Entry {
    values: Record,
    bytes: usize,
}

type Listener = Arc<RwLock<Option<ExpiryListener>>>;

/// Sessions kept in this process on a [moka](https://docs.rs/moka) cache: the
/// default store.
///
/// * A session expires after [`idle_timeout`](MemoryStoreBuilder::idle_timeout)
///   without any request touching it (default [`DEFAULT_IDLE_TIMEOUT`]); reads
///   count as activity.
/// * Each session has its own lock, so [`update`](SessionStore::update) is
///   atomic and writes to different keys never clobber each other.
/// * Expiry and eviction reach the `on_session_end` hook. moka applies them
///   lazily, during later cache operations, so the hook may run some time after
///   the deadline; [`run_pending_tasks`](Self::run_pending_tasks) forces it.
/// * Cloning is cheap and clones share the sessions, so two routers in one
///   process can share one store.
///
/// Sessions do not survive a restart and are not shared between processes:
/// use `RedisStore` (feature `redis`) for that.
#[derive(Clone)]
pub struct MemoryStore {
    cache: moka::sync::Cache<SessionId, Arc<Mutex<Entry>>>,
    listener: Listener,
}

impl MemoryStore {
    /// A store with the default idle timeout and no capacity limit.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to set the idle timeout and capacity.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_sessions: None,
        }
    }

    /// Runs moka's pending maintenance now: expired sessions are dropped and the
    /// `on_session_end` hook runs for them.
    pub fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks();
    }

    /// The number of live sessions (approximate until
    /// [`run_pending_tasks`](Self::run_pending_tasks) has run).
    pub fn session_count(&self) -> u64 {
        self.cache.entry_count()
    }

    fn existing(&self, id: SessionId) -> Option<Arc<Mutex<Entry>>> {
        self.cache.get(&id)
    }

    fn write(
        &self,
        id: SessionId,
        key: &str,
        max: usize,
        f: &mut UpdateFn<'_>,
    ) -> Result<(), SessionError> {
        let slot = self
            .cache
            .entry(id)
            .or_insert_with(|| Arc::new(Mutex::new(Entry::default())));
        let created = slot.is_fresh();
        let shared = slot.into_value();
        let mut entry = shared.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = f(entry.values.get(key).map(String::as_str)).and_then(|json| {
            let old = entry.values.get(key).map_or(0, |old| entry_size(key, old));
            let size = entry.bytes - old + entry_size(key, &json);
            if size > max {
                return Err(SessionError::SessionTooLarge {
                    key: key.to_owned(),
                    size,
                    max,
                });
            }
            Ok((json, size))
        });
        let (json, size) = match outcome {
            Ok(write) => write,
            Err(error) => {
                if created {
                    // A failed first write must not leave an empty session behind.
                    drop(entry);
                    self.cache.invalidate(&id);
                }
                return Err(error);
            }
        };
        entry.values.insert(key.to_owned(), json);
        entry.bytes = size;
        Ok(())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.cache.entry_count())
            .field("idle_timeout", &self.cache.policy().time_to_idle())
            .finish_non_exhaustive()
    }
}

/// Builds a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    idle_timeout: Duration,
    max_sessions: Option<u64>,
}

impl MemoryStoreBuilder {
    /// Ends sessions that no request touched for `timeout` (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Keeps at most `max` sessions, evicting the least recently used ones
    /// (reported to `on_session_end` as [`EndReason::Evicted`]). Unlimited by default.
    pub fn max_sessions(mut self, max: u64) -> Self {
        self.max_sessions = Some(max);
        self
    }

    /// The store.
    pub fn build(self) -> MemoryStore {
        let listener: Listener = Arc::default();
        let hook = Arc::clone(&listener);
        let mut builder = moka::sync::Cache::builder()
            .time_to_idle(self.idle_timeout)
            .eviction_listener(move |id: Arc<SessionId>, _, cause| {
                let reason = match cause {
                    RemovalCause::Expired => EndReason::Expired,
                    RemovalCause::Size => EndReason::Evicted,
                    RemovalCause::Explicit | RemovalCause::Replaced => return,
                };
                let listener = hook.read().unwrap_or_else(PoisonError::into_inner).clone();
                if let Some(listener) = listener {
                    listener(*id, reason);
                }
            });
        if let Some(max) = self.max_sessions {
            // Plain LRU: moka's default TinyLFU admission could refuse a new session outright.
            builder = builder
                .max_capacity(max)
                .eviction_policy(moka::policy::EvictionPolicy::lru());
        }
        MemoryStore {
            cache: builder.build(),
            listener,
        }
    }
}

impl SessionStore for MemoryStore {
    fn load(&self, id: SessionId) -> BoxFuture<'_, Result<Option<Record>, SessionError>> {
        let record = self.existing(id).map(|entry| {
            entry
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values
                .clone()
        });
        ready(Ok(record)).boxed()
    }

    fn set<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        json: String,
        max_session_bytes: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        let mut json = Some(json);
        let result = self.write(id, key, max_session_bytes, &mut |_| {
            Ok(json.take().unwrap_or_default())
        });
        ready(result).boxed()
    }

    fn update<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        max_session_bytes: usize,
        f: &'a mut UpdateFn<'a>,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        ready(self.write(id, key, max_session_bytes, f)).boxed()
    }

    fn remove<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>> {
        let old = self.existing(id).and_then(|entry| {
            let mut entry = entry.lock().unwrap_or_else(PoisonError::into_inner);
            let old = entry.values.remove(key)?;
            entry.bytes -= entry_size(key, &old);
            Some(old)
        });
        ready(Ok(old)).boxed()
    }

    fn clear(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        if let Some(entry) = self.existing(id) {
            *entry.lock().unwrap_or_else(PoisonError::into_inner) = Entry::default();
        }
        ready(Ok(())).boxed()
    }

    fn delete(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        self.cache.invalidate(&id);
        ready(Ok(())).boxed()
    }

    fn rename(&self, from: SessionId, to: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        if let Some(entry) = self.cache.remove(&from) {
            self.cache.insert(to, entry);
        }
        ready(Ok(())).boxed()
    }

    fn set_expiry_listener(&self, listener: ExpiryListener) {
        *self
            .listener
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }
}
