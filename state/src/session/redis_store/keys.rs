//! Where a session lives in Redis: the key layout the store and its expiry
//! watcher share.
//!
//! Sessions are spread over [`SHARDS`] shards by their id. A shard is a Redis
//! Cluster hash tag, `{00}` to `{3f}`, so a session's hash and its shard's
//! deadlines set always share a slot (every script and transaction touches
//! keys of one slot), while the shards spread the sessions over up to 64
//! masters.

use super::super::id::SessionId;

/// How many shards the sessions are spread over: each one a hash tag, so one
/// cluster slot.
pub(super) const SHARDS: u8 = 64;

/// The shard of a session: its id's last two hex digits modulo [`SHARDS`] (the
/// id's low six bits, as random as the id).
pub(super) fn shard(id: SessionId) -> u8 {
    let text = id.to_string();
    text.get(text.len().saturating_sub(2)..)
        .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        .map_or(0, |low| low % SHARDS)
}

/// The names of one store's keys, under its prefix.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    /// The layout under `prefix`, its braces replaced by parentheses: Redis
    /// Cluster hashes the text inside a key's first `{…}`, which must be the
    /// shard's tag, not a part of the prefix.
    pub(super) fn new(prefix: impl Into<String>) -> Self {
        let prefix: String = prefix.into();
        Self {
            prefix: prefix.replace('{', "(").replace('}', ")"),
        }
    }

    /// The prefix, as used (braces replaced).
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash of session `id`: `<prefix>{<shard>}<id>`.
    pub(super) fn session(&self, id: SessionId) -> String {
        format!("{}{{{:02x}}}{id}", self.prefix, shard(id))
    }

    /// The sorted set of the deadlines (unix ms) of the sessions in `shard`:
    /// `<prefix>{<shard>}$deadlines`, not an id, so no expiry event of it is
    /// taken for a session's.
    pub(super) fn deadlines(&self, shard: u8) -> String {
        format!("{}{{{shard:02x}}}$deadlines", self.prefix)
    }

    /// The deadlines set of session `id`'s shard.
    pub(super) fn deadlines_of(&self, id: SessionId) -> String {
        self.deadlines(shard(id))
    }

    /// The short-lived key replicas race for to report `id`'s expiry once.
    pub(super) fn expiry_claim(&self, id: SessionId) -> String {
        format!("{}expired:{id}", self.prefix)
    }

    /// The session whose hash `key` is, if it is one of this layout's
    /// (its tag matching the id's shard).
    pub(super) fn session_id(&self, key: &str) -> Option<SessionId> {
        let tagged = key.strip_prefix(self.prefix.as_str())?.strip_prefix('{')?;
        let (tag, id) = tagged.split_once('}')?;
        let id = SessionId::parse(id)?;
        (tag == format!("{:02x}", shard(id))).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_spread_over_every_shard_and_their_keys_parse_back() {
        let keys = Keys::new("app:");
        let mut seen = [false; SHARDS as usize];
        for _ in 0..5_000 {
            let id = SessionId::random();
            let shard = shard(id);
            assert!(shard < SHARDS);
            seen[usize::from(shard)] = true;
            let key = keys.session(id);
            assert_eq!(key, format!("app:{{{shard:02x}}}{id}"));
            assert_eq!(keys.session_id(&key), Some(id));
            assert_eq!(
                keys.deadlines_of(id),
                format!("app:{{{shard:02x}}}$deadlines")
            );
        }
        assert!(seen.iter().all(|&seen| seen), "every shard is used");
    }

    #[test]
    fn the_shard_is_the_ids_last_two_digits_modulo_64() {
        let id = SessionId::parse("0123456789abcdef0123456789abcdff").unwrap();
        assert_eq!(shard(id), 0xff % 64);
        let id = SessionId::parse("00000000000000000000000000000000").unwrap();
        assert_eq!(shard(id), 0);
    }

    #[test]
    fn only_session_keys_of_this_prefix_parse() {
        let keys = Keys::new("app:");
        let id = SessionId::random();
        let wrong_tag = format!("{:02x}", (shard(id) + 1) % SHARDS);
        for other in [
            keys.deadlines_of(id),
            keys.expiry_claim(id),
            format!("app:{id}"),
            format!("app:{{{wrong_tag}}}{id}"),
            Keys::new("other:").session(id),
            format!("{}x", keys.session(id)),
        ] {
            assert_eq!(keys.session_id(&other), None, "{other}");
        }
    }

    #[test]
    fn braces_in_the_prefix_cannot_steal_the_hash_tag() {
        let keys = Keys::new("a{b}c{}:");
        assert_eq!(keys.prefix(), "a(b)c():");
        let id = SessionId::random();
        let key = keys.session(id);
        assert_eq!(key.find('{'), Some("a(b)c():".len()));
        assert_eq!(keys.session_id(&key), Some(id));
    }
}
