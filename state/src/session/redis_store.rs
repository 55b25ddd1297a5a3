//! [`RedisStore`]: sessions in Redis, shared by every replica (feature `redis`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use futures_util::future::{BoxFuture, FutureExt as _};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};

use super::error::SessionError;
use super::id::SessionId;
use super::memory::DEFAULT_IDLE_TIMEOUT;
use super::store::{EndReason, ExpiryListener, Record, SessionStore, UpdateFn};

/// The default prefix of the Redis keys: a session is the hash `state:session:<id>`.
pub const DEFAULT_KEY_PREFIX: &str = "state:session:";

/// The hash field marking that a session exists even when it holds no keys.
const META_FIELD: &str = "$$session";

/// How many times [`SessionStore::update`] retries after losing a race before
/// giving up with [`SessionError::Contention`].
const MAX_UPDATE_ATTEMPTS: u32 = 200;

/// Writes one field if the current value matches (`ARGV[6]`: `any`, `absent` or
/// `equal` to `ARGV[7]`) and the session stays within `ARGV[3]` bytes; refreshes
/// the idle timer (and, when `ARGV[8]` is a deadline, the session `ARGV[9]`'s
/// entry in the deadlines `KEYS[2]`). Returns -1 on success, -2 on a conflict,
/// or the size that was too large.
static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[6] == 'absent' and current then return -2 end
if ARGV[6] == 'equal' and current ~= ARGV[7] then return -2 end
local total = #ARGV[1] + #ARGV[2]
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if field ~= ARGV[1] and field ~= ARGV[5] then total = total + #field + #all[i + 1] end
end
if total > tonumber(ARGV[3]) then return total end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[5], '1')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[8] ~= '' then redis.pcall('ZADD', KEYS[2], ARGV[8], ARGV[9]) end
return -1
",
    )
});

/// Removes one field of an existing session and returns its old value.
static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then redis.call('HDEL', KEYS[1], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  if ARGV[3] ~= '' then redis.pcall('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
end
return old
",
    )
});

/// Empties an existing session, keeping it alive.
static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], ARGV[1], '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  if ARGV[3] ~= '' then redis.pcall('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
end
return 0
",
    )
});

/// Moves an existing session to a new id (`ARGV[1]` to `ARGV[2]`), and its
/// entry in the deadlines `KEYS[3]` (with the deadline `ARGV[3]`, or its own
/// when `0`).
static RENAME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  local score = redis.pcall('ZSCORE', KEYS[3], ARGV[1])
  if type(score) == 'string' then
    redis.call('ZREM', KEYS[3], ARGV[1])
    if ARGV[3] ~= '0' then score = ARGV[3] end
    redis.call('ZADD', KEYS[3], score, ARGV[2])
  end
end
return 0
",
    )
});

/// Sessions in Redis, so that several replicas of an app share them.
///
/// * Each session is one Redis hash, `<prefix><id>` (prefix
///   [`DEFAULT_KEY_PREFIX`]), with one field per key holding the value's JSON
///   and a bookkeeping field `$$session`. Every operation is a single command,
///   atomic pipeline or Lua script, so writes to different keys never clobber
///   each other, and `PEXPIRE` restarts the idle timer on every load and write.
/// * [`update`](SessionStore::update) is an optimistic compare-and-set: it
///   reads the field, runs the update step in Rust, and a script writes the
///   result only if the field still holds what was read, retrying otherwise
///   (up to 200 attempts, then [`SessionError::Contention`]). N concurrent
///   increments from any number of replicas end at exactly N.
/// * The connection is a [`ConnectionManager`], which reconnects after an
///   outage; while Redis is down, operations fail with [`SessionError::Store`].
///
/// # Known limitations
///
/// * Redis expires keys silently: the `on_session_end` hook runs for idle
///   expiry only after [`with_expiry_events`](Self::with_expiry_events), and
///   then only as promptly as Redis deletes expired keys (usually well under a
///   second). Without it, the hook runs only for
///   [`Session::end`](super::Session::end).
/// * Id cycling uses `RENAME`, so in Redis Cluster both ids must hash to one
///   slot; cluster mode is not supported.
/// * With [`with_expiry_events`](Self::with_expiry_events), sessions that
///   expired while this replica was not subscribed (a dropped connection, a
///   restart of the replica) are reported when it subscribes again, from a
///   sorted set of deadlines (`<prefix>$deadlines`). Sessions whose data
///   Redis itself lost (a restart without persistence, a flush) cannot be:
///   their deadlines went with them.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    idle_timeout: Duration,
    listener: Arc<RwLock<Option<ExpiryListener>>>,
    /// Whether writes keep the sorted set of deadlines (expiry events on).
    tracks_deadlines: Arc<AtomicBool>,
}

