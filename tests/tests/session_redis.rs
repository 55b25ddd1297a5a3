//! The session behaviour suite (`state/tests/session_common`) against a real
//! `redis-server` started on a loopback port, plus what only an external store
//! can show: two app instances with their own connections sharing sessions, and
//! an outage.

#[path = "../../state/tests/session_common/mod.rs"]
mod session_common;
mod session_redis_common;

use std::collections::BTreeSet;
use std::time::Duration;

use http::StatusCode;
use integration_tests::RedisServer;
use session_common::*;
use session_redis_common::{
    assert_each_expired_once, kill_subscriptions, session_keys, with_suite_checks,
};
use state::RedisStore;

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url())
        .await
        .expect("connect to the test redis-server")
}

/// Stamps one test per suite check, each with its own `redis-server`.
macro_rules! redis_suite {
    ($($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let server = RedisServer::start();
                session_common::$check(store(&server).await).await;
            }
        )+
    };
}

with_suite_checks!(redis_suite);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn atomic_increments_on_redis() {
    let server = RedisServer::start();
    atomic_increments(store(&server).await, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_sessions() {
    let server = RedisServer::start();
    shared_between_instances(store(&server).await, store(&server).await, 100).await;
}

#[tokio::test]
async fn idle_sessions_expire_on_redis() {
    let server = RedisServer::start();
    let store = store(&server)
        .await
        .with_idle_timeout(Duration::from_millis(1000));
    expiry(store, Duration::from_millis(1600)).await;
}

#[tokio::test]
async fn key_prefixes_separate_apps() {
    let server = RedisServer::start();
    let mut c = Client::new(app(layer(store(&server).await.with_key_prefix("one:"))));
    c.ok("/visit").await;
    let other = app(layer(store(&server).await.with_key_prefix("two:")));
    let (_, body, _) = request(&other, "/visits", c.cookie.as_deref()).await;
    assert_eq!(body, "0");
}

#[tokio::test]
async fn an_outage_is_an_error_not_a_panic_and_recovers() {
    let mut server = RedisServer::start();
    let mut c = Client::new(app(layer(store(&server).await)));
    assert_eq!(c.ok("/visit").await, "1");
    server.kill();
    let (status, _) = c.get("/visit").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) = c.get("/visits").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "0"),
        "plain reads fall back to the default"
    );
    server.restart();
    // The restarted server is empty (persistence is off): a fresh session, served normally.
    let mut ok = false;
    for _ in 0..50 {
        if c.get("/visit").await.0 == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the store reconnects after the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_events_run_the_end_hook_once_across_replicas() {
    let server = RedisServer::start();
    let replica = || async {
        store(&server)
            .await
            .with_idle_timeout(Duration::from_millis(300))
            .with_expiry_events()
            .await
            .expect("subscribe to expiry events")
    };
    let log = HookLog::default();
    let app_a = app(log.install(layer(replica().await)));
    let app_b = app(log.install(layer(replica().await)));
    let mut c = Client::new(app_a);
    c.ok("/visit").await;
    let id = c.session_id();
    let mut on_b = c.with_app(app_b);
    assert_eq!(on_b.ok("/visit").await, "2");
    // Reported once, by one replica.
    assert_each_expired_once(&log, &BTreeSet::from([id])).await;
    // Explicit ends and id cycling are not reported as expiries.
    on_b.ok("/visit").await;
    on_b.ok("/cycle").await;
    on_b.ok("/end").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reasons: Vec<_> = log.ended.lock().unwrap().iter().map(|(_, r)| *r).collect();
    assert_eq!(
        reasons,
        [state::EndReason::Expired, state::EndReason::Ended]
    );
}

/// A session that expires while no replica hears Redis (the subscription
/// cut) is reported when the subscription is back, once, from the sorted set
/// of deadlines, not lost with the event nobody received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_expire_unheard_are_reported_when_the_subscription_is_back() {
    let server = RedisServer::start();
    let log = HookLog::default();
    let store = store(&server)
        .await
        .with_idle_timeout(Duration::from_millis(200))
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    let mut c = Client::new(app(log.install(layer(store))));
    c.ok("/visit").await;
    let id = c.session_id();
    let (_, deadlines_key) = session_keys(state::session::DEFAULT_KEY_PREFIX, &id);

    // Cut the subscription: the watcher resubscribes after 500 ms, and the
    // session expires (200 ms idle) in between, its event heard by no one.
    assert_eq!(kill_subscriptions(server.port()).await, 1);
    assert_each_expired_once(&log, &BTreeSet::from([id])).await;
    let mut admin = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadlines: i64 = redis::cmd("ZCARD")
        .arg(&deadlines_key)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(deadlines, 0, "its deadline is gone too");
}

/// Cycling the id moves the session and its deadline to the new id's shard
/// (one `RENAME` script on one server, across shards too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycled_ids_take_their_deadlines_along() {
    let server = RedisServer::start();
    let store = store(&server)
        .await
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    let mut admin = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut c = Client::new(app(layer(store)));
    for visits in 1..=5 {
        assert_eq!(c.ok("/visit").await, visits.to_string());
        let old = c.session_id();
        c.ok("/cycle").await;
        let new = c.session_id();
        let (old_key, old_deadlines) = session_keys(state::session::DEFAULT_KEY_PREFIX, &old);
        let (new_key, new_deadlines) = session_keys(state::session::DEFAULT_KEY_PREFIX, &new);
        let (old_exists, new_exists, old_deadline, new_deadline): (
            bool,
            bool,
            Option<f64>,
            Option<f64>,
        ) = redis::pipe()
            .exists(&old_key)
            .exists(&new_key)
            .zscore(&old_deadlines, &old)
            .zscore(&new_deadlines, &new)
            .query_async(&mut admin)
            .await
            .unwrap();
        assert_eq!(
            (old_exists, new_exists, old_deadline),
            (false, true, None),
            "cycle {visits}"
        );
        assert!(
            new_deadline.is_some(),
            "cycle {visits}: the new id's deadline"
        );
        assert_eq!(c.ok("/visits").await, visits.to_string());
    }
}

/// Bad data under the store's prefix (another program's keys, a corrupted
/// deadlines set, a field that is not JSON of its type) never panics or
/// fails a request: the session reads its defaults, or starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_in_the_session_store_is_survived() {
    let server = RedisServer::start();
    let store = store(&server)
        .await
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    let mut admin = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut c = Client::new(app(layer(store)));
    assert_eq!(c.ok("/visit").await, "1");
    let (key, deadlines_key) = session_keys(state::session::DEFAULT_KEY_PREFIX, &c.session_id());
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(exists, "the session is the documented key {key}");

    session_redis_common::bad_data_is_survived(&mut c, &mut admin, &key, &deadlines_key).await;
}

#[tokio::test]
async fn without_expiry_events_expiry_is_silent() {
    let server = RedisServer::start();
    let log = HookLog::default();
    let store = store(&server)
        .await
        .with_idle_timeout(Duration::from_millis(200));
    let mut c = Client::new(app(log.install(layer(store))));
    c.ok("/visit").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(log.counts(), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_scoped_caches_follow_redis_sessions() {
    let server = RedisServer::start();
    session_common::cache_scope::session_scoped_caches(store(&server).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_redis_session_releases_its_cached_resources() {
    let server = RedisServer::start();
    let store = store(&server)
        .await
        .with_idle_timeout(Duration::from_millis(300))
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    // Redis expires idle keys on its own; nothing to nudge.
    session_common::cache_scope::session_scoped_caches_end_on_expiry(
        store,
        Duration::from_millis(400),
        || {},
    )
    .await;
}
