//! The [`SessionStore`] trait that the memory and Redis stores implement.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::error::SessionError;
use super::id::SessionId;

/// One session's stored state: stored name → the value's JSON text.
pub type Record = HashMap<String, String>;

/// The atomic read-modify-write step given to [`SessionStore::update`]: it gets
/// the current JSON text (`None` when the key is unset) and returns the new one.
///
/// A store may call it more than once (an optimistic store retries after a
/// conflicting write), so it must not have side effects beyond its result.
pub type UpdateFn<'a> = dyn FnMut(Option<&str>) -> Result<String, SessionError> + Send + 'a;

/// Called by a store when a session ends without an explicit
/// [`Session::end`](super::Session::end): see [`EndReason`].
pub type ExpiryListener = Arc<dyn Fn(SessionId, EndReason) + Send + Sync>;

/// Why a session ended, as given to the `on_session_end` hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// A handler called [`Session::end`](super::Session::end).
    Ended,
    /// The session was idle for longer than the store's idle timeout.
    Expired,
    /// The store evicted it to stay within its capacity.
    Evicted,
}

/// The size a key and value count for in the per-session limit: the stored name
/// plus the JSON text, in bytes.
pub fn entry_size(key: &str, json: &str) -> usize {
    key.len() + json.len()
}

/// A place to keep session records, shared by every request (and, for an
/// external store, by every replica).
///
/// The contract, which the provided stores implement and custom stores must
/// keep:
///
/// * writes are **per key**: [`set`](Self::set), [`update`](Self::update) and
///   [`remove`](Self::remove) touch one key, so concurrent requests that write
///   different keys never undo each other;
/// * [`update`](Self::update) is an atomic read-modify-write of one key;
/// * a write to an id with no record creates it; `load`, `remove`, `clear` and
///   `rename` never create one;
/// * `set` and `update` refuse (with [`SessionError::SessionTooLarge`]) a write
///   after which the record's total [`entry_size`] would exceed
///   `max_session_bytes`, and then change nothing;
/// * every operation on an existing record restarts its idle timer.
///
/// Methods return boxed futures so that the trait stays object safe; the layer
/// holds the store as `Arc<dyn SessionStore>`.
pub trait SessionStore: fmt::Debug + Send + Sync + 'static {
    /// The record of `id`, or `None` when there is none (never created, ended or expired).
    fn load(&self, id: SessionId) -> BoxFuture<'_, Result<Option<Record>, SessionError>>;

    /// Stores `json` under `key`, creating the record if needed.
    fn set<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        json: String,
        max_session_bytes: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Atomically replaces the value of `key` with `f(current)`, creating the record if needed.
    fn update<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        max_session_bytes: usize,
        f: &'a mut UpdateFn<'a>,
    ) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Removes `key` and returns its JSON text, if it was set.
    fn remove<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>>;

    /// Removes every key but keeps the (now empty) session.
    fn clear(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>>;

    /// Deletes the record. Stores must not report this deletion to the expiry listener.
    fn delete(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>>;

    /// Moves the record of `from` to `to` (id cycling); a missing record is not an error.
    fn rename(&self, from: SessionId, to: SessionId) -> BoxFuture<'_, Result<(), SessionError>>;

    /// Installs the function to call when the store notices that a session
    /// expired or was evicted. Stores that cannot tell keep the default, which
    /// ignores it.
    fn set_expiry_listener(&self, listener: ExpiryListener) {
        let _ = listener;
    }
}

impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    fn load(&self, id: SessionId) -> BoxFuture<'_, Result<Option<Record>, SessionError>> {
        (**self).load(id)
    }
    fn set<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        json: String,
        max_session_bytes: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        (**self).set(id, key, json, max_session_bytes)
    }
    fn update<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        max_session_bytes: usize,
        f: &'a mut UpdateFn<'a>,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        (**self).update(id, key, max_session_bytes, f)
    }
    fn remove<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>> {
        (**self).remove(id, key)
    }
    fn clear(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        (**self).clear(id)
    }
    fn delete(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        (**self).delete(id)
    }
    fn rename(&self, from: SessionId, to: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        (**self).rename(from, to)
    }
    fn set_expiry_listener(&self, listener: ExpiryListener) {
        (**self).set_expiry_listener(listener);
    }
}