impl RedisStore {
    /// Connects to Redis at `url` (e.g. `redis://127.0.0.1:6379/`).
    ///
    /// # Errors
    ///
    /// When the URL is invalid or the first connection fails.
    pub async fn open(url: &str) -> Result<Self, redis::RedisError> {
        Self::new(redis::Client::open(url)?).await
    }

    /// Connects through `client` with [`RedisStore::connection_config`].
    ///
    /// # Errors
    ///
    /// When the first connection fails.
    pub async fn new(client: redis::Client) -> Result<Self, redis::RedisError> {
        Self::with_connection_config(client, Self::connection_config()).await
    }

    /// Connects through `client` with your own reconnection and timeout settings.
    ///
    /// # Errors
    ///
    /// When the first connection fails.
    pub async fn with_connection_config(
        client: redis::Client,
        config: ConnectionManagerConfig,
    ) -> Result<Self, redis::RedisError> {
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Self {
            client,
            conn,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            tracks_deadlines: Arc::new(AtomicBool::new(false)),
            listener: Arc::default(),
        })
    }

    /// The connection settings of [`open`](Self::open) and [`new`](Self::new),
    /// chosen so that a request fails within about two seconds while Redis is
    /// down instead of hanging: 2 reconnection attempts, a 1 s connection
    /// timeout and a 2 s response timeout. The manager keeps reconnecting on
    /// later requests.
    pub fn connection_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
    }

    /// Reports idle expiry to the `on_session_end` hook
    /// ([`EndReason::Expired`]), from Redis keyspace notifications.
    ///
    /// Turns on `notify-keyspace-events` flags `E` and `x` (keeping the flags
    /// already set; if `CONFIG SET` is not allowed, as on some managed Redis
    /// services, set them in the server's configuration) and subscribes, in a
    /// background task, to the expired-key events of every database. The task
    /// re-subscribes after a lost connection and stops once every clone of
    /// this store is dropped. Sessions that expired while it was not
    /// subscribed are reported when it subscribes again: while expiry events
    /// are on, each touch also records the session's deadline in a sorted set
    /// (`<prefix>$deadlines`, in the same script or transaction), and a
    /// subscription starts by reporting the sessions whose deadline passed and
    /// whose data is gone. Turn it on in every replica that shares the
    /// sessions, so every touch records its deadline.
    ///
    /// When several replicas enable it, each expiry is still reported once: the
    /// replicas race for a short-lived claim key (`<prefix>expired:<id>`) and
    /// only the winner runs the hook. Every replica drops its own
    /// `scope = "session"` cache entries of the expired session. Call it after
    /// [`with_key_prefix`](Self::with_key_prefix).
    ///
    /// # Errors
    ///
    /// When the first subscription fails.
    pub async fn with_expiry_events(self) -> Result<Self, redis::RedisError> {
        let mut conn = self.conn.clone();
        let enabled: Result<(), redis::RedisError> = async {
            let current: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("notify-keyspace-events")
                .query_async(&mut conn)
                .await?;
            let mut flags = current.get(1).cloned().unwrap_or_default();
            if !flags.contains('E') {
                flags.push('E');
            }
            if !flags.contains('x') && !flags.contains('A') {
                flags.push('x');
            }
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("notify-keyspace-events")
                .arg(flags)
                .query_async(&mut conn)
                .await
        }
        .await;
        if let Err(error) = enabled {
            tracing::warn!(
                %error,
                "cannot enable Redis keyspace notifications; configure `notify-keyspace-events Ex` on the server"
            );
        }
        self.tracks_deadlines.store(true, Ordering::SeqCst);
        let pubsub = subscribe(&self.client).await?;
        let watcher = ExpiryWatcher {
            client: self.client.clone(),
            conn: self.conn.clone(),
            prefix: self.prefix.clone(),
            listener: Arc::downgrade(&self.listener),
        };
        tokio::spawn(watcher.run(pubsub));
        Ok(self)
    }

    /// Ends sessions that no request touched for `timeout` (default 24 hours;
    /// millisecond precision).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The prefix of the Redis keys (default [`DEFAULT_KEY_PREFIX`]); give each
    /// app its own when several share one Redis database.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, id: SessionId) -> String {
        format!("{}{id}", self.prefix)
    }

    fn deadlines_key(&self) -> String {
        deadlines_key(&self.prefix)
    }

    /// The deadline a touch gives the session now (unix ms), when the
    /// deadlines are kept; `""` (the scripts' "no") otherwise.
    fn deadline(&self) -> String {
        if self.tracks_deadlines.load(Ordering::Relaxed) {
            (now_ms().saturating_add(self.ttl_ms())).to_string()
        } else {
            String::new()
        }
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.idle_timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    async fn write(
        &self,
        id: SessionId,
        key: &str,
        json: &str,
        max: usize,
        expect: Option<Option<&str>>,
    ) -> Result<WriteOutcome, SessionError> {
        let (mode, expected) = match expect {
            None => ("any", ""),
            Some(None) => ("absent", ""),
            Some(Some(expected)) => ("equal", expected),
        };
        let outcome: i64 = WRITE
            .key(self.key(id))
            .key(self.deadlines_key())
            .arg(key)
            .arg(json)
            .arg(max)
            .arg(self.ttl_ms())
            .arg(META_FIELD)
            .arg(mode)
            .arg(expected)
            .arg(self.deadline())
            .arg(id.to_string())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        Ok(match outcome {
            -1 => WriteOutcome::Written,
            -2 => WriteOutcome::Conflict,
            size => WriteOutcome::TooLarge(usize::try_from(size).unwrap_or(usize::MAX)),
        })
    }
}

