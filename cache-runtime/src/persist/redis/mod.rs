//! The Redis tier: records under `{prefix}{{function id}}:r:{key digest}`,
//! expiry set by Redis, a short lock so one replica computes a key while
//! the others wait, and a pub/sub channel that carries `clear`/`invalidate`
//! to every process's in-memory tier.
//!
//! Every key of one function carries the function id as its hash tag (the
//! braces), so on a Redis Cluster they share a slot and each script and
//! multi-key command runs in one place.
//!
//! A record is written only if no clear or invalidate happened since its
//! computation began, in any process: generation counters per function
//! (`…{id}:g`) and per key (`…{id}:g:{digest}`) are read when a computation
//! takes its lock (before it runs) and compared when it writes. A hit is one
//! read of one key. A clear of everything bumps every
//! function's counter (found by `SCAN`, on every master), then deletes.
//!
//! Every operation has a timeout. After a failure the tier is skipped for a
//! second (callers compute locally) instead of paying the timeout on every
//! call: a Redis outage slows nothing down and fails nothing.

mod channel;
mod link;
mod scripts;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::{FromRedisValue, RedisError};

pub(crate) use channel::Event;
use channel::{hex, subscribe_once, warn_once};
use link::{AsyncLink, Request, Servers, SyncLink, hash_tag};
use scripts::{BUMP, FINISH, LOCK};

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
/// generations (function, key) it started under, so its record is written
/// only if no clear or invalidate happened meanwhile in any process, and the
/// computation lock if it won it.
#[derive(Debug)]
pub(crate) struct Claim {
    generations: [String; 2],
    lock: Option<Lock>,
}

/// What a replica should do after a memory miss.
pub(crate) enum Begin {
    /// Another replica (or an earlier run) stored the record.
    Found(Vec<u8>),
    /// Compute, then [`RedisTier::finish`] with this claim.
    Compute(Claim),
}

/// The names of one key's record, lock and generation counters, from one
/// digest of its bytes. Only the record's is made up front: a hit needs no
/// other.
struct Names {
    digest: u128,
    /// `{prefix}{{function}}:r:{digest}`.
    record: String,
}

/// The length of `:r:{digest}` at the end of a record's name.
const RECORD_SUFFIX: usize = 3 + 32;

impl Names {
    /// `{prefix}{{function}}`, the start of every key of the function.
    fn function_keys(&self) -> &str {
        &self.record[..self.record.len() - RECORD_SUFFIX]
    }

    /// `{function_keys}:{kind}:{digest}`.
    fn of_key(&self, kind: &str) -> String {
        let function_keys = self.function_keys();
        let mut name = String::with_capacity(function_keys.len() + kind.len() + 34);
        name.push_str(function_keys);
        name.push(':');
        name.push_str(kind);
        name.push(':');
        push_hex(&mut name, self.digest, 32);
        name
    }

    /// The computation lock.
    fn lock(&self) -> String {
        self.of_key("l")
    }

    /// The function's and the key's generation counters.
    fn generations(&self) -> [String; 2] {
        [format!("{}:g", self.function_keys()), self.of_key("g")]
    }
}

