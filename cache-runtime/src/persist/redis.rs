//! The Redis tier: records under `{prefix}{function id}:{key digest}`, expiry
//! set by Redis, a short lock so one replica computes a key while the others
//! wait, and a pub/sub channel that carries `clear`/`invalidate` to every
//! process's in-memory tier.
//!
//! Every operation has a timeout. After a failure the tier is skipped for a
//! second (callers compute locally) instead of paying the timeout on every
//! call: a Redis outage slows nothing down and fails nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Connection, FromRedisValue, RedisError};

use super::error::TierError;
use crate::key::Key;

/// How long a failed Redis is left alone before it is tried again.
const BACKOFF: Duration = Duration::from_secs(1);
/// How often a replica waiting on another's computation looks for its value.
const POLL: Duration = Duration::from_millis(20);

/// A held computation lock.
#[derive(Debug)]
struct Lock {
    name: String,
    token: String,
}

/// What a replica that computes a key holds until it finishes: the
/// generations (global, function, key) it started under, so its record is
/// written only if no clear or invalidate happened meanwhile in any process,
/// and the computation lock if it won it.
#[derive(Debug)]
pub(crate) struct Claim {
    generations: [String; 3],
    lock: Option<Lock>,
}

impl Claim {
    /// A computation that runs without the lock (it gave up waiting).
    fn unlocked(generations: [String; 3]) -> Self {
        Claim {
            generations,
            lock: None,
        }
    }
}

/// What `begin` does when another replica holds the computation lock.
enum AfterLostLock {
    /// The key was no lock (removed): try for it again at once.
    TryAgain,
    /// Poll for the other replica's record a little later.
    Wait,
    /// Waited `lock_wait` in vain: compute here, without the lock.
    ComputeHere,
}

/// Decides [`AfterLostLock`]: `dropped_foreign` when the lock key was not
/// one of ours (see [`DROP_FOREIGN_LOCK`]) and was removed.
fn lost_lock(lock: &str, record: &str, dropped_foreign: bool, deadline: Instant) -> AfterLostLock {
    if dropped_foreign {
        warn_once(
            &FOREIGN_LOCK_WARNED,
            format_args!("removed {lock}, which is not a lock of this crate's (no expiry)"),
        );
        return AfterLostLock::TryAgain;
    }
    if Instant::now() >= deadline {
        tracing::debug!(
            record,
            "gave up waiting for another replica; computing here"
        );
        return AfterLostLock::ComputeHere;
    }
    AfterLostLock::Wait
}

/// What a replica should do after a memory miss.
pub(crate) enum Begin {
    /// Another replica (or an earlier run) stored the record.
    Found(Vec<u8>),
    /// Compute, then [`RedisTier::finish`] with this claim.
    Compute(Claim),
}

/// Writes the record only if the generations are those the computation
/// started under, then releases the lock if this computation holds it.
/// KEYS: record, global / function / key generation, lock.
/// ARGV: value ('' and has_record = 0 to only release), ttl ms (0: none),
/// the three generations, lock token, has_record.
const FINISH: &str = r"
local function generation(key)
    local value = redis.pcall('GET', key)
    if type(value) == 'table' then return '0' end
    return value or '0'
end
local stored = 0
if ARGV[7] == '1'
    and generation(KEYS[2]) == ARGV[3]
    and generation(KEYS[3]) == ARGV[4]
    and generation(KEYS[4]) == ARGV[5] then
    if ARGV[2] ~= '0' then
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    else
        redis.call('SET', KEYS[1], ARGV[1])
    end
    stored = 1
end
if ARGV[6] ~= '' and redis.call('GET', KEYS[5]) == ARGV[6] then
    redis.call('DEL', KEYS[5])
end
return stored
";