async fn subscribe(client: &redis::Client) -> Result<redis::aio::PubSub, redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.psubscribe("__keyevent@*__:expired").await?;
    Ok(pubsub)
}

/// The background task of [`RedisStore::with_expiry_events`].
struct ExpiryWatcher {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    listener: Weak<RwLock<Option<ExpiryListener>>>,
}

impl ExpiryWatcher {
    async fn run(self, mut pubsub: redis::aio::PubSub) {
        loop {
            // Subscribed: first the sessions that expired unheard.
            self.catch_up().await;
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                if self.listener.strong_count() == 0 {
                    return;
                }
                if let Ok(key) = message.get_payload::<String>() {
                    self.expired(&key).await;
                }
            }
            // The connection was lost: re-subscribe until it works or the store is gone.
            pubsub = loop {
                if self.listener.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                match subscribe(&self.client).await {
                    Ok(pubsub) => break pubsub,
                    Err(error) => tracing::debug!(%error, "re-subscribing to Redis expiry events"),
                }
            };
        }
    }

    /// Reports the sessions whose deadline passed and whose data is gone,
    /// which expired while no replica heard it (or before this one
    /// subscribed): the claim in [`Self::expired`] keeps each report single.
    async fn catch_up(&self) {
        let deadlines = deadlines_key(&self.prefix);
        let mut conn = self.conn.clone();
        loop {
            let due: Result<Vec<String>, _> = redis::cmd("ZRANGEBYSCORE")
                .arg(&deadlines)
                .arg("-inf")
                .arg(now_ms())
                .arg("LIMIT")
                .arg(0)
                .arg(500)
                .query_async(&mut conn)
                .await;
            let Ok(due) = due else { return };
            let mut gone = 0;
            for id in &due {
                let key = format!("{}{id}", self.prefix);
                let exists: Result<bool, _> = conn.exists(&key).await;
                match exists {
                    // Touched since, by a replica that keeps no deadlines:
                    // its next touch here, or its expiry event, will do.
                    Ok(true) => {}
                    Ok(false) => {
                        gone += 1;
                        self.expired(&key).await;
                    }
                    Err(_) => return,
                }
            }
            // Every id left is still alive: the next subscription looks again.
            if due.len() < 500 || gone == 0 {
                return;
            }
        }
    }

    async fn expired(&self, key: &str) {
        let Some(id) = key
            .strip_prefix(self.prefix.as_str())
            .and_then(SessionId::parse)
        else {
            return;
        };
        // Every replica drops its own session-scoped cache entries of it.
        super::shared::end_cached(id);
        // Replicas race for the claim; only the winner reports the expiry.
        let claim: Result<Option<String>, _> = redis::cmd("SET")
            .arg(format!("{}expired:{id}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(60_000)
            .query_async(&mut self.conn.clone())
            .await;
        // Whoever heard of it: the deadlines need it no longer.
        let _: Result<i64, _> = self
            .conn
            .clone()
            .zrem(deadlines_key(&self.prefix), id.to_string())
            .await;
        if !matches!(claim, Ok(Some(_))) {
            return;
        }
        let listener = self
            .listener
            .upgrade()
            .and_then(|slot| slot.read().unwrap_or_else(PoisonError::into_inner).clone());
        if let Some(listener) = listener {
            listener(id, EndReason::Expired);
        }
    }
}

/// The sorted set of session deadlines (unix ms) under `prefix`: not an id,
/// so no expiry event of it is taken for a session's.
fn deadlines_key(prefix: &str) -> String {
    format!("{prefix}$deadlines")
}

/// Now, in unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

enum WriteOutcome {
    Written,
    Conflict,
    TooLarge(usize),
}

/// A `WRONGTYPE` reply, alone or inside a transaction's (which the client
/// reports as a pipeline failure listing it).
fn is_wrong_type(error: &redis::RedisError) -> bool {
    error.code() == Some("WRONGTYPE") || error.to_string().contains("WRONGTYPE")
}

fn store_error(error: redis::RedisError) -> SessionError {
    SessionError::Store(Box::new(error))
}

fn too_large(key: &str, size: usize, max: usize) -> SessionError {
    SessionError::SessionTooLarge {
        key: key.to_owned(),
        size,
        max,
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl SessionStore for RedisStore {
    fn load(&self, id: SessionId) -> BoxFuture<'_, Result<Option<Record>, SessionError>> {
        async move {
            let mut pipe = redis::pipe();
            pipe.atomic()
                .hgetall(self.key(id))
                .pexpire(
                    self.key(id),
                    i64::try_from(self.ttl_ms()).unwrap_or(i64::MAX),
                )
                .ignore();
            let deadline = self.deadline();
            if !deadline.is_empty() {
                // `XX`: only a session the deadlines know (never an unknown
                // id a cookie made up); `pcall`: a corrupted set never fails
                // a load.
                pipe.cmd("EVAL")
                    .arg("redis.pcall('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[2]) return 0")
                    .arg(1)
                    .arg(self.deadlines_key())
                    .arg(deadline)
                    .arg(id.to_string())
                    .ignore();
            }
            let loaded: Result<(Record,), _> = pipe.query_async(&mut self.conn.clone()).await;
            let (mut record,) = match loaded {
                Ok(loaded) => loaded,
                // Another program's key where this session's would be: not
                // a session, so the browser starts a fresh one (and the key,
                // in this store's prefix, goes).
                Err(error) if is_wrong_type(&error) => {
                    static WARNED: AtomicBool = AtomicBool::new(false);
                    if !WARNED.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            key = self.key(id),
                            "a key in the session prefix is not a session (another Redis type); \
                             removed, and a fresh session started"
                        );
                    }
                    let _: Result<i64, _> = self.conn.clone().del(self.key(id)).await;
                    return Ok(None);
                }
                Err(error) => return Err(store_error(error)),
            };
            if record.remove(META_FIELD).is_none() && record.is_empty() {
                return Ok(None);
            }
            Ok(Some(record))
        }
        .boxed()
    }

    fn set<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        json: String,
        max_session_bytes: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        async move {
            match self.write(id, key, &json, max_session_bytes, None).await? {
                WriteOutcome::TooLarge(size) => Err(too_large(key, size, max_session_bytes)),
                WriteOutcome::Written | WriteOutcome::Conflict => Ok(()),
            }
        }
        .boxed()
    }

    fn update<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        max_session_bytes: usize,
        f: &'a mut UpdateFn<'a>,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        async move {
            for attempt in 1..=MAX_UPDATE_ATTEMPTS {
                let current: Option<String> = self
                    .conn
                    .clone()
                    .hget(self.key(id), key)
                    .await
                    .map_err(store_error)?;
                let json = f(current.as_deref())?;
                match self
                    .write(id, key, &json, max_session_bytes, Some(current.as_deref()))
                    .await?
                {
                    WriteOutcome::Written => return Ok(()),
                    WriteOutcome::TooLarge(size) => {
                        return Err(too_large(key, size, max_session_bytes));
                    }
                    WriteOutcome::Conflict => backoff(attempt).await,
                }
            }
            Err(SessionError::Contention {
                key: key.to_owned(),
                attempts: MAX_UPDATE_ATTEMPTS,
            })
        }
        .boxed()
    }

    fn remove<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>> {
        async move {
            REMOVE
                .key(self.key(id))
                .key(self.deadlines_key())
                .arg(key)
                .arg(self.ttl_ms())
                .arg(self.deadline())
                .arg(id.to_string())
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(store_error)
        }
        .boxed()
    }

    fn clear(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        async move {
            let _: i64 = CLEAR
                .key(self.key(id))
                .key(self.deadlines_key())
                .arg(META_FIELD)
                .arg(self.ttl_ms())
                .arg(self.deadline())
                .arg(id.to_string())
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(store_error)?;
            Ok(())
        }
        .boxed()
    }

    fn delete(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        async move {
            let _: i64 = self
                .conn
                .clone()
                .del(self.key(id))
                .await
                .map_err(store_error)?;
            // Best effort: a corrupted deadlines set never fails an end.
            let _: Result<i64, _> = self
                .conn
                .clone()
                .zrem(self.deadlines_key(), id.to_string())
                .await;
            Ok(())
        }
        .boxed()
    }

    fn rename(&self, from: SessionId, to: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        async move {
            let deadline = self.deadline();
            let _: i64 = RENAME
                .key(self.key(from))
                .key(self.key(to))
                .key(self.deadlines_key())
                .arg(from.to_string())
                .arg(to.to_string())
                .arg(if deadline.is_empty() {
                    "0".to_owned()
                } else {
                    deadline
                })
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(store_error)?;
            Ok(())
        }
        .boxed()
    }

    fn set_expiry_listener(&self, listener: ExpiryListener) {
        *self
            .listener
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }
}

/// A short randomised pause after a lost compare-and-set, growing with the attempt.
async fn backoff(attempt: u32) {
    let mut jitter = [0u8; 2];
    let jitter = getrandom::fill(&mut jitter).map_or(0, |()| u64::from(u16::from_le_bytes(jitter)));
    let cap_micros = 50 * u64::from(attempt.min(20));
    tokio::time::sleep(Duration::from_micros(jitter % cap_micros.max(1))).await;
}
