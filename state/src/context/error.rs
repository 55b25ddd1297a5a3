//! The error type of the [`context`](crate::context) module.

/// Errors of the [`context`](crate::context) module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// [`Context::get`](crate::context::Context::get) was given a name that is
    /// not a context field. The message lists the valid names, as Streamlit's.
    #[error("context has no key {key:?}. Valid keys are: {}.", super::KEYS.join(", "))]
    UnknownKey {
        /// The name asked for.
        key: String,
    },

    /// A trusted proxy is neither an IP address nor a CIDR block.
    #[error(
        "invalid trusted proxy {input:?}: expected an IP address or a CIDR block such as `10.0.0.0/8` or `fd00::/8`"
    )]
    InvalidProxy {
        /// The rejected text.
        input: String,
    },
}
