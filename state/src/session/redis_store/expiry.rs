//! The background task of [`RedisStore::with_expiry_events`](super::RedisStore::with_expiry_events):
//! hears Redis expire sessions, on the one server or on every master of a
//! cluster, and reports each expiry once.

use std::collections::HashSet;
use std::sync::{PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::{join_all, ready};
use futures_util::stream::{self, BoxStream, SelectAll, StreamExt as _};
use redis::{AsyncCommands as _, AsyncConnectionConfig, RedisResult};
use tokio::time::Instant;

use super::super::id::SessionId;
use super::super::shared::end_cached;
use super::super::store::{EndReason, ExpiryListener};
use super::connection::{CONNECTION_TIMEOUT, Connection, EventSources, RESPONSE_TIMEOUT};
use super::keys::{Keys, SHARDS};

/// The channels of expired-key events, of every database.
const EXPIRED_EVENTS: &str = "__keyevent@*__:expired";

/// How often the watcher re-reads which nodes to hear while it hears them all
/// (on a cluster, a failover or a new master changes them).
const TOPOLOGY_CHECK: Duration = Duration::from_secs(15);

/// How soon the watcher tries again after losing a node's subscription.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);

/// How many due deadlines one catch-up request reads.
const CATCH_UP_BATCH: usize = 500;

/// Now, in unix milliseconds.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// What the merged subscriptions report.
enum Heard {
    /// A key expired (its name).
    Expired(String),
    /// The subscription to this node ended (a lost connection).
    Lost(String),
}

/// The live subscriptions, one per node, merged into one stream.
#[derive(Default)]
pub(super) struct Subscriptions {
    /// The nodes subscribed to, by address.
    nodes: HashSet<String>,
    heard: SelectAll<BoxStream<'static, Heard>>,
}

impl Subscriptions {
    fn add(&mut self, node: String, pubsub: redis::aio::PubSub) {
        let lost = Heard::Lost(node.clone());
        let events = pubsub
            .into_on_message()
            .filter_map(|message| ready(message.get_payload::<String>().ok().map(Heard::Expired)))
            .chain(stream::once(ready(lost)));
        self.heard.push(events.boxed());
        self.nodes.insert(node);
    }
}

/// Hears expiry events and reports expired sessions; see
/// [`RedisStore::with_expiry_events`](super::RedisStore::with_expiry_events).
pub(super) struct ExpiryWatcher {
    pub(super) conn: Connection,
    pub(super) sources: EventSources,
    pub(super) keys: Keys,
    /// The store's listener slot: gone once every clone of the store is.
    pub(super) listener: Weak<RwLock<Option<ExpiryListener>>>,
}

impl ExpiryWatcher {
    /// Turns notifications on and subscribes on every node; fails unless
    /// every node's subscription works.
    pub(super) async fn subscribe_everywhere(&self) -> RedisResult<Subscriptions> {
        let mut subscriptions = Subscriptions::default();
        let mut warned = false;
        for (node, client) in self.sources.nodes(&mut self.conn.clone()).await? {
            if let Err(error) = enable_notifications(&client).await
                && !warned
            {
                warned = true;
                tracing::warn!(
                    %error,
                    node,
                    "cannot enable Redis keyspace notifications; configure `notify-keyspace-events Ex` on the server"
                );
            }
            subscriptions.add(node, subscribe(&client).await?);
        }
        Ok(subscriptions)
    }

    /// Reports expiries until every clone of the store is dropped: first the
    /// sessions that expired unheard, then each event; a node whose
    /// subscription is lost is subscribed to again (and the unheard expiries
    /// caught up) as soon as it answers.
    pub(super) async fn run(self, mut subscriptions: Subscriptions) {
        self.catch_up().await;
        let mut next_check = Instant::now() + TOPOLOGY_CHECK;
        loop {
            // `None`: time to check the nodes. With every subscription lost,
            // the merged stream is empty and only the timer runs.
            let heard = tokio::select! {
                Some(heard) = subscriptions.heard.next(), if !subscriptions.heard.is_empty() => Some(heard),
                () = tokio::time::sleep_until(next_check) => None,
            };
            if self.listener.strong_count() == 0 {
                return;
            }
            match heard {
                Some(Heard::Expired(key)) => self.expired(&key).await,
                Some(Heard::Lost(node)) => {
                    subscriptions.nodes.remove(&node);
                    next_check = next_check.min(Instant::now() + RESUBSCRIBE_PAUSE);
                }
                None => {
                    let complete = self.subscribe_missing(&mut subscriptions).await;
                    let pause = if complete {
                        TOPOLOGY_CHECK
                    } else {
                        RESUBSCRIBE_PAUSE
                    };
                    next_check = Instant::now() + pause;
                }
            }
        }
    }

    /// Subscribes to the nodes to hear that have no subscription (a lost
    /// one, a new master), then catches up if any was added. Returns whether
    /// every node is heard.
    async fn subscribe_missing(&self, subscriptions: &mut Subscriptions) -> bool {
        let nodes = match self.sources.nodes(&mut self.conn.clone()).await {
            Ok(nodes) => nodes,
            Err(error) => {
                tracing::debug!(%error, "reading the Redis nodes to hear expiry events from");
                return false;
            }
        };
        let (mut added, mut complete) = (false, true);
        for (node, client) in nodes {
            if subscriptions.nodes.contains(&node) {
                continue;
            }
            // A promoted replica, or a restarted server, may not have them on.
            if let Err(error) = enable_notifications(&client).await {
                tracing::debug!(%error, node, "enabling Redis keyspace notifications");
            }
            match subscribe(&client).await {
                Ok(pubsub) => {
                    subscriptions.add(node, pubsub);
                    added = true;
                }
                Err(error) => {
                    tracing::debug!(%error, node, "re-subscribing to Redis expiry events");
                    complete = false;
                }
            }
        }
        if added {
            self.catch_up().await;
        }
        complete
    }

    /// Reports the sessions whose deadline passed and whose data is gone,
    /// which expired while no replica heard it (or before this one
    /// subscribed): the claim in [`Self::expired`] keeps each report single.
    /// Every shard at once, so a shard whose node is down delays the others
    /// by one response timeout at most.
    async fn catch_up(&self) {
        join_all((0..SHARDS).map(|shard| self.catch_up_shard(shard))).await;
    }

    async fn catch_up_shard(&self, shard: u8) {
        let deadlines = self.keys.deadlines(shard);
        let mut conn = self.conn.clone();
        loop {
            let due: RedisResult<Vec<String>> = redis::cmd("ZRANGEBYSCORE")
                .arg(&deadlines)
                .arg("-inf")
                .arg(now_ms())
                .arg("LIMIT")
                .arg(0)
                .arg(CATCH_UP_BATCH)
                .query_async(&mut conn)
                .await;
            // Unreadable (down, or not a sorted set): the next subscription looks again.
            let Ok(due) = due else { return };
            let mut gone = 0;
            for member in &due {
                let Some(id) = SessionId::parse(member) else {
                    // Not an id (bad data): out of the way of the next reads.
                    let _: RedisResult<i64> = conn.zrem(&deadlines, member).await;
                    gone += 1;
                    continue;
                };
                let exists: RedisResult<bool> = conn.exists(self.keys.session(id)).await;
                match exists {
                    // Touched since, by a replica that keeps no deadlines:
                    // its next touch here, or its expiry event, will do.
                    Ok(true) => {}
                    Ok(false) => {
                        gone += 1;
                        self.report(id).await;
                    }
                    Err(_) => return,
                }
            }
            // Every id left is still alive: the next subscription looks again.
            if due.len() < CATCH_UP_BATCH || gone == 0 {
                return;
            }
        }
    }

    /// Handles the expiry of key `key`, if it is a session's.
    async fn expired(&self, key: &str) {
        if let Some(id) = self.keys.session_id(key) {
            self.report(id).await;
        }
    }

    /// Reports that session `id` expired, unless another replica claims it first.
    async fn report(&self, id: SessionId) {
        // Every replica drops its own session-scoped cache entries of it.
        end_cached(id);
        let mut conn = self.conn.clone();
        // Replicas race for the claim; only the winner reports the expiry.
        let claim: RedisResult<Option<String>> = redis::cmd("SET")
            .arg(self.keys.expiry_claim(id))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(60_000)
            .query_async(&mut conn)
            .await;
        // Whoever heard of it: the deadlines need it no longer.
        let _: RedisResult<i64> = conn.zrem(self.keys.deadlines_of(id), id.to_string()).await;
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

/// Turns on `notify-keyspace-events` flags `E` and `x` on the node of
/// `client`, keeping the flags already set (`CONFIG SET` only when one is
/// missing: a managed Redis that forbids it but has them set is fine).
async fn enable_notifications(client: &redis::Client) -> RedisResult<()> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let current: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(&mut conn)
        .await?;
    let mut flags = current.get(1).cloned().unwrap_or_default();
    let before = flags.len();
    if !flags.contains('E') {
        flags.push('E');
    }
    if !flags.contains('x') && !flags.contains('A') {
        flags.push('x');
    }
    if flags.len() == before {
        return Ok(());
    }
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg(flags)
        .query_async(&mut conn)
        .await
}

/// A subscription to the expired-key events of `client`'s node, given up
/// after the connection and response timeouts (a node that hangs).
async fn subscribe(client: &redis::Client) -> RedisResult<redis::aio::PubSub> {
    let subscribing = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe(EXPIRED_EVENTS).await?;
        Ok(pubsub)
    };
    tokio::time::timeout(CONNECTION_TIMEOUT + RESPONSE_TIMEOUT, subscribing)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "subscribing to Redis expiry events timed out",
            )
            .into())
        })
}