/// Appends the `digits` low hexadecimal digits of `value` (lowercase, zero
/// padded): the names are made on every Redis read, and `format!` of a
/// `u128` costs several times more.
fn push_hex(out: &mut String, value: u128, digits: usize) {
    /// Each byte's two digits: one lookup per byte, not two per digit.
    const PAIRS: [[u8; 2]; 256] = {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut pairs = [[0; 2]; 256];
        let mut byte = 0;
        while byte < 256 {
            pairs[byte] = [HEX[byte >> 4], HEX[byte & 0xf]];
            byte += 1;
        }
        pairs
    };
    let mut hex = [0u8; 32];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(value.to_be_bytes()) {
        pair.copy_from_slice(&PAIRS[usize::from(byte)]);
    }
    let digits = &hex[32 - digits.min(32)..];
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

/// The command that reads the record: on a hit, the only round trip.
fn read_command(names: &Names) -> redis::Cmd {
    // Sized up front: two allocations, not four.
    let mut command = redis::Cmd::with_capacity(2, 3 + names.record.len());
    command.arg("GET").arg(&names.record);
    command
}

/// The record in the answer to [`read_command`]. A key of another Redis type
/// there (bad data) reads as no record, which the computation then
/// overwrites (`SET` replaces any type); it must not fail every call.
fn record_of(answer: Result<Option<Vec<u8>>, TierError>) -> Result<Option<Vec<u8>>, TierError> {
    match answer {
        Err(TierError::Redis(error)) if error.code() == Some("WRONGTYPE") => Ok(None),
        answer => answer,
    }
}

/// The script call that tries to win the computation lock (see [`LOCK`]).
fn lock_invocation(names: &Names, token: &str, lock_ms: u64) -> redis::ScriptInvocation<'static> {
    let mut invocation = LOCK.prepare_invoke();
    let [function_generation, key_generation] = names.generations();
    invocation
        .key(names.lock())
        .key(function_generation)
        .key(key_generation)
        .key(&names.record)
        .arg(token)
        .arg(lock_ms);
    invocation
}

/// The answer of [`LOCK`]: its status, the generations it read, and the
/// record when there was one (then no lock was taken).
type LockAnswer = (i64, String, String, Option<Vec<u8>>);

/// After [`LOCK`]: the record, if another computation stored it meanwhile;
/// else the claim to compute under, with the lock when it was won (logging,
/// once, a foreign key removed on the way), without it when `give_up`
/// (waited `lock_wait`); `None` to wait for the holder.
fn after_lock(
    (status, function_generation, key_generation, record): LockAnswer,
    names: &Names,
    token: &str,
    give_up: impl FnOnce() -> bool,
) -> Option<Begin> {
    if let Some(record) = record {
        return Some(Begin::Found(record));
    }
    let generations = [function_generation, key_generation];
    if status == 2 {
        warn_once(
            &FOREIGN_LOCK_WARNED,
            format_args!(
                "removed {}, which is not a lock of this crate's (no expiry)",
                names.lock()
            ),
        );
    }
    if status > 0 {
        return Some(Begin::Compute(Claim {
            generations,
            lock: Some(Lock {
                name: names.lock(),
                token: token.to_owned(),
            }),
        }));
    }
    give_up().then_some(Begin::Compute(Claim {
        generations,
        lock: None,
    }))
}

/// Whether a replica that lost the lock has waited `lock_wait` (until
/// `deadline`) and computes here, without it.
fn waited_enough(names: &Names, deadline: Instant) -> bool {
    let waited = Instant::now() >= deadline;
    if waited {
        tracing::debug!(
            record = names.record,
            "gave up waiting for another replica; computing here"
        );
    }
    waited
}

static FOREIGN_LOCK_WARNED: AtomicBool = AtomicBool::new(false);

/// How long a key's invalidation generation is remembered: a computation
/// that started before an invalidate and outlasts this could still write.
const KEY_GENERATION_TTL_MS: u64 = 60 * 60 * 1000;

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub(crate) struct RedisTier {
    servers: Servers,
    prefix: String,
    timeout: Duration,
    lock_wait: Duration,
    /// Identifies this process's messages on the events channel.
    instance: String,
    pool: Mutex<Vec<SyncLink>>,
    /// A failure to reach Redis (or to log in) was logged, and no call has
    /// succeeded since.
    outage: AtomicBool,
    /// The connection of async calls: one multiplexed connection for the
    /// process, made on the tokio runtime of the first async call (made
    /// again if that runtime is gone).
    multiplexed: Mutex<Option<AsyncLink>>,
    down_until: Mutex<Option<Instant>>,
}

