//! [`RedisStore`]: sessions in Redis, shared by every replica (feature `redis`),
//! on one server or a Redis Cluster.

mod connection;
mod expiry;
mod keys;
mod scripts;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt as _};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::{AsyncCommands as _, ErrorKind, IntoConnectionInfo, RedisError};

use super::error::SessionError;
use super::id::SessionId;
use super::memory::DEFAULT_IDLE_TIMEOUT;
use super::store::{ExpiryListener, Record, SessionStore, UpdateFn};
use connection::{CONNECTION_TIMEOUT, Connection, EventSources, RESPONSE_TIMEOUT};
use expiry::{ExpiryWatcher, now_ms};
use keys::{Keys, shard};
use scripts::{CLEAR, MOVE_READ, MOVE_WRITE, REMOVE, RENAME, WRITE};

/// The default prefix of the Redis keys.
///
/// A session is the hash `state:session:{<shard>}<id>`: `<shard>` is two hex
/// digits, `00` to `3f`, the id's last two digits modulo 64, in braces so that
/// on a Redis Cluster the session and its shard's sorted set of deadlines
/// (`state:session:{<shard>}$deadlines`, kept with
/// [`RedisStore::with_expiry_events`]) hash to one slot.
pub const DEFAULT_KEY_PREFIX: &str = "state:session:";

/// The hash field marking that a session exists even when it holds no keys.
const META_FIELD: &str = "$$session";

/// How many times [`SessionStore::update`] retries after losing a race before
/// giving up with [`SessionError::Contention`].
const MAX_UPDATE_ATTEMPTS: u32 = 200;

/// Sessions in Redis, so that several replicas of an app share them; on one
/// server or a Redis Cluster.
///
/// * Each session is one Redis hash, `<prefix>{<shard>}<id>` (prefix
///   [`DEFAULT_KEY_PREFIX`], which describes the shard), with one field per
///   key holding the value's JSON and a bookkeeping field `$$session`. Every
///   operation is a single command, atomic pipeline or Lua script, so writes
///   to different keys never clobber each other, and `PEXPIRE` restarts the
///   idle timer on every load and write.
/// * [`update`](SessionStore::update) is an optimistic compare-and-set: it
///   reads the field, runs the update step in Rust, and a script writes the
///   result only if the field still holds what was read, retrying otherwise
///   (up to 200 attempts, then [`SessionError::Contention`]). N concurrent
///   increments from any number of replicas end at exactly N.
/// * The connection is a [`ConnectionManager`] (one server) or a cluster
///   connection, both of which reconnect after an outage; while Redis is
///   down, operations fail with [`SessionError::Store`].
///
/// # Redis Cluster
///
/// [`open`](Self::open) with two or more comma-separated node URLs, or
/// [`cluster`](Self::cluster), connects to a Redis Cluster, and everything
/// works as on one server:
///
/// * The sessions are spread over 64 shards by their id, each shard a hash
///   tag (`{00}` to `{3f}`): a session's hash and its shard's deadlines share
///   a slot, so every script and transaction stays in one slot, and the
///   sessions spread over up to 64 masters. A single server uses the same
///   layout.
/// * [`Session::cycle_id`](crate::Session::cycle_id) moves the session
///   atomically when both ids share a shard, and always on one server.
///   Otherwise (63 times in 64 on a cluster) the ids are in different slots,
///   so it copies the session (fields, idle timer, deadline) to the new id's
///   slot, then deletes the old one. That is not atomic: a write to the old
///   id that lands between the copy and the delete is lost, as it would be a
///   moment later anyway (the browser has the new id by then). When the copy
///   fails, the old session is kept and the error returned.
/// * [`with_expiry_events`](Self::with_expiry_events) hears every master
///   (each reports the expiry of its own keys only): it finds them with
///   `CLUSTER SLOTS`, reaches each with the first node's credentials and TLS
///   settings, and looks again every 15 seconds and after losing one, so a
///   failover's new master is heard too.
/// * Settings: [`open`](Self::open) gives each request 2 s (retries and
///   redirections included) and each connection attempt 1 s, as on one
///   server; [`cluster`](Self::cluster) takes a [`ClusterClient`] with your
///   own.
///
/// # Known limitations
///
/// * Redis expires keys silently: the `on_session_end` hook runs for idle
///   expiry only after [`with_expiry_events`](Self::with_expiry_events), and
///   then only as promptly as Redis deletes expired keys (usually well under a
///   second). Without it, the hook runs only for
///   [`Session::end`](super::Session::end).
/// * With [`with_expiry_events`](Self::with_expiry_events), sessions that
///   expired while this replica was not subscribed (a dropped connection, a
///   restart of the replica) are reported when it subscribes again, from a
///   sorted set of deadlines per shard (`<prefix>{<shard>}$deadlines`).
///   Sessions whose data Redis itself lost (a restart without persistence, a
///   flush) cannot be: their deadlines went with them.
/// * Sessions stored by a version before the shards (keys `<prefix><id>`) are
///   not read: upgrading starts fresh sessions, and the old keys expire on
///   their own.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    /// Where [`with_expiry_events`](Self::with_expiry_events) subscribes.
    event_sources: EventSources,
    keys: Keys,
    idle_timeout: Duration,
    listener: Arc<RwLock<Option<ExpiryListener>>>,
    /// Whether writes keep the sorted sets of deadlines (expiry events on).
    tracks_deadlines: Arc<AtomicBool>,
}