/// Bumps the generation counter `KEYS[1]` (and sets its expiry to
/// `ARGV[2]` ms, if not `0`). A counter that is not one (another program's
/// key, a corrupted value) is replaced by `ARGV[1]`, a number no computation
/// can have read: a clear must never fail on bad data, or the records it
/// should remove would stay.
const BUMP: &str = r"
local bumped = redis.pcall('INCR', KEYS[1])
if type(bumped) == 'table' then
    redis.call('DEL', KEYS[1])
    redis.call('SET', KEYS[1], ARGV[1])
end
if ARGV[2] ~= '0' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

/// Removes the lock `KEYS[1]` if it has no expiry: every lock this crate
/// takes has one, so such a key is not a lock (another program's, or left
/// by a bug) and would make every miss wait `lock_wait` for nothing.
const DROP_FOREIGN_LOCK: &str = r"
if redis.call('PTTL', KEYS[1]) == -1 then
    redis.call('DEL', KEYS[1])
    return 1
end
return 0
";

/// [`FINISH`], hashed once.
static FINISH_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(FINISH));

/// [`DROP_FOREIGN_LOCK`], hashed once.
static DROP_FOREIGN_LOCK_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(DROP_FOREIGN_LOCK));

/// One request of the async path.
enum Request {
    Command(redis::Cmd),
    Script(redis::ScriptInvocation<'static>),
}

impl Request {
    async fn run<T: FromRedisValue>(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<T, RedisError> {
        match self {
            Request::Command(command) => command.query_async(connection).await,
            Request::Script(script) => script.invoke_async(connection).await,
        }
    }
}

/// The digest that names a key's record, lock and generation: computed once
/// per operation, for all three.
fn digest(key: &Key) -> u128 {
    xxhash_rust::xxh3::xxh3_128(&key.wire())
}

/// What the read of a record and its generations found.
enum Read {
    Found(Vec<u8>),
    /// No record: the generations a computation starts under.
    Missing([String; 3]),
}

/// The answer to [`RedisTier::read_command`].
fn read(found: Vec<Option<Vec<u8>>>) -> Read {
    let mut found = found.into_iter();
    if let Some(bytes) = found.next().flatten() {
        return Read::Found(bytes);
    }
    let mut generations: [String; 3] = Default::default();
    for (generation, read) in generations.iter_mut().zip(found) {
        *generation = read.map_or_else(
            || "0".into(),
            |bytes| String::from_utf8_lossy(&bytes).into_owned(),
        );
    }
    Read::Missing(generations)
}

/// How long a key's invalidation generation is remembered: a computation
/// that started before an invalidate and outlasts this could still write.
const KEY_GENERATION_TTL_MS: u64 = 60 * 60 * 1000;

pub(crate) struct RedisTier {
    client: Client,
    prefix: String,
    timeout: Duration,
    lock_wait: Duration,
    /// Identifies this process's messages on the events channel.
    instance: String,
    pool: Mutex<Vec<Connection>>,
    /// A failure to reach Redis (or to log in) was logged, and no call has
    /// succeeded since.
    outage: AtomicBool,
    /// The connection of async calls: one multiplexed connection for the
    /// process, made on the tokio runtime of the first async call (made
    /// again if that runtime is gone).
    multiplexed: Mutex<Option<MultiplexedConnection>>,
    down_until: Mutex<Option<Instant>>,
}

impl RedisTier {
    pub(crate) fn new(
        url: &str,
        prefix: String,
        timeout: Duration,
        lock_wait: Duration,
    ) -> Result<Self, RedisError> {
        let mut instance = [0u8; 8];
        let _ = getrandom::fill(&mut instance);
        Ok(Self {
            client: Client::open(url)?,
            prefix,
            timeout,
            lock_wait,
            instance: format!("{:016x}", u64::from_le_bytes(instance)),
            pool: Mutex::new(Vec::new()),
            outage: AtomicBool::new(false),
            multiplexed: Mutex::new(None),
            down_until: Mutex::new(None),
        })
    }