impl RedisTier {
    /// A tier for `url`: one server, or a comma-separated list of a
    /// cluster's nodes.
    pub(crate) fn new(
        url: &str,
        prefix: String,
        timeout: Duration,
        lock_wait: Duration,
    ) -> Result<Self, RedisError> {
        let mut instance = [0u8; 8];
        let _ = getrandom::fill(&mut instance);
        Ok(Self {
            servers: Servers::open(url, timeout)?,
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

    /// `{prefix}{{function}}`: the start of every key of one function.
    /// Made with room for a key's suffix (`:r:{digest}`).
    fn function_keys(&self, function: u64) -> String {
        let mut keys = String::with_capacity(self.prefix.len() + 18 + RECORD_SUFFIX);
        keys.push_str(&self.prefix);
        keys.push('{');
        push_hex(&mut keys, u128::from(function), 16);
        keys.push('}');
        keys
    }

    /// The function's generation counter, bumped by its clears (and by a
    /// clear of everything).
    fn function_generation(&self, function: u64) -> String {
        format!("{}:g", self.function_keys(function))
    }

    /// The names of `key`'s record (and, on demand, lock and generations).
    fn names(&self, function: u64, key: &Key) -> Names {
        let digest = xxhash_rust::xxh3::xxh3_128(&key.wire());
        let mut record = self.function_keys(function);
        record.push_str(":r:");
        push_hex(&mut record, digest, 32);
        Names { digest, record }
    }

    /// Whether `key` (under the prefix) is a generation counter, which a
    /// clear must keep: resetting one would let a computation from before it
    /// write again.
    fn is_generation(&self, key: &str) -> bool {
        key.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.ends_with("}:g") || rest.contains("}:g:"))
    }

    pub(crate) fn channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// Runs `op` on a pooled connection, honouring and updating the backoff.
    fn with_connection<T>(
        &self,
        op: impl FnOnce(&mut SyncLink) -> Result<T, RedisError>,
    ) -> Result<T, TierError> {
        self.skip_if_down()?;
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let result = pooled
            .map_or_else(|| self.servers.connect(self.timeout), Ok)
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
            match connection.run(request).await {
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
        // Boxed: connecting is rare, and its future would size every request's.
        let mut connection = match Box::pin(self.servers.connect_async(self.timeout)).await {
            Ok(connection) => connection,
            Err(error) => return Err(self.failed(error)),
        };
        *self
            .multiplexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        match connection.run(request).await {
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
        read_first: bool,
    ) -> Result<Begin, TierError> {
        /// Tells this process's async claims apart (their lock tokens).
        static ASYNC_CLAIMS: AtomicU64 = AtomicU64::new(0);
        let names = self.names(function, key);
        let read_request = Request::Command(read_command(&names));
        // The common case, a record: one read, nothing more to prepare.
        if read_first && let Some(bytes) = record_of(self.run_async(&read_request).await)? {
            return Ok(Begin::Found(bytes));
        }
        let claim = ASYNC_CLAIMS.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}-async-{claim}", self.instance);
        let lock_request = Request::Script(lock_invocation(&names, &token, lock_ms(lock_ttl)));
        let deadline = Instant::now() + self.lock_wait;
        loop {
            // The script returns the record if another computation stored
            // it: taking the lock and finding no record are one step.
            let answer: LockAnswer = self.run_async(&lock_request).await?;
            if let Some(begun) =
                after_lock(answer, &names, &token, || waited_enough(&names, deadline))
            {
                return Ok(begun);
            }
            tokio::time::sleep(POLL).await;
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
            || error.is_connection_refusal()
            || error.is_cluster_error();
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

    /// The key's record, if there is one: one `GET`, nothing else.
    pub(crate) fn read(&self, function: u64, key: &Key) -> Result<Option<Vec<u8>>, TierError> {
        self.read_named(&self.names(function, key))
    }

    /// [`Self::read`] with the async client.
    pub(crate) async fn read_async(
        &self,
        function: u64,
        key: &Key,
    ) -> Result<Option<Vec<u8>>, TierError> {
        let names = self.names(function, key);
        record_of(
            self.run_async(&Request::Command(read_command(&names)))
                .await,
        )
    }

    fn read_named(&self, names: &Names) -> Result<Option<Vec<u8>>, TierError> {
        record_of(self.with_connection(|c| read_command(names).query(c.get())))
    }

    /// Looks for the record (unless `read_first` is `false`: the caller just
    /// did); when it is missing, tries to win the computation lock, and
    /// otherwise waits (up to `lock_wait`) for the replica that holds it.
    pub(crate) fn begin(
        &self,
        function: u64,
        key: &Key,
        lock_ttl: Duration,
        read_first: bool,
    ) -> Result<Begin, TierError> {
        let names = self.names(function, key);
        let read_once = || self.read_named(&names);
        // The common case, a record: one read, nothing more to prepare.
        if read_first && let Some(bytes) = read_once()? {
            return Ok(Begin::Found(bytes));
        }
        let token = format!("{}-{:?}", self.instance, std::thread::current().id());
        let lock = lock_invocation(&names, &token, lock_ms(lock_ttl));
        let deadline = Instant::now() + self.lock_wait;
        loop {
            // As in `begin_async`: the record, or the lock, in one step.
            let answer: LockAnswer = self.with_connection(|c| lock.invoke(c.get()))?;
            if let Some(begun) =
                after_lock(answer, &names, &token, || waited_enough(&names, deadline))
            {
                return Ok(begun);
            }
            std::thread::sleep(POLL);
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
        let stored: i64 = self.with_connection(|c| script.invoke(c.get()))?;
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
        let names = self.names(function, key);
        let (lock_name, token) = claim.lock.map_or_else(
            || (names.lock(), String::new()),
            |lock| (lock.name, lock.token),
        );
        let ttl_ms = ttl.map_or(0, lock_ms);
        let [function_generation, key_generation] = claim.generations;
        let [function_counter, key_counter] = names.generations();
        let mut invocation = FINISH.prepare_invoke();
        invocation
            .key(names.record)
            .key(function_counter)
            .key(key_counter)
            .key(lock_name)
            .arg(record.unwrap_or_default())
            .arg(ttl_ms)
            .arg(function_generation)
            .arg(key_generation)
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
        let names = self.names(function, key);
        // Bump first: a computation that read the old generation can no
        // longer write, then remove what was written before.
        let [_, key_generation] = names.generations();
        self.bump(&key_generation, KEY_GENERATION_TTL_MS)?;
        self.with_connection(|c| {
            redis::cmd("UNLINK")
                .arg(&names.record)
                .query::<i64>(c.get())
                .map(drop)
        })?;
        self.publish(&format!("invalidate {function:016x} {}", hex(&key.wire())))
    }

    /// Deletes every record of one function and tells the other processes.
    pub(crate) fn clear_function(&self, function: u64) -> Result<(), TierError> {
        // Bump first: a computation that read the old generation can no
        // longer write, then remove what was written before.
        self.bump(&self.function_generation(function), 0)?;
        let records = format!("{}{{{function:016x}}}:r:*", glob_escape(&self.prefix));
        self.delete_matching(&records)?;
        self.publish(&format!("clear {function:016x}"))
    }

    /// Deletes every record under the prefix and tells the other processes.
    ///
    /// First every function's generation counter is bumped (found by
    /// `SCAN` on every master), so that no computation that began before
    /// can write; only then is everything else deleted. A function without
    /// a counter has never had a computation begin (one is made before its
    /// first), so it has no record to fence.
    pub(crate) fn clear_all(&self) -> Result<(), TierError> {
        let prefix = glob_escape(&self.prefix);
        let counters = self.scan_all(&format!("{prefix}{{*}}:g"))?;
        for counter in counters.iter().filter(|key| key.ends_with("}:g")) {
            self.bump(counter, 0)?;
        }
        self.delete_matching(&format!("{prefix}*"))?;
        self.publish("clear-all")
    }

    /// Bumps a generation counter (see [`BUMP`]), expiring it after
    /// `expire_ms` (`0`: never).
    fn bump(&self, generation: &str, expire_ms: u64) -> Result<(), TierError> {
        // A number no computation read: far above what counting reaches.
        let fresh = (1u64 << 62) | (getrandom::u64().unwrap_or_default() >> 2);
        self.with_connection(|c| {
            BUMP.key(generation)
                .arg(fresh)
                .arg(expire_ms)
                .invoke::<i64>(c.get())
                .map(drop)
        })
    }

    /// Every key matching `pattern`, on every master.
    fn scan_all(&self, pattern: &str) -> Result<Vec<String>, TierError> {
        self.with_connection(|link| {
            let mut found = Vec::new();
            for node in link.masters()? {
                let mut cursor = 0;
                loop {
                    let (next, keys) = link.scan(&node, cursor, pattern)?;
                    found.extend(keys);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Ok(found)
        })
    }

    /// Deletes the keys matching `pattern` on every master, except the
    /// generation counters. Keys are deleted by hash tag (one `UNLINK` per
    /// function in each batch), as a cluster refuses keys of several slots
    /// in one command.
    fn delete_matching(&self, pattern: &str) -> Result<(), TierError> {
        self.with_connection(|link| {
            for node in link.masters()? {
                let mut cursor = 0;
                loop {
                    let (next, keys) = link.scan(&node, cursor, pattern)?;
                    let mut by_tag: HashMap<&str, Vec<&str>> = HashMap::new();
                    for key in keys.iter().filter(|key| !self.is_generation(key)) {
                        by_tag.entry(hash_tag(key)).or_default().push(key);
                    }
                    for keys in by_tag.values() {
                        redis::cmd("UNLINK")
                            .arg(keys)
                            .query::<i64>(link.get())
                            .map(drop)?;
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Ok(())
        })
    }

    fn publish(&self, event: &str) -> Result<(), TierError> {
        let message = format!("{} {event}", self.instance);
        self.with_connection(|c| {
            redis::cmd("PUBLISH")
                .arg(self.channel())
                .arg(&message)
                .query::<i64>(c.get())
                .map(drop)
        })
    }

    /// Listens on the events channel in a background thread, reconnecting
    /// after failures (to the next node of a cluster), and hands other
    /// processes' events to `apply`. Returns once subscribed (or after the
    /// timeout, if Redis is unreachable).
    pub(crate) fn listen(&self, apply: fn(Event), live: fn(bool)) {
        let clients = self.servers.subscribers();
        let channel = self.channel();
        let instance = self.instance.clone();
        let timeout = self.timeout;
        let (ready, subscribed) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("cache-runtime-redis-events".into())
            .spawn(move || {
                for client in clients.iter().cycle() {
                    let subscription =
                        subscribe_once(client, &channel, &instance, timeout, &ready, apply, live);
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

/// `duration` in whole milliseconds, at least 1 (Redis refuses 0).
fn lock_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::{glob_escape, push_hex};

    #[test]
    fn hex_digits_are_formats_own() {
        let mut out = String::new();
        push_hex(&mut out, 0x00ab_cdef_0123_4567_89ab_cdef_0123_4567, 32);
        assert_eq!(
            out,
            format!("{:032x}", 0x00ab_cdef_0123_4567_89ab_cdef_0123_4567_u128)
        );
        out.clear();
        push_hex(&mut out, 0xff, 16);
        assert_eq!(out, "00000000000000ff");
    }

    #[test]
    fn prefixes_are_literal_in_scan_patterns() {
        assert_eq!(glob_escape("app:"), "app:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