impl RedisStore {
    /// Connects to Redis at `url` (e.g. `redis://127.0.0.1:6379/`), or to a
    /// Redis Cluster given as two or more comma-separated node URLs
    /// (`redis://10.0.0.1:7000/,redis://10.0.0.2:7000/`; every node need not
    /// be listed, the others are found), with the timeouts of
    /// [`connection_config`](Self::connection_config).
    ///
    /// # Errors
    ///
    /// When a URL is invalid (or none is given), the nodes of a cluster
    /// disagree on credentials or TLS, or the first connection fails.
    pub async fn open(url: &str) -> Result<Self, RedisError> {
        let urls: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .collect();
        match urls.as_slice() {
            [] => Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "no Redis URL given",
            ))),
            [url] => Self::new(redis::Client::open(*url)?).await,
            nodes => {
                let nodes = nodes
                    .iter()
                    .map(|url| url.into_connection_info())
                    .collect::<Result<Vec<_>, _>>()?;
                let client = ClusterClient::builder(nodes.clone())
                    .connection_timeout(CONNECTION_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .build()?;
                let first = nodes.into_iter().next().ok_or_else(|| {
                    RedisError::from((ErrorKind::InvalidClientConfig, "no Redis URL given"))
                })?;
                Self::cluster(client, first).await
            }
        }
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
        Ok(Self::with_connection(
            Connection::Single(conn),
            EventSources::Single(client),
        ))
    }

    /// Connects to a Redis Cluster through `client`, with its own timeout and
    /// retry settings (build it with
    /// `ClusterClient::builder(nodes).connection_timeout(..).response_timeout(..)`;
    /// [`open`](Self::open) uses 1 s and 2 s).
    ///
    /// `node` is one node's URL or connection settings: its credentials,
    /// database and TLS settings are the ones
    /// [`with_expiry_events`](Self::with_expiry_events) uses to subscribe on
    /// every master, each at its own address (a [`ClusterClient`] does not
    /// tell them).
    ///
    /// # Errors
    ///
    /// When `node` is not a valid URL or the first connection fails.
    pub async fn cluster(
        client: ClusterClient,
        node: impl IntoConnectionInfo,
    ) -> Result<Self, redis::RedisError> {
        let node = node.into_connection_info()?;
        let conn = client.get_async_connection().await?;
        Ok(Self::with_connection(
            Connection::Cluster(conn),
            EventSources::Cluster(node),
        ))
    }

    fn with_connection(conn: Connection, event_sources: EventSources) -> Self {
        Self {
            conn,
            event_sources,
            keys: Keys::new(DEFAULT_KEY_PREFIX),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            tracks_deadlines: Arc::new(AtomicBool::new(false)),
            listener: Arc::default(),
        }
    }

    /// The connection settings of [`open`](Self::open) and [`new`](Self::new),
    /// chosen so that a request fails within about two seconds while Redis is
    /// down instead of hanging: 2 reconnection attempts, a 1 s connection
    /// timeout and a 2 s response timeout. The manager keeps reconnecting on
    /// later requests. (A cluster opened with [`open`](Self::open) has the
    /// same timeouts.)
    pub fn connection_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
    }

    /// Reports idle expiry to the `on_session_end` hook
    /// ([`EndReason::Expired`](super::EndReason::Expired)), from Redis keyspace
    /// notifications.
    ///
    /// Turns on `notify-keyspace-events` flags `E` and `x` (keeping the flags
    /// already set; if `CONFIG SET` is not allowed, as on some managed Redis
    /// services, set them in the server's configuration) and subscribes, in a
    /// background task, to the expired-key events of every database: on the
    /// server, or on every master of a cluster. The task re-subscribes after a
    /// lost connection (on a cluster, also to a new master after a failover)
    /// and stops once every clone of this store is dropped. Sessions that
    /// expired while it was not subscribed are reported when it subscribes
    /// again: while expiry events are on, each touch also records the
    /// session's deadline in its shard's sorted set
    /// (`<prefix>{<shard>}$deadlines`, in the same script or transaction),
    /// and a subscription starts by reporting the sessions whose deadline
    /// passed and whose data is gone. Turn it on in every replica that shares
    /// the sessions, so every touch records its deadline.
    ///
    /// When several replicas enable it, each expiry is still reported once: the
    /// replicas race for a short-lived claim key (`<prefix>expired:<id>`) and
    /// only the winner runs the hook. Every replica drops its own
    /// `scope = "session"` cache entries of the expired session. Call it after
    /// [`with_key_prefix`](Self::with_key_prefix).
    ///
    /// # Errors
    ///
    /// When the first subscription fails (on a cluster: to any master, or
    /// reading the masters).
    pub async fn with_expiry_events(self) -> Result<Self, redis::RedisError> {
        self.tracks_deadlines.store(true, Ordering::SeqCst);
        let watcher = ExpiryWatcher {
            conn: self.conn.clone(),
            sources: self.event_sources.clone(),
            keys: self.keys.clone(),
            listener: Arc::downgrade(&self.listener),
        };
        let subscriptions = watcher.subscribe_everywhere().await?;
        tokio::spawn(watcher.run(subscriptions));
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
    ///
    /// Braces in it become parentheses (`{` → `(`, `}` → `)`): Redis Cluster
    /// hashes the text inside a key's first `{…}`, which must be the shard's
    /// tag that follows the prefix.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys = Keys::new(prefix);
        self
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
            .key(self.keys.session(id))
            .key(self.keys.deadlines_of(id))
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

    /// [`rename`](SessionStore::rename) between two cluster slots: copies the
    /// session to the new one, then deletes it from the old one (never before
    /// the copy is written).
    async fn move_across_slots(&self, from: SessionId, to: SessionId) -> Result<(), SessionError> {
        let mut conn = self.conn.clone();
        let read: Result<Option<MovedSession>, _> = MOVE_READ
            .key(self.keys.session(from))
            .key(self.keys.deadlines_of(from))
            .arg(from.to_string())
            .invoke_async(&mut conn)
            .await;
        let (ttl, score, fields) = match read {
            Ok(Some(read)) => read,
            Ok(None) => return Ok(()),
            // Another program's key where the session would be: nothing to
            // move, and (as a load would) it goes.
            Err(error) if is_wrong_type(&error) => {
                let _: Result<i64, _> = conn.del(self.keys.session(from)).await;
                return Ok(());
            }
            Err(error) => return Err(store_error(error)),
        };
        // As on one server: a deadline kept moves, renewed when this
        // replica keeps them.
        let deadline = self.deadline();
        let score = if score.is_empty() || deadline.is_empty() {
            score
        } else {
            deadline
        };
        let mut write = MOVE_WRITE.prepare_invoke();
        write
            .key(self.keys.session(to))
            .key(self.keys.deadlines_of(to))
            .arg(ttl)
            .arg(score)
            .arg(to.to_string());
        for field in &fields {
            write.arg(field.as_slice());
        }
        let _: i64 = write.invoke_async(&mut conn).await.map_err(store_error)?;
        let _: i64 = conn
            .del(self.keys.session(from))
            .await
            .map_err(store_error)?;
        // Best effort, as in `delete`.
        let _: Result<i64, _> = conn
            .zrem(self.keys.deadlines_of(from), from.to_string())
            .await;
        Ok(())
    }
}

