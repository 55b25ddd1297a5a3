//! Cache keys: arguments serialized by value with postcard, hashed with xxh3.
//!
//! A key is the postcard encoding of the arguments that take part in it, in
//! declaration order, made canonical (see `canonical`): map and set entries
//! are ordered by their encoded bytes, so equal maps are equal keys. Lookups
//! compare these bytes, so two different argument values can never share an
//! entry, even when their hashes collide; the hash only picks the bucket. The hash is xxh3-64 seeded once per process from the
//! OS random source, so an attacker who picks arguments cannot precompute
//! colliding keys to degrade the cache into a linear scan.

use std::cell::RefCell;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::LazyLock;

use serde::Serialize;

/// The process-wide seed of the key hash, drawn from the OS random source.
static SEED: LazyLock<u64> = LazyLock::new(|| {
    let mut bytes = [0u8; 8];
    // Without OS randomness we still work correctly (keys compare by bytes);
    // we only lose resistance against precomputed collisions.
    if getrandom::fill(&mut bytes).is_err() {
        tracing::warn!("no OS randomness for the cache key seed; using a fixed seed");
    }
    u64::from_le_bytes(bytes)
});

/// Hashes key bytes with the process seed.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(bytes, *SEED)
}

/// An owned key stored in a cache: the key bytes and their hash.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Key {
    hash: u64,
    bytes: Box<[u8]>,
}

impl Key {
    /// The key of a call with no key arguments.
    pub(crate) fn empty() -> Key {
        key_from_bytes(&[])
    }

    /// The key bytes (the postcard encoding of the arguments).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            hash: self.hash,
            bytes: &self.bytes,
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("hash", &format_args!("{:#018x}", self.hash))
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A borrowed key, used for lookups so that a hit allocates nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRef<'a> {
    hash: u64,
    bytes: &'a [u8],
}

impl KeyRef<'_> {
    pub(crate) fn to_owned_key(self) -> Key {
        Key {
            hash: self.hash,
            bytes: self.bytes.into(),
        }
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl moka::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.hash == key.hash && *self.bytes == *key.bytes
    }
}

/// The `BuildHasher` of every cache: the key's hash is already computed, so it
/// passes the `u64` through.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyHasher;

impl BuildHasher for KeyHasher {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

/// Hasher that returns the one `u64` written to it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if something other than our key types is hashed.
        self.0 = hash_bytes(bytes) ^ self.0.rotate_left(5);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Why an argument could not be turned into key bytes.
#[derive(Debug)]
pub struct KeyError {
    argument: &'static str,
    source: postcard::Error,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argument `{}` could not be serialized into a cache key: {}",
            self.argument, self.source
        )
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// What an argument needs to be part of a key: `serde::Serialize`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a cache key: it does not implement `serde::Serialize`",
    label = "this argument is hashed into the cache key",
    note = "derive `serde::Serialize` for it, or leave the argument out of the key: start its name with `_` or mark it `#[cache(skip)]`",
    note = "`#[cache(hash_with = path)]` hashes what `path(&arg)` returns instead"
)]
pub trait KeyArgument: Serialize {}
impl<T: Serialize + ?Sized> KeyArgument for T {}

/// Collects the key bytes of one call. Generated code calls
/// [`KeyWriter::write`] once per argument that takes part in the key.
#[derive(Debug)]
pub struct KeyWriter {
    bytes: Vec<u8>,
}

impl KeyWriter {
    fn new() -> Self {
        Self {
            bytes: Vec::with_capacity(128),
        }
    }

    /// Appends the canonical postcard encoding of one argument.
    ///
    /// # Errors
    /// When the value's `Serialize` implementation fails (for example a
    /// sequence that does not know its length).
    pub fn write<T: KeyArgument + ?Sized>(
        &mut self,
        argument: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        let start = self.bytes.len();
        crate::canonical::write_canonical(value, &mut self.bytes).map_err(|source| {
            self.bytes.truncate(start);
            KeyError { argument, source }
        })
    }

    fn key_ref(&self) -> KeyRef<'_> {
        KeyRef {
            hash: hash_bytes(&self.bytes),
            bytes: &self.bytes,
        }
    }
}

thread_local! {
    /// One reusable key buffer per thread: a hit serializes into it and allocates nothing.
    static BUFFER: RefCell<KeyWriter> = RefCell::new(KeyWriter::new());
}

/// Serializes a key with `write_key` into the thread's buffer and hands the
/// borrowed key to `with`.
///
/// The buffer is reused across calls; if it is already in use (a cached call
/// from inside `with`, which the runtime avoids), a fresh one is used.
pub(crate) fn with_key<R>(
    write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    with: impl FnOnce(KeyRef<'_>) -> R,
) -> Result<R, KeyError> {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut writer) => {
            writer.bytes.clear();
            write_key(&mut writer)?;
            let result = with(writer.key_ref());
            // Do not let one huge key pin a huge buffer for the life of the thread.
            if writer.bytes.capacity() > 64 * 1024 {
                *writer = KeyWriter::new();
            }
            Ok(result)
        }
        Err(_) => {
            let mut writer = KeyWriter::new();
            write_key(&mut writer)?;
            Ok(with(writer.key_ref()))
        }
    })
}

/// The key for given key bytes (another process's, or none at all).
pub(crate) fn key_from_bytes(bytes: &[u8]) -> Key {
    KeyRef {
        hash: hash_bytes(bytes),
        bytes,
    }
    .to_owned_key()
}

/// Builds an owned key (for `invalidate`, off the hot path).
pub(crate) fn owned_key(
    write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
) -> Result<Key, KeyError> {
    let mut writer = KeyWriter::new();
    write_key(&mut writer)?;
    Ok(writer.key_ref().to_owned_key())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of<T: Serialize>(value: &T) -> Key {
        owned_key(|w| w.write("value", value)).unwrap()
    }

    #[test]
    fn equal_values_give_equal_keys() {
        assert_eq!(
            key_of(&("users", 10u32)),
            key_of(&(String::from("users"), 10u32))
        );
        assert_ne!(key_of(&1u32), key_of(&2u32));
        assert_ne!(key_of(&0.0f64), key_of(&-0.0f64));
    }

    #[test]
    fn lookups_compare_bytes_not_just_hashes() {
        let stored = key_of(&"a");
        let forged = KeyRef {
            hash: stored.hash,
            bytes: b"\x01b",
        };
        assert!(!moka::Equivalent::equivalent(&forged, &stored));
        assert!(moka::Equivalent::equivalent(&stored.as_ref(), &stored));
    }
}
