//! Why a persistent tier could not answer. Every such failure is logged and
//! counted, and the call computes instead: a tier never fails a call.

use std::io;
use std::path::PathBuf;

use super::record::Refused;

/// A persistent-tier failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TierError {
    /// A file operation on the disk tier failed.
    #[error("{action} {}: {source}", path.display())]
    Disk {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Redis failed less than a backoff period ago; skipped.
    #[cfg(feature = "redis")]
    #[error("redis failed less than a second ago; skipped")]
    RedisDown,
    /// A Redis command failed or timed out.
    #[cfg(feature = "redis")]
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored record was not a valid record of this function and key.
    #[error("refused a stored record: {0}")]
    Refused(Refused),
    /// The value could not be encoded or decoded with postcard.
    #[error("{action} the value: {source}")]
    Codec {
        action: &'static str,
        #[source]
        source: postcard::Error,
    },
}

impl TierError {
    /// Part of an outage of the Redis tier, which logs it once (see
    /// `RedisTier::with_connection`) rather than at every call.
    pub(crate) fn is_outage(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            TierError::RedisDown => true,
            #[cfg(feature = "redis")]
            TierError::Redis(error) => {
                error.is_io_error()
                    || error.is_timeout()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || error.kind() == redis::ErrorKind::AuthenticationFailed
            }
            _ => false,
        }
    }

    pub(crate) fn disk(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> TierError {
        let path = path.into();
        move |source| TierError::Disk {
            action,
            path,
            source,
        }
    }
}
