//! The stored record: everything needed to prove a value belongs to this
//! function, this key and this moment, so a collision, a stale body or a
//! corrupted byte can never return a wrong value.
//!
//! ```text
//! "CRT1" | header length (u32 LE) | header (postcard) | value (postcard) | xxh3-64 of all before (u64 LE)
//! header = { function name, code hash, exact key bytes, written (unix ms), expires (unix ms)? }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::Identity;
use crate::key::Key;

const MAGIC: &[u8; 4] = b"CRT1";
const CHECKSUM_LEN: usize = 8;

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    name: &'a str,
    code_hash: u64,
    #[serde(with = "serde_bytes_compat")]
    key: &'a [u8],
    written_ms: u64,
    expires_ms: Option<u64>,
}

/// postcard encodes `&[u8]` as a length-prefixed byte string either way; this
/// keeps the field borrowed on decode.
mod serde_bytes_compat {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<&'de [u8], D::Error> {
        <&[u8]>::deserialize(deserializer)
    }
}

/// Why a stored record was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Too short, a wrong magic number, or a checksum mismatch: torn or corrupted.
    Corrupt(&'static str),
    /// Written by another function, or by an earlier version of this one.
    OtherFunction,
    /// Written for other argument values (a digest collision).
    OtherKey,
    /// Its `ttl` has passed.
    Expired,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Corrupt(why) => write!(f, "corrupt record ({why})"),
            Refused::OtherFunction => {
                f.write_str("record of another function or an earlier version of its body")
            }
            Refused::OtherKey => f.write_str("record of other arguments (digest collision)"),
            Refused::Expired => f.write_str("record past its ttl"),
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Builds a record around already-encoded value bytes.
pub(crate) fn encode(
    identity: &Identity,
    key: &Key,
    value: &[u8],
    ttl: Option<Duration>,
) -> Vec<u8> {
    let written_ms = now_ms();
    let expires_ms = ttl
        .map(|ttl| written_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)));
    let header = Header {
        name: identity.name,
        code_hash: identity.code_hash,
        key: &key.wire(),
        written_ms,
        expires_ms,
    };
    let header =
        postcard::to_allocvec(&header).expect("a header of strings and integers always serializes");
    let mut record =
        Vec::with_capacity(MAGIC.len() + 4 + header.len() + value.len() + CHECKSUM_LEN);
    record.extend_from_slice(MAGIC);
    record.extend_from_slice(
        &u32::try_from(header.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    record.extend_from_slice(&header);
    record.extend_from_slice(value);
    let checksum = xxhash_rust::xxh3::xxh3_64(&record);
    record.extend_from_slice(&checksum.to_le_bytes());
    record
}

/// A record that passed every check: its value bytes and when it expires.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opened<'a> {
    pub(crate) value: &'a [u8],
    /// How long it may still be served; `None`: no `ttl`.
    pub(crate) remaining: Option<Duration>,
}

/// Checks a record against this function and key and returns its value bytes.
pub(crate) fn decode<'a>(
    record: &'a [u8],
    identity: &Identity,
    key: &Key,
) -> Result<Opened<'a>, Refused> {
    if record.len() < MAGIC.len() + 4 + CHECKSUM_LEN {
        return Err(Refused::Corrupt("truncated"));
    }
    let (body, checksum) = record.split_at(record.len() - CHECKSUM_LEN);
    if &body[..MAGIC.len()] != MAGIC {
        return Err(Refused::Corrupt("not a cache record"));
    }
    let stored = u64::from_le_bytes(
        checksum
            .try_into()
            .map_err(|_| Refused::Corrupt("truncated"))?,
    );
    if xxhash_rust::xxh3::xxh3_64(body) != stored {
        return Err(Refused::Corrupt("checksum mismatch"));
    }
    let rest = &body[MAGIC.len()..];
    let header_len = u32::from_le_bytes(
        rest[..4]
            .try_into()
            .map_err(|_| Refused::Corrupt("truncated"))?,
    ) as usize;
    let rest = &rest[4..];
    if header_len > rest.len() {
        return Err(Refused::Corrupt("header length"));
    }
    let (header, value) = rest.split_at(header_len);
    let header: Header<'_> =
        postcard::from_bytes(header).map_err(|_| Refused::Corrupt("header"))?;
    if header.name != identity.name || header.code_hash != identity.code_hash {
        return Err(Refused::OtherFunction);
    }
    if header.key != &*key.wire() {
        return Err(Refused::OtherKey);
    }
    let now = now_ms();
    if header.expires_ms.is_some_and(|expires| expires <= now) {
        return Err(Refused::Expired);
    }
    Ok(Opened {
        value,
        remaining: header
            .expires_ms
            .map(|expires| Duration::from_millis(expires - now)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::owned_key;

    const ID: Identity = Identity {
        name: "app::f",
        code_hash: 7,
    };

    fn key(n: u32) -> Key {
        owned_key(|w| w.write("n", &n)).unwrap()
    }

    #[test]
    fn round_trip() {
        let record = encode(&ID, &key(1), b"value", None);
        let opened = decode(&record, &ID, &key(1)).unwrap();
        assert_eq!((opened.value, opened.remaining), (&b"value"[..], None));
        let expiring = encode(&ID, &key(1), b"v", Some(Duration::from_secs(60)));
        let remaining = decode(&expiring, &ID, &key(1)).unwrap().remaining.unwrap();
        assert!(remaining > Duration::from_secs(59) && remaining <= Duration::from_secs(60));
    }

    #[test]
    fn refuses_what_is_not_ours() {
        let record = encode(&ID, &key(1), b"value", None);
        assert_eq!(decode(&record, &ID, &key(2)), Err(Refused::OtherKey));
        let edited = Identity { code_hash: 8, ..ID };
        assert_eq!(
            decode(&record, &edited, &key(1)),
            Err(Refused::OtherFunction)
        );
        let mut flipped = record.clone();
        flipped[10] ^= 1;
        assert!(matches!(
            decode(&flipped, &ID, &key(1)),
            Err(Refused::Corrupt(_))
        ));
        for len in 0..record.len() {
            assert!(
                decode(&record[..len], &ID, &key(1)).is_err(),
                "truncated to {len}"
            );
        }
        let expired = encode(&ID, &key(1), b"v", Some(Duration::ZERO));
        assert_eq!(decode(&expired, &ID, &key(1)), Err(Refused::Expired));
    }
}
