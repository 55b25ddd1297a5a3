//! What every request of one [`SessionLayer`](super::SessionLayer) shares:
//! the store, the limits, the hooks and the cookie settings. Below both the
//! layer and the [`Session`](super::Session) handle.

use std::sync::Arc;

use cookie::{Key, SameSite};

use super::counts;
use super::id::SessionId;
use super::store::{EndReason, SessionStore};

pub(crate) type StartHook = Arc<dyn Fn(&SessionId) + Send + Sync>;
pub(crate) type EndHook = Arc<dyn Fn(&SessionId, EndReason) + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) limits: Limits,
    pub(crate) hooks: Hooks,
    pub(crate) cookie: CookieConfig,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_value_bytes: usize,
    pub(crate) max_session_bytes: usize,
}

#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) start: Option<StartHook>,
    pub(crate) end: Option<EndHook>,
}

impl Hooks {
    pub(crate) fn started(&self, id: SessionId) {
        counts::started();
        if let Some(hook) = &self.start {
            hook(&id);
        }
    }

    pub(crate) fn ended(&self, id: SessionId, reason: EndReason) {
        session_ended(id, reason);
        if let Some(hook) = &self.end {
            hook(&id, reason);
        }
    }
}

/// A session ended: counted, and its `scope = "session"` cache entries go.
pub(crate) fn session_ended(id: SessionId, reason: EndReason) {
    counts::ended(reason);
    end_cached(id);
}

/// A session ended: its `scope = "session"` cache entries go (resources
/// released).
pub(crate) fn end_cached(id: SessionId) {
    cache_runtime::session::end_session(&id.to_string());
}

#[derive(Clone, Debug)]
pub(crate) struct CookieConfig {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) same_site: SameSite,
    pub(crate) security: Security,
}

#[derive(Clone, Debug)]
pub(crate) enum Security {
    Plain,
    Signed(Key),
    Private(Key),
}
