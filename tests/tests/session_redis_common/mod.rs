//! What the Redis session tests on one server (`session_redis`) and on a
//! cluster (`session_redis_cluster`) share: the documented key layout, and
//! the bad-data checks.

#![allow(dead_code, reason = "each test file uses part of it")]

use http::StatusCode;

use crate::session_common::Client;

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
