//! Applies the invalidations other processes publish on the Redis events
//! channel to this process's in-memory tier, and keeps Redis-tier values out
//! of memory while the subscription is down.
//!
//! While this process is not subscribed, another process's clear would not
//! reach its memory, so it keeps no Redis-tier value there: a value is kept
//! only if the subscription was up, without a break, from before the tier
//! was read until the value is stored; and the memory tier of every Redis
//! function is emptied when the subscription drops (discarding computations
//! then in flight), or a Redis operation fails. Calls read Redis meanwhile.
//! The staleness an outage of the events channel allows is the time this
//! process takes to learn of it: none once a call has failed to reach Redis,
//! and otherwise the listener's, at once for a closed connection, up to two
//! seconds for a server that hangs (see `redis::subscribe_once`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::redis::Event;
use crate::config::{Kind, Persist};
use crate::key;
use crate::registry;

/// Whether this process hears the events channel now.
static LIVE: AtomicBool = AtomicBool::new(false);
/// Bumped at every change of [`LIVE`].
static SUBSCRIPTIONS: AtomicU64 = AtomicU64::new(0);

/// The subscription is up (`true`, said by the listener when it subscribes
/// and after each answered `PING`) or went down (said by the listener, or
/// by a Redis operation that failed: the subscription is then suspect until
/// the listener next hears the server).
pub(crate) fn subscription(live: bool) {
    if live {
        if !LIVE.load(Ordering::SeqCst) {
            SUBSCRIPTIONS.fetch_add(1, Ordering::SeqCst);
            LIVE.store(true, Ordering::SeqCst);
        }
    } else if LIVE.swap(false, Ordering::SeqCst) {
        SUBSCRIPTIONS.fetch_add(1, Ordering::SeqCst);
        flush();
    }
}

/// The subscription now, if this process hears the events channel: note
/// it before reading the tier, and keep the value in memory only if
/// [`still_heard`] says so after.
pub(crate) fn heard() -> Option<u64> {
    let subscription = SUBSCRIPTIONS.load(Ordering::SeqCst);
    LIVE.load(Ordering::SeqCst).then_some(subscription)
}

/// Whether the events channel was heard without a break since [`heard`]
/// returned `subscription`.
pub(crate) fn still_heard(subscription: u64) -> bool {
    LIVE.load(Ordering::SeqCst) && SUBSCRIPTIONS.load(Ordering::SeqCst) == subscription
}

/// Empties the memory tier of every Redis function (discarding their
/// computations in flight).
fn flush() {
    registry::each(|cache| {
        if cache.info().persist == Some(Persist::Redis) {
            cache.clear_memory();
        }
    });
}

/// Clears what `event` names from every matching in-memory cache.
pub(crate) fn apply(event: Event) {
    match event {
        Event::Clear(function) => registry::each(|cache| {
            if cache.persist_id() == function {
                cache.clear_memory();
            }
        }),
        Event::Invalidate(function, key) => {
            let key = key::key_from_wire(&key);
            registry::each(|cache| {
                if cache.persist_id() == function {
                    cache.invalidate_memory(&key);
                }
            });
        }
        Event::ClearAll => registry::each(|cache| {
            if cache.kind() == Kind::Data {
                cache.clear_memory();
            }
        }),
    }
}
