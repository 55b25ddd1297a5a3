//! What the Redis session tests on one server (`session_redis`) and on a
//! cluster (`session_redis_cluster`) share: the suite's checks, the
//! documented key layout, cutting subscriptions, expiry reports and the
//! bad-data checks.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::collections::BTreeSet;
use std::time::Duration;

use http::StatusCode;
use state::EndReason;

use crate::session_common::{Client, HookLog};

/// Invokes `$stamp! { check, .. }` with every check of the session suite
/// (`state/tests/session_common`) a Redis store runs: one list for both files.
macro_rules! with_suite_checks {
    ($stamp:ident) => {
        $stamp! {
            basic_operations,
            isolation,
            lazy_loading,
            type_change_falls_back_to_default,
            size_limits,
            cookie_attributes,
            garbage_cookies,
            protected_cookies,
            cycle_id,
            end,
            hooks,
            spawned_tasks,
            no_lost_update,
        }
    };
}
pub(crate) use with_suite_checks;

/// Kills the pub/sub connections (the expiry subscriptions) of the Redis
/// node on `port`; how many there were.
pub(crate) async fn kill_subscriptions(port: u16) -> i64 {
    let mut node = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut node)
        .await
        .unwrap()
}

/// Waits up to five seconds for `log` to record `ends` session ends.
pub(crate) async fn wait_for_ends(log: &HookLog, ends: usize) {
    for _ in 0..100 {
        if log.counts().1 >= ends {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for `log` to report the sessions `ids` (and 600 ms more, room for
/// a duplicate), then checks each was reported once, as expired.
pub(crate) async fn assert_each_expired_once(log: &HookLog, ids: &BTreeSet<String>) {
    wait_for_ends(log, ids.len()).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ended = log.ended.lock().unwrap().clone();
    assert_eq!(ended.len(), ids.len(), "each reported once: {ended:?}");
    let reported: BTreeSet<String> = ended.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(&reported, ids);
    assert!(
        ended
            .iter()
            .all(|(_, reason)| *reason == EndReason::Expired),
        "{ended:?}"
    );
}

/// The shard of session `id` in the layout `state::session::DEFAULT_KEY_PREFIX`
/// documents: its last two hex digits modulo 64.
pub(crate) fn shard(id: &str) -> u8 {
    u8::from_str_radix(&id[id.len() - 2..], 16).unwrap() % 64
}

/// The Redis keys of session `id` under `prefix`: its hash and its shard's
/// deadlines.
pub(crate) fn session_keys(prefix: &str, id: &str) -> (String, String) {
    let shard = shard(id);
    (
        format!("{prefix}{{{shard:02x}}}{id}"),
        format!("{prefix}{{{shard:02x}}}$deadlines"),
    )
}

/// Writes bad data where `c`'s session lives (its hash `key`, its shard's
/// `deadlines`), through `admin`: a deadlines set that is not a sorted set,
/// a field that is not JSON of its type, the session's key of another Redis
/// type. None panics or fails a request: the session reads its defaults, or
/// starts afresh. `c` has visited once.
pub(crate) async fn bad_data_is_survived(
    c: &mut Client,
    admin: &mut impl redis::aio::ConnectionLike,
    key: &str,
    deadlines: &str,
) {
    // A deadlines set that is not a sorted set: sessions work on.
    let _: () = redis::cmd("SET")
        .arg(deadlines)
        .arg("not a sorted set")
        .query_async(admin)
        .await
        .unwrap();
    assert_eq!(c.ok("/visit").await, "2");
    assert_eq!(c.ok("/visits").await, "2");

    // A field that is not JSON of its type: its default, then overwritten.
    let _: () = redis::cmd("HSET")
        .arg(key)
        .arg("VISITS")
        .arg("{not json")
        .query_async(admin)
        .await
        .unwrap();
    assert_eq!(c.ok("/visits").await, "0");
    assert_eq!(c.ok("/visit").await, "1");

    // The session's key holding another Redis type: a fresh session.
    let _: () = redis::cmd("DEL").arg(key).query_async(admin).await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg("a string, not a hash")
        .query_async(admin)
        .await
        .unwrap();
    let (status, body) = c.get("/visit").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "1"),
        "a fresh session"
    );
    assert_eq!(c.ok("/visit").await, "2");
}