    fn record_name(&self, function: u64, digest: u128) -> String {
        format!("{}{function:016x}:{digest:032x}", self.prefix)
    }

    fn lock_name(&self, function: u64, digest: u128) -> String {
        format!("{}lock:{function:016x}:{digest:032x}", self.prefix)
    }

    /// The global, function and key generation counters: bumped by
    /// `clear_all`, `clear_function` and `remove`. Outside the record
    /// patterns the clears delete.
    fn generation_names(&self, function: u64, digest: u128) -> [String; 3] {
        [
            format!("{}gen", self.prefix),
            format!("{}gen:{function:016x}", self.prefix),
            format!("{}gen:{function:016x}:{digest:032x}", self.prefix),
        ]
    }

    pub(crate) fn channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    fn connect(&self) -> Result<Connection, RedisError> {
        let connection = self.client.get_connection_with_timeout(self.timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    /// Runs `op` on a pooled connection, honouring and updating the backoff.
    fn with_connection<T>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, TierError> {
        self.skip_if_down()?;
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let result = pooled
            .map_or_else(|| self.connect(), Ok)
            .and_then(|mut connection| {
                let value = op(&mut connection)?;
                Ok((value, connection))
            });
        match result {
            Ok((value, connection)) => {
                let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
                if pool.len() < 16 {
                    pool.push(connection);
                }
                drop(pool);
                self.succeeded();
                Ok(value)
            }
            Err(error) => Err(self.failed(error)),
        }
    }

    /// Runs `request` on the process's multiplexed connection (async calls
    /// on a tokio runtime), honouring and updating the backoff like
    /// [`Self::with_connection`]. A kept connection that fails at once (its
    /// runtime gone) is replaced, and the request tried once more.
    async fn run_async<T: FromRedisValue>(&self, request: &Request) -> Result<T, TierError> {
        self.skip_if_down()?;
        let kept = self
            .multiplexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(mut connection) = kept {
            match request.run(&mut connection).await {
                Ok(value) => {
                    self.succeeded();
                    return Ok(value);
                }
                Err(error) if error.is_connection_dropped() || error.is_unrecoverable_error() => {
                    *self
                        .multiplexed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = None;
                }
                Err(error) => return Err(self.failed(error)),
            }
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let mut connection = match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(connection) => connection,
            Err(error) => return Err(self.failed(error)),
        };
        *self
            .multiplexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        match request.run(&mut connection).await {
            Ok(value) => {
                self.succeeded();
                Ok(value)
            }
            Err(error) => Err(self.failed(error)),
        }
    }

    /// [`Self::begin`] for an async call on a tokio runtime: the same
    /// requests, on the multiplexed connection, and waits that yield.
    pub(crate) async fn begin_async(
        &self,
        function: u64,
        key: &Key,
        lock_ttl: Duration,
    ) -> Result<Begin, TierError> {
        /// Tells this process's async claims apart (their lock tokens).
        static ASYNC_CLAIMS: AtomicU64 = AtomicU64::new(0);
        let digest = digest(key);
        let record = self.record_name(function, digest);
        let generation_names = self.generation_names(function, digest);
        let read_request = Request::Command(Self::read_command(&record, &generation_names));
        let mut generations = match read(self.run_async(&read_request).await?) {
            // The common case, a record: nothing more to prepare.
            Read::Found(bytes) => return Ok(Begin::Found(bytes)),
            Read::Missing(generations) => generations,
        };
        let lock = self.lock_name(function, digest);
        let claim = ASYNC_CLAIMS.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}-async-{claim}", self.instance);
        let lock_ms = u64::try_from(lock_ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let deadline = Instant::now() + self.lock_wait;
        let lock_request = Request::Command(Self::lock_command(&lock, &token, lock_ms));
        let mut drop_foreign = DROP_FOREIGN_LOCK_SCRIPT.prepare_invoke();
        drop_foreign.key(&lock);
        let drop_request = Request::Script(drop_foreign);
        let mut read_again = false;
        loop {
            if std::mem::replace(&mut read_again, true) {
                generations = match read(self.run_async(&read_request).await?) {
                    Read::Found(bytes) => return Ok(Begin::Found(bytes)),
                    Read::Missing(generations) => generations,
                };
            }
            let won: Option<String> = self.run_async(&lock_request).await?;
            if won.is_some() {
                return Ok(Begin::Compute(Claim {
                    generations,
                    lock: Some(Lock { name: lock, token }),
                }));
            }
            let dropped: i64 = self.run_async(&drop_request).await?;
            match lost_lock(&lock, &record, dropped == 1, deadline) {
                AfterLostLock::TryAgain => continue,
                AfterLostLock::ComputeHere => {
                    return Ok(Begin::Compute(Claim::unlocked(generations)));
                }
                AfterLostLock::Wait => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// [`Self::finish`] for an async call on a tokio runtime.
    pub(crate) async fn finish_async(
        &self,
        function: u64,
        key: &Key,
        record: Option<&[u8]>,
        ttl: Option<Duration>,
        claim: Claim,
    ) -> Result<(), TierError> {
        let Some(script) = self.finish_script(function, key, record, ttl, claim) else {
            return Ok(());
        };
        let stored: i64 = self.run_async(&Request::Script(script)).await?;
        Self::finished(function, record.is_some(), stored);
        Ok(())
    }

    /// `Err(RedisDown)` within a backoff period after a failure.
    fn skip_if_down(&self) -> Result<(), TierError> {
        let mut down = self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *down {
            Some(until) if Instant::now() < until => Err(TierError::RedisDown),
            Some(_) => {
                *down = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// An operation succeeded: an outage, if there was one, is over.
    fn succeeded(&self) {
        if self.outage.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis answers again; the Redis tier is back");
        }
    }

    /// An operation failed: when Redis is unreachable or refuses the
    /// credentials, it is left alone for a backoff period, and the outage is
    /// logged once (not once per call).
    fn failed(&self, error: RedisError) -> TierError {
        let unreachable = error.is_io_error()
            || error.is_timeout()
            || error.is_connection_dropped()
            || error.is_connection_refusal();
        let refused = error.kind() == redis::ErrorKind::AuthenticationFailed
            || error.code() == Some("NOAUTH")
            || error.code() == Some("NOPERM");
        if unreachable || refused {
            *self
                .down_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + BACKOFF);
            if !self.outage.swap(true, Ordering::Relaxed) {
                if refused {
                    tracing::error!(
                        %error,
                        "Redis refused the credentials of CACHE_RUNTIME_REDIS_URL (or \
                         persist::configure): check the user and password \
                         (redis://user:password@host/, rediss:// for TLS); computing \
                         locally meanwhile"
                    );
                } else {
                    tracing::warn!(
                        %error,
                        "Redis is unreachable; computing locally, retrying every second"
                    );
                }
            }
        }
        TierError::Redis(error)
    }

    /// The command that reads the record and the generations in one round
    /// trip.
    fn read_command(record: &str, generation_names: &[String; 3]) -> redis::Cmd {
        let mut command = redis::cmd("MGET");
        command.arg(record).arg(&generation_names[..]);
        command
    }

    /// The command that tries to win the computation lock.
    fn lock_command(lock: &str, token: &str, lock_ms: u64) -> redis::Cmd {
        let mut command = redis::cmd("SET");
        command
            .arg(lock)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(lock_ms);
        command
    }

    /// Looks for the record; when it is missing, tries to win the computation
    /// lock, and otherwise waits (up to `lock_wait`) for the replica that holds it.
    pub(crate) fn begin(
        &self,
        function: u64,
        key: &Key,
        lock_ttl: Duration,
    ) -> Result<Begin, TierError> {
        let digest = digest(key);
        let record = self.record_name(function, digest);
        let generation_names = self.generation_names(function, digest);
        // The record and the generations in one round trip: a record is
        // served, or the computation is pinned to these generations.
        let read_once = || {
            self.with_connection(|c| Self::read_command(&record, &generation_names).query(c))
                .map(read)
        };
        let mut generations = match read_once()? {
            // The common case, a record: nothing more to prepare.
            Read::Found(bytes) => return Ok(Begin::Found(bytes)),
            Read::Missing(generations) => generations,
        };
        let lock = self.lock_name(function, digest);
        let token = format!("{}-{:?}", self.instance, std::thread::current().id());
        let lock_ms = u64::try_from(lock_ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let deadline = Instant::now() + self.lock_wait;
        let mut read_again = false;
        loop {
            if std::mem::replace(&mut read_again, true) {
                generations = match read_once()? {
                    Read::Found(bytes) => return Ok(Begin::Found(bytes)),
                    Read::Missing(generations) => generations,
                };
            }
            let won: Option<String> =
                self.with_connection(|c| Self::lock_command(&lock, &token, lock_ms).query(c))?;
            if won.is_some() {
                return Ok(Begin::Compute(Claim {
                    generations,
                    lock: Some(Lock { name: lock, token }),
                }));
            }
            let dropped: i64 =
                self.with_connection(|c| DROP_FOREIGN_LOCK_SCRIPT.key(&lock).invoke(c))?;
            match lost_lock(&lock, &record, dropped == 1, deadline) {
                AfterLostLock::TryAgain => continue,
                AfterLostLock::ComputeHere => {
                    return Ok(Begin::Compute(Claim::unlocked(generations)));
                }
                AfterLostLock::Wait => std::thread::sleep(POLL),
            }
        }
    }

    /// Stores the record (if any, and if no clear or invalidate happened in
    /// any process since [`RedisTier::begin`]) and releases the lock (if held).
    pub(crate) fn finish(
        &self,
        function: u64,
        key: &Key,
        record: Option<&[u8]>,
        ttl: Option<Duration>,
        claim: Claim,
    ) -> Result<(), TierError> {
        let Some(script) = self.finish_script(function, key, record, ttl, claim) else {
            return Ok(());
        };
        let stored: i64 = self.with_connection(|c| script.invoke(c))?;
        Self::finished(function, record.is_some(), stored);
        Ok(())
    }

    /// The script call that ends a computation, or `None` when there is
    /// nothing to write or release.
    fn finish_script(
        &self,
        function: u64,
        key: &Key,
        record: Option<&[u8]>,
        ttl: Option<Duration>,
        claim: Claim,
    ) -> Option<redis::ScriptInvocation<'static>> {
        if record.is_none() && claim.lock.is_none() {
            return None;
        }
        let digest = digest(key);
        let [global, function_generation, key_generation] = self.generation_names(function, digest);
        let (lock_name, token) = claim
            .lock
            .map_or((self.lock_name(function, digest), String::new()), |lock| {
                (lock.name, lock.token)
            });
        let ttl_ms = ttl.map_or(0, |ttl| {
            u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        let [g0, f0, k0] = claim.generations;
        let mut invocation = FINISH_SCRIPT.prepare_invoke();
        invocation
            .key(self.record_name(function, digest))
            .key(global)
            .key(function_generation)
            .key(key_generation)
            .key(lock_name)
            .arg(record.unwrap_or_default())
            .arg(ttl_ms)
            .arg(g0)
            .arg(f0)
            .arg(k0)
            .arg(token)
            .arg(if record.is_some() { "1" } else { "0" });
        Some(invocation)
    }

    /// Logs a record another process's clear discarded.
    fn finished(function: u64, had_record: bool, stored: i64) {
        if had_record && stored == 0 {
            tracing::debug!(
                function = format_args!("{function:016x}"),
                "a clear or invalidate in another process discarded this computation's record"
            );
        }
    }

    /// Deletes one record and tells the other processes.
    pub(crate) fn remove(&self, function: u64, key: &Key) -> Result<(), TierError> {
        let digest = digest(key);
        let name = self.record_name(function, digest);
        let [_, _, generation] = self.generation_names(function, digest);
        // Bump first: a computation that read the old generation can no
        // longer write, then remove what was written before.
        self.bump(&generation, KEY_GENERATION_TTL_MS)?;
        self.with_connection(|c| redis::cmd("UNLINK").arg(&name).query::<i64>(c).map(drop))?;
        self.publish(&format!("invalidate {function:016x} {}", hex(&key.wire())))
    }

    /// Deletes every record of one function and tells the other processes.
    pub(crate) fn clear_function(&self, function: u64) -> Result<(), TierError> {
        self.clear_matching(
            &format!("{}gen:{function:016x}", self.prefix),
            &format!("{}{function:016x}:*", self.prefix),
            &format!("clear {function:016x}"),
        )
    }

    /// Deletes every record under the prefix and tells the other processes.
    pub(crate) fn clear_all(&self) -> Result<(), TierError> {
        self.clear_matching(
            &format!("{}gen", self.prefix),
            &format!("{}*", self.prefix),
            "clear-all",
        )
    }

    /// Bumps `generation` first (a computation that read the old one can no
    /// longer write), deletes the records matching `pattern`, publishes `event`.
    fn clear_matching(
        &self,
        generation: &str,
        pattern: &str,
        event: &str,
    ) -> Result<(), TierError> {
        self.bump(generation, 0)?;
        self.delete_matching(pattern)?;
        self.publish(event)
    }

    /// Bumps a generation counter (see [`BUMP`]), expiring it after
    /// `expire_ms` (`0`: never).
    fn bump(&self, generation: &str, expire_ms: u64) -> Result<(), TierError> {
        // A number no computation read: far above what counting reaches.
        let fresh = (1u64 << 62) | (getrandom::u64().unwrap_or_default() >> 2);
        self.with_connection(|c| {
            redis::Script::new(BUMP)
                .key(generation)
                .arg(fresh)
                .arg(expire_ms)
                .invoke::<i64>(c)
                .map(drop)
        })
    }

    fn delete_matching(&self, pattern: &str) -> Result<(), TierError> {
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self.with_connection(|c| {
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(500)
                    .query(c)
            })?;
            let keys: Vec<_> = keys
                .into_iter()
                // The generation counters must survive a clear: resetting
                // one would let a computation from before it write again.
                .filter(|k| {
                    !k.ends_with("events")
                        && !k[self.prefix.len().min(k.len())..].starts_with("gen")
                })
                .collect();
            if !keys.is_empty() {
                self.with_connection(|c| {
                    redis::cmd("UNLINK").arg(&keys).query::<i64>(c).map(drop)
                })?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    fn publish(&self, event: &str) -> Result<(), TierError> {
        let message = format!("{} {event}", self.instance);
        self.with_connection(|c| {
            redis::cmd("PUBLISH")
                .arg(self.channel())
                .arg(&message)
                .query::<i64>(c)
                .map(drop)
        })
    }

    /// Listens on the events channel in a background thread, reconnecting
    /// after failures, and hands other processes' events to `apply`. Returns
    /// once subscribed (or after the timeout, if Redis is unreachable).
    pub(crate) fn listen(&self, apply: fn(Event), live: fn(bool)) {
        let client = self.client.clone();
        let channel = self.channel();
        let instance = self.instance.clone();
        let timeout = self.timeout;
        let (ready, subscribed) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("cache-runtime-redis-events".into())
            .spawn(move || {
                loop {
                    let subscription =
                        subscribe_once(&client, &channel, &instance, timeout, &ready, apply, live);
                    live(false);
                    if let Err(error) = subscription {
                        tracing::debug!(%error, "redis events subscription lost; retrying");
                    }
                    std::thread::sleep(BACKOFF);
                }
            });
        if spawned.is_ok() {
            let _ = subscribed.recv_timeout(timeout.max(Duration::from_millis(500)));
        }
    }
}

/// Subscribes to the events channel and applies what arrives, until the
/// subscription fails: `live(true)` once subscribed, and again whenever the
/// server is heard (a message, or the answer to the `PING` a quiet second
/// sends, so that a server that hangs, stopped rather than closed, is
/// noticed within two seconds too).
fn subscribe_once(
    client: &Client,
    channel: &str,
    instance: &str,
    timeout: Duration,
    ready: &std::sync::mpsc::Sender<()>,
    apply: fn(Event),
    live: fn(bool),
) -> Result<(), RedisError> {
    let mut connection = client.get_connection_with_timeout(timeout)?;
    let mut pubsub = connection.as_pubsub();
    pubsub.set_read_timeout(Some(Duration::from_secs(1)))?;
    pubsub.subscribe(channel)?;
    live(true);
    let _ = ready.send(());
    loop {
        let message = match pubsub.get_message() {
            Ok(message) => message,
            Err(error) if error.is_timeout() => {
                pubsub.ping::<()>()?;
                // Heard: clears cannot have been missed (a failed operation
                // may have called the subscription suspect meanwhile).
                live(true);
                continue;
            }
            Err(error) => return Err(error),
        };
        live(true);
        let Ok(payload) = message.get_payload::<String>() else {
            continue;
        };
        let mut words = payload.split(' ');
        if words.next() == Some(instance) {
            continue; // our own event: already applied locally
        }
        match Event::parse(words) {
            Some(event) => apply(event),
            None => warn_once(
                &MALFORMED_EVENT_WARNED,
                format_args!(
                    "ignoring a malformed cache event ({payload:?}); later ones are ignored silently"
                ),
            ),
        }
    }
}

static FOREIGN_LOCK_WARNED: AtomicBool = AtomicBool::new(false);
static MALFORMED_EVENT_WARNED: AtomicBool = AtomicBool::new(false);

/// Logs `message` the first time only (`warned` remembers): bad data another
/// program keeps writing must not flood the log.
fn warn_once(warned: &AtomicBool, message: std::fmt::Arguments<'_>) {
    if !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!("{message}");
    }
}

/// An invalidation another process published.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Clear(u64),
    Invalidate(u64, Vec<u8>),
    ClearAll,
}

impl Event {
    fn parse<'a>(mut words: impl Iterator<Item = &'a str>) -> Option<Self> {
        let event = match words.next()? {
            "clear" => Event::Clear(u64::from_str_radix(words.next()?, 16).ok()?),
            "invalidate" => Event::Invalidate(
                u64::from_str_radix(words.next()?, 16).ok()?,
                unhex(words.next()?)?,
            ),
            "clear-all" => Event::ClearAll,
            _ => return None,
        };
        words.next().is_none().then_some(event)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_garbage_is_refused() {
        assert_eq!(
            Event::parse("clear 00000000000000ff".split(' ')),
            Some(Event::Clear(255))
        );
        assert_eq!(
            Event::parse("invalidate 0000000000000001 00ff".split(' ')),
            Some(Event::Invalidate(1, vec![0, 255]))
        );
        assert_eq!(Event::parse("clear-all".split(' ')), Some(Event::ClearAll));
        for garbage in [
            "",
            "clear",
            "clear zz",
            "invalidate 1 0",
            "invalidate 1 xyz1",
            "explode",
            "clear-all now",
        ] {
            assert_eq!(Event::parse(garbage.split(' ')), None, "{garbage}");
        }
        assert_eq!(unhex(&hex(b"\x00key\xff")), Some(b"\x00key\xff".to_vec()));
    }
}
