//! The session module's errors and extractor rejection.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// An error from a [`Session`](super::Session) operation or a
/// [`SessionStore`](super::SessionStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A value's JSON encoding is larger than the layer's per-value limit; nothing was stored.
    #[error(
        "the value of session key `{key}` is {size} bytes as JSON, over the {max}-byte limit per value; nothing was stored (raise it with `SessionLayer::with_max_value_bytes`)"
    )]
    ValueTooLarge {
        /// The key's stored name.
        key: String,
        /// The encoded size in bytes.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The write would make the whole session larger than the per-session limit; nothing was stored.
    #[error(
        "writing session key `{key}` would make the session {size} bytes, over the {max}-byte limit per session; nothing was stored (remove other keys, or raise it with `SessionLayer::with_max_session_bytes`)"
    )]
    SessionTooLarge {
        /// The key's stored name.
        key: String,
        /// The session's size (names plus JSON values, in bytes) after the write.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A value could not be encoded as JSON (for example a map with non-string keys).
    #[error("the value of session key `{key}` cannot be encoded as JSON")]
    Encode {
        /// The key's stored name.
        key: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// Two distinct keys use one stored name; the second one is rejected.
    #[error(
        "two session-state keys are stored as `{name}` (types `{first_type}` and `{second_type}`): give one of them another name with `=> \"name\"` in `state_keys!`"
    )]
    DuplicateKeyName {
        /// The shared stored name.
        name: &'static str,
        /// The value type of the key registered first.
        first_type: &'static str,
        /// The value type of the rejected key.
        second_type: &'static str,
    },
    /// An atomic update kept losing to concurrent writers and gave up.
    #[error(
        "the atomic update of session key `{key}` gave up after {attempts} conflicting attempts"
    )]
    Contention {
        /// The key's stored name.
        key: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The store failed (for example Redis is unreachable).
    #[error("the session store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SessionError {
    /// The HTTP status this error maps to when a handler returns it:
    /// `413 Payload Too Large` for the size limits, `500` otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::ValueTooLarge { .. } | Self::SessionTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, source = ?std::error::Error::source(&self), "session error");
        }
        (status, self.to_string()).into_response()
    }
}

/// The [`Session`](super::Session) extractor found no session in the request:
/// the [`SessionLayer`](super::SessionLayer) is not installed around this route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingSessionLayer;

impl MissingSessionLayer {
    /// `500 Internal Server Error`: this is a setup mistake, not a client error.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The response body.
    pub fn body_text(&self) -> &'static str {
        "Can't extract `Session`: is `SessionLayer` installed? Add `.layer(SessionLayer::new(store))` to the router, after the routes that use it."
    }
}

impl std::fmt::Display for MissingSessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.body_text())
    }
}

impl std::error::Error for MissingSessionLayer {}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{}", self.body_text());
        (self.status(), self.body_text()).into_response()
    }
}
