//! The session behaviour suite (`state/tests/session_common`) against a real
//! three-master Redis Cluster on loopback ports, as `session_redis` runs it
//! against one server, plus what only a cluster shows: sessions spread over
//! the masters, id cycling that moves a session between slots, expiry events
//! heard from every master.
//!
//! The checks that cannot disturb each other share one cluster, each under
//! its own key prefix ([`shared_cluster`]); those that cut connections or
//! kill the nodes start their own.

#[path = "../../state/tests/session_common/mod.rs"]
mod session_common;
mod session_redis_common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use http::StatusCode;
use integration_tests::RedisCluster;
use redis::cluster_async::ClusterConnection;
use session_common::*;
use session_redis_common::{
    assert_each_expired_once, kill_subscriptions, session_keys, shard, with_suite_checks,
};
use state::{EndReason, RedisStore, SessionId, SessionStore};

/// The cluster of the tests running at the same time: started by the first
/// one that needs it, its nodes killed when the last one drops it.
fn shared_cluster() -> Arc<RedisCluster> {
    static SHARED: Mutex<Weak<RedisCluster>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cluster) = shared.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(RedisCluster::start());
    *shared = Arc::downgrade(&cluster);
    cluster
}

/// A store on `cluster` under the key prefix `<name>:`.
async fn store(cluster: &RedisCluster, name: &str) -> RedisStore {
    RedisStore::open(&cluster.url())
        .await
        .expect("connect to the test cluster")
        .with_key_prefix(format!("{name}:"))
}

/// A cluster connection for the test's own looks at the keys.
async fn admin(cluster: &RedisCluster) -> ClusterConnection {
    redis::cluster::ClusterClient::new(cluster.url().split(','))
        .unwrap()
        .get_async_connection()
        .await
        .unwrap()
}

/// Stamps one test per suite check, each on the shared cluster under its own
/// prefix.
macro_rules! redis_suite {
    ($($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let cluster = shared_cluster();
                session_common::$check(store(&cluster, stringify!($check)).await).await;
            }
        )+
    };
}

with_suite_checks!(redis_suite);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn atomic_increments_on_a_cluster() {
    let cluster = shared_cluster();
    atomic_increments(store(&cluster, "atomic").await, 100).await;
}

/// One instance opened from the URL list, the other from a `ClusterClient`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_sessions_on_a_cluster() {
    let cluster = shared_cluster();
    let nodes: Vec<String> = cluster.url().split(',').map(str::to_owned).collect();
    let client = redis::cluster::ClusterClient::builder(nodes.clone())
        .connection_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let other = RedisStore::cluster(client, nodes[0].as_str())
        .await
        .expect("connect through a ClusterClient")
        .with_key_prefix("shared:");
    shared_between_instances(store(&cluster, "shared").await, other, 100).await;
}

#[tokio::test]
async fn idle_sessions_expire_on_a_cluster() {
    let cluster = shared_cluster();
    let store = store(&cluster, "idle")
        .await
        .with_idle_timeout(Duration::from_millis(1000));
    expiry(store, Duration::from_millis(1600)).await;
}

/// Sessions land on every master: the shards' hash tags spread them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_spread_over_the_masters() {
    let cluster = shared_cluster();
    let store = store(&cluster, "spread").await;
    for _ in 0..60 {
        store
            .set(SessionId::random(), "VISITS", "1".to_owned(), usize::MAX)
            .await
            .unwrap();
    }
    let mut per_master = Vec::new();
    for port in cluster.ports() {
        let mut node = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("spread:*")
            .query_async(&mut node)
            .await
            .unwrap();
        per_master.push(keys.len());
    }
    assert_eq!(per_master.iter().sum::<usize>(), 60, "{per_master:?}");
    assert!(
        per_master.iter().all(|&keys| keys > 0),
        "every master holds sessions: {per_master:?}"
    );
}

/// Cycling the id keeps the state, whether the new id is in the old one's
/// slot (a `RENAME`) or another (a copy, then a delete): the session, its
/// idle timer and its deadline all follow, and the old id is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycled_ids_move_sessions_across_slots() {
    let cluster = shared_cluster();
    let idle = Duration::from_secs(60);
    let store = store(&cluster, "cycle")
        .await
        .with_idle_timeout(idle)
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    let mut admin = admin(&cluster).await;
    let app = app(layer(store));
    let mut c = Client::new(app.clone());
    c.ok("/user/set/ada").await;
    let mut moves_across_shards = 0;
    for visits in 1..=40 {
        assert_eq!(c.ok("/visit").await, visits.to_string());
        let old = c.session_id();
        c.ok("/cycle").await;
        let new = c.session_id();
        assert_ne!(old, new);
        if shard(&old) != shard(&new) {
            moves_across_shards += 1;
        }
        assert_eq!(c.ok("/visits").await, visits.to_string(), "cycle {visits}");
        assert_eq!(c.ok("/user").await, "Some(\"ada\")");

        let (old_key, old_deadlines) = session_keys("cycle:", &old);
        let (new_key, new_deadlines) = session_keys("cycle:", &new);
        let old_exists: bool = redis::cmd("EXISTS")
            .arg(&old_key)
            .query_async(&mut admin)
            .await
            .unwrap();
        assert!(!old_exists, "{old_key} is gone");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&new_key)
            .query_async(&mut admin)
            .await
            .unwrap();
        assert!(
            ttl > 0 && ttl <= 60_000,
            "{new_key} keeps an idle timer: {ttl}"
        );
        let old_deadline: Option<f64> = redis::cmd("ZSCORE")
            .arg(&old_deadlines)
            .arg(&old)
            .query_async(&mut admin)
            .await
            .unwrap();
        let new_deadline: Option<f64> = redis::cmd("ZSCORE")
            .arg(&new_deadlines)
            .arg(&new)
            .query_async(&mut admin)
            .await
            .unwrap();
        assert_eq!(old_deadline, None, "the old id's deadline is gone");
        assert!(new_deadline.is_some(), "the new id has a deadline");

        let mut stale = Client::new(app.clone());
        stale.cookie = Some(format!("{COOKIE}={old}"));
        assert_eq!(stale.ok("/visits").await, "0", "the old id no longer works");
        if moves_across_shards >= 5 {
            break;
        }
    }
    assert!(
        moves_across_shards >= 5,
        "{moves_across_shards} moves across shards"
    );
}