/// What [`MOVE_READ`] reads of a session: its PTTL, its deadline (`""` when
/// it has none) and its fields and values, alternating.
type MovedSession = (i64, String, Vec<Vec<u8>>);

enum WriteOutcome {
    Written,
    Conflict,
    TooLarge(usize),
}

/// A `WRONGTYPE` reply, alone or inside a transaction's (which the client
/// reports as a pipeline failure listing it) or a script's.
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
            .field("cluster", &self.conn.is_cluster())
            .field("prefix", &self.keys.prefix())
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl SessionStore for RedisStore {
    fn load(&self, id: SessionId) -> BoxFuture<'_, Result<Option<Record>, SessionError>> {
        async move {
            let mut pipe = redis::pipe();
            pipe.atomic()
                .hgetall(self.keys.session(id))
                .pexpire(
                    self.keys.session(id),
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
                    .arg(self.keys.deadlines_of(id))
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
                            key = self.keys.session(id),
                            "a key in the session prefix is not a session (another Redis type); \
                             removed, and a fresh session started"
                        );
                    }
                    let _: Result<i64, _> = self.conn.clone().del(self.keys.session(id)).await;
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
                    .hget(self.keys.session(id), key)
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
                .key(self.keys.session(id))
                .key(self.keys.deadlines_of(id))
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
                .key(self.keys.session(id))
                .key(self.keys.deadlines_of(id))
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
                .del(self.keys.session(id))
                .await
                .map_err(store_error)?;
            // Best effort: a corrupted deadlines set never fails an end.
            let _: Result<i64, _> = self
                .conn
                .clone()
                .zrem(self.keys.deadlines_of(id), id.to_string())
                .await;
            Ok(())
        }
        .boxed()
    }

    fn rename(&self, from: SessionId, to: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        async move {
            let (from_shard, to_shard) = (shard(from), shard(to));
            if from_shard != to_shard && self.conn.is_cluster() {
                return self.move_across_slots(from, to).await;
            }
            let deadline = self.deadline();
            let _: i64 = RENAME
                .key(self.keys.session(from))
                .key(self.keys.session(to))
                .key(self.keys.deadlines(from_shard))
                .key(self.keys.deadlines(to_shard))
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