/// Sessions on every master expire and are reported, each once, though two
/// replicas hear every master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_events_from_every_master_run_the_end_hook_once() {
    let cluster = shared_cluster();
    let replica = || async {
        store(&cluster, "events")
            .await
            .with_idle_timeout(Duration::from_millis(300))
            .with_expiry_events()
            .await
            .expect("subscribe to expiry events")
    };
    let log = HookLog::default();
    let app_a = app(log.install(layer(replica().await)));
    let app_b = app(log.install(layer(replica().await)));
    let mut ids = BTreeSet::new();
    for _ in 0..12 {
        let mut c = Client::new(app_a.clone());
        c.ok("/visit").await;
        let mut on_b = c.with_app(app_b.clone());
        assert_eq!(on_b.ok("/visit").await, "2");
        ids.insert(c.session_id());
    }
    let shards: BTreeSet<u8> = ids.iter().map(|id| shard(id)).collect();
    assert!(shards.len() > 1, "{shards:?}");
    assert_each_expired_once(&log, &ids).await;

    // Explicit ends and id cycling (across slots too) are not expiries.
    let mut c = Client::new(app_b);
    for _ in 0..4 {
        c.ok("/visit").await;
        c.ok("/cycle").await;
    }
    c.ok("/end").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reasons: Vec<_> = log.ended.lock().unwrap()[ids.len()..]
        .iter()
        .map(|(_, reason)| *reason)
        .collect();
    assert_eq!(reasons, [EndReason::Ended]);
}

/// Sessions that expire while no replica hears any master (every
/// subscription cut) are reported when the subscriptions are back, once each,
/// from the shards' deadlines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_expire_unheard_are_reported_when_the_subscriptions_are_back() {
    // Its own cluster: cutting every subscription would disturb other tests.
    let cluster = RedisCluster::start();
    let log = HookLog::default();
    let store = store(&cluster, "unheard")
        .await
        .with_idle_timeout(Duration::from_millis(200))
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    let app = app(log.install(layer(store)));
    let mut ids = BTreeSet::new();
    for _ in 0..8 {
        let mut c = Client::new(app.clone());
        c.ok("/visit").await;
        ids.insert(c.session_id());
    }

    // Cut the subscription on every master: the watcher resubscribes after
    // 500 ms, and the sessions expire (200 ms idle) in between, their events
    // heard by no one.
    for port in cluster.ports() {
        assert_eq!(
            kill_subscriptions(*port).await,
            1,
            "one subscription on node {port}"
        );
    }
    assert_each_expired_once(&log, &ids).await;
    let mut admin = admin(&cluster).await;
    for id in &ids {
        let (_, deadlines) = session_keys("unheard:", id);
        let deadline: Option<f64> = redis::cmd("ZSCORE")
            .arg(&deadlines)
            .arg(id)
            .query_async(&mut admin)
            .await
            .unwrap();
        assert_eq!(deadline, None, "its deadline is gone too");
    }
}

/// Bad data under the store's prefix never panics or fails a request, on a
/// cluster as on one server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_in_the_session_store_is_survived_on_a_cluster() {
    let cluster = shared_cluster();
    let store = store(&cluster, "bad")
        .await
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    let mut admin = admin(&cluster).await;
    let mut c = Client::new(app(layer(store)));
    assert_eq!(c.ok("/visit").await, "1");
    let (key, deadlines) = session_keys("bad:", &c.session_id());

    session_redis_common::bad_data_is_survived(&mut c, &mut admin, &key, &deadlines).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cluster_session_releases_its_cached_resources() {
    let cluster = shared_cluster();
    let store = store(&cluster, "cached")
        .await
        .with_idle_timeout(Duration::from_millis(300))
        .with_expiry_events()
        .await
        .expect("subscribe to expiry events");
    session_common::cache_scope::session_scoped_caches_end_on_expiry(
        store,
        Duration::from_millis(400),
        || {},
    )
    .await;
}

/// The cluster gone, requests that write fail with a 500 (within the
/// response timeout), plain reads fall back to defaults, nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_outage_is_an_error_not_a_panic() {
    let cluster = RedisCluster::start();
    let mut c = Client::new(app(layer(store(&cluster, "outage").await)));
    assert_eq!(c.ok("/visit").await, "1");
    drop(cluster);
    let started = std::time::Instant::now();
    let (status, _) = c.get("/visit").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed in {:?}",
        started.elapsed()
    );
    let (status, body) = c.get("/visits").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "0"),
        "plain reads fall back to the default"
    );
}

/// A list of nothing, or of nodes that do not answer, is an error.
#[tokio::test]
async fn bad_cluster_urls_are_errors() {
    for url in ["", " , ", "redis://127.0.0.1:1/,not a url"] {
        assert!(RedisStore::open(url).await.is_err(), "{url:?}");
    }
    let unused: Vec<String> = (0..2)
        .map(|_| format!("redis://127.0.0.1:{}/", integration_tests::free_port()))
        .collect();
    assert!(RedisStore::open(&unused.join(",")).await.is_err());
}
