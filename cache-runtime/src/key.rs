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

use crate::scope::PREFIX_LEN;

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
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(bytes, *SEED)
}

/// Keys whose bytes are longer than this are stored and compared as the
/// BLAKE3-256 digest of their bytes: an entry's memory stays bounded whatever
/// its arguments, and two different arguments still never share an entry
/// (finding two that do would break BLAKE3).
pub(crate) const DIGEST_ABOVE: usize = 256;

/// Key bytes up to this long live inside the key, without an allocation.
const INLINE: usize = 14;

/// A key's bytes: inline when short, on the heap up to [`DIGEST_ABOVE`],
/// else their digest (after a session-scoped key's session prefix, which is
/// kept). Two words, so moka's `Arc` of a key stays small.
#[derive(Clone, PartialEq, Eq)]
enum Bytes {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<Box<[u8]>>),
    Digest(Box<[u8; 32]>),
    ScopedDigest(Box<[u8; PREFIX_LEN + 32]>),
}

impl Bytes {
    fn new(bytes: &[u8], digest: bool) -> Bytes {
        if digest && bytes.len() == 32 {
            let mut digest = [0; 32];
            digest.copy_from_slice(bytes);
            Bytes::Digest(Box::new(digest))
        } else if digest {
            let mut digest = [0; PREFIX_LEN + 32];
            digest.copy_from_slice(bytes);
            Bytes::ScopedDigest(Box::new(digest))
        } else if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Bytes::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            Bytes::Heap(Box::new(bytes.into()))
        }
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, buf } => &buf[..usize::from(*len)],
            Bytes::Heap(bytes) => bytes,
            Bytes::Digest(digest) => &digest[..],
            Bytes::ScopedDigest(digest) => &digest[..],
        }
    }

    fn is_digest(&self) -> bool {
        matches!(self, Bytes::Digest(_) | Bytes::ScopedDigest(_))
    }
}

/// An owned key stored in a cache: the key bytes (or their digest) and their hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    hash: u64,
    bytes: Bytes,
}

impl Key {
    /// Whether nothing follows the first `start` bytes (0, or a
    /// session-scoped key's prefix): the call had no key arguments.
    pub(crate) fn is_empty_from(&self, start: usize) -> bool {
        match &self.bytes {
            Bytes::Inline { len, .. } => usize::from(*len) <= start,
            Bytes::Heap(bytes) => bytes.len() <= start,
            Bytes::Digest(_) | Bytes::ScopedDigest(_) => false,
        }
    }

    /// Whether the key starts with `prefix` (a session-scoped key with its
    /// session's prefix).
    pub(crate) fn starts_with(&self, prefix: &[u8]) -> bool {
        self.bytes.as_slice().starts_with(prefix)
    }

    /// The key as the persistent tiers store it: its bytes, or for a key
    /// kept as a digest, the digest padded to a length no key's own bytes
    /// can have. Stable across processes. (Session-scoped keys never reach
    /// a persistent tier.)
    pub(crate) fn wire(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.bytes {
            Bytes::Digest(digest) => {
                let mut wire = vec![0xff; DIGEST_ABOVE + 1];
                wire[..32].copy_from_slice(&digest[..]);
                wire.into()
            }
            bytes => bytes.as_slice().into(),
        }
    }

    pub(crate) fn as_ref(&self) -> KeyRef<'_> {
        let digest = self.bytes.is_digest();
        KeyRef {
            hash: Some(self.hash),
            ..KeyRef::new(self.bytes.as_slice(), digest)
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("hash", &format_args!("{:#018x}", self.hash))
            .field("len", &self.bytes.as_slice().len())
            .field("digest", &self.bytes.is_digest())
            .finish()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A borrowed key, used for lookups so that a hit allocates nothing.
///
/// It carries a cheap hash of its bytes for the front tables (`tag`); the
/// seeded xxh3 hash moka places keys by is computed only when moka is asked.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    /// The front tables' hash of the bytes (see [`front_hash`]).
    tag: u64,
    /// moka's hash, when already known (a stored key's).
    hash: Option<u64>,
    bytes: &'a [u8],
    /// `bytes` is the digest of a longer key.
    digest: bool,
}

impl<'a> KeyRef<'a> {
    #[inline]
    fn new(bytes: &'a [u8], digest: bool) -> Self {
        KeyRef {
            tag: front_hash(bytes),
            hash: None,
            bytes,
            digest,
        }
    }

    /// A key with a chosen front-table hash, to force collisions in tests.
    #[cfg(test)]
    pub(crate) fn with_tag(tag: u64, bytes: &'a [u8]) -> Self {
        KeyRef {
            tag,
            hash: None,
            bytes,
            digest: false,
        }
    }
}

impl KeyRef<'_> {
    pub(crate) fn to_owned_key(self) -> Key {
        Key {
            hash: self.hash(),
            bytes: Bytes::new(self.bytes, self.digest),
        }
    }

    /// The hash moka places the key by: seeded xxh3 of the bytes.
    #[inline]
    pub(crate) fn hash(self) -> u64 {
        self.hash.unwrap_or_else(|| {
            let hash = hash_bytes(self.bytes);
            if self.digest {
                hash ^ DIGEST_HASH
            } else {
                hash
            }
        })
    }

    /// The front tables' hash of the key (not seeded: a front table is small,
    /// per thread and bounded, so a crafted collision only costs a miss).
    #[inline]
    pub(crate) fn tag(self) -> u64 {
        self.tag
    }

    /// Whether `key` has these bytes.
    #[inline]
    pub(crate) fn is(self, key: &Key) -> bool {
        match &key.bytes {
            Bytes::Inline { len, buf } => {
                !self.digest
                    && self.bytes.len() == usize::from(*len)
                    && *self.bytes == buf[..self.bytes.len()]
            }
            Bytes::Heap(bytes) => !self.digest && *self.bytes == ***bytes,
            digest => self.is_digest_of(digest),
        }
    }

    /// [`KeyRef::is`] for a key kept as a digest: out of line, so the
    /// common cases stay small enough to inline on the hit path.
    #[cold]
    #[inline(never)]
    fn is_digest_of(self, bytes: &Bytes) -> bool {
        self.digest && *self.bytes == *bytes.as_slice()
    }
}

/// A fast hash of key bytes for the front tables: a few multiplies over the
/// first and last words (every word for a longer key).
#[inline]
fn front_hash(bytes: &[u8]) -> u64 {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let n = bytes.len();
    let word = |at: usize| -> u64 {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let (first, last) = if n >= 8 {
        let mut first = word(0);
        let mut at = 8;
        while at + 8 < n {
            first = (first ^ word(at)).wrapping_mul(K1).rotate_left(29);
            at += 8;
        }
        (first, word(n - 8))
    } else if n >= 4 {
        let half = |at: usize| -> u64 {
            let mut half = [0; 4];
            half.copy_from_slice(&bytes[at..at + 4]);
            u64::from(u32::from_le_bytes(half))
        };
        (half(0), half(n - 4))
    } else if n > 0 {
        let spread =
            u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]) << 16;
        (spread, 0)
    } else {
        (0, 0)
    };
    let mixed = (first ^ n as u64).wrapping_mul(K1) ^ last.wrapping_mul(K2);
    mixed ^ (mixed >> 32)
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(KeyRef::hash(*self));
    }
}

impl moka::Equivalent<Key> for KeyRef<'_> {
    #[inline]
    fn equivalent(&self, key: &Key) -> bool {
        self.is(key)
    }
}

/// What moka keys a cache's entries by: the key itself, or for a function
/// whose arguments pack into one word, that [`Word`] (8 bytes, as a raw
/// `u64` key: moka allocates each key in its own `Arc`, and 8 bytes fit its
/// smallest size class where a [`Key`] does not).
pub trait StoreKey: Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static {
    /// What a borrowed key is looked up in moka as.
    type Probe<'a>: Hash + moka::Equivalent<Self>;

    /// The lookup form of `key`.
    fn probe(key: KeyRef<'_>) -> Self::Probe<'_>;

    /// The stored form of `key`.
    fn owned(key: &Key) -> Self;

    /// Whether the key starts with a session's `prefix` (only byte keys
    /// are ever session-scoped).
    fn starts_with(&self, prefix: &[u8]) -> bool;

    /// The key as bytes.
    fn to_key(&self) -> Key;
}

impl StoreKey for Key {
    type Probe<'a> = KeyRef<'a>;

    #[inline]
    fn probe(key: KeyRef<'_>) -> KeyRef<'_> {
        key
    }

    fn owned(key: &Key) -> Key {
        key.clone()
    }

    fn starts_with(&self, prefix: &[u8]) -> bool {
        Key::starts_with(self, prefix)
    }

    fn to_key(&self) -> Key {
        self.clone()
    }
}

/// The key of a function whose arguments pack into one `u64` (the macro's
/// injective packing), stored as moka's key. Its [`Key`] bytes are the
/// word's (see [`KeyWriter::write_word`]), so each converts to the other
/// and the persistent tiers and remote invalidations still speak bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word(u64);

impl Word {
    /// The word of a key written by [`KeyWriter::write_word`]. (Generated
    /// code writes a word function's keys with nothing else; bytes past the
    /// eighth, which it never writes, would be ignored.)
    fn of(bytes: &[u8]) -> Word {
        let mut word = [0; 8];
        let len = bytes.len().min(8);
        word[..len].copy_from_slice(&bytes[..len]);
        Word(u64::from_le_bytes(word))
    }
}

impl Hash for Word {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Seeded, like every key's hash: moka's table is shared by all
        // callers, and the words are the callers' arguments.
        state.write_u64(hash_bytes(&self.0.to_le_bytes()));
    }
}

impl StoreKey for Word {
    type Probe<'a> = Word;

    #[inline]
    fn probe(key: KeyRef<'_>) -> Word {
        Word::of(key.bytes)
    }

    fn owned(key: &Key) -> Word {
        Word::of(key.bytes.as_slice())
    }

    fn starts_with(&self, _prefix: &[u8]) -> bool {
        false
    }

    fn to_key(&self) -> Key {
        let (bytes, len) = word_bytes(self.0);
        KeyRef::new(&bytes[..len], false).to_owned_key()
    }
}

/// A word's key bytes: its little-endian bytes without trailing zeros (the
/// first `len`), so word 0 is the empty key.
fn word_bytes(word: u64) -> ([u8; 8], usize) {
    (word.to_le_bytes(), 8 - (word.leading_zeros() / 8) as usize)
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
/// [`KeyWriter::write`] once per argument that takes part in the key, or one
/// of the direct writers (`write_str`, `write_varint`, …) for arguments whose
/// written type it recognises: they produce exactly postcard's bytes, faster.
///
/// Past 256 bytes (`DIGEST_ABOVE`) the writer streams what it has into a BLAKE3
/// hasher instead of growing, so a 64 MiB argument is keyed without a 64 MiB
/// buffer.
#[derive(Debug)]
pub struct KeyWriter {
    bytes: Vec<u8>,
    /// How many leading bytes stay out of a digest: a session-scoped key's
    /// session prefix, so every key of a session can be found by it.
    kept: u8,
    /// The digest of the bytes streamed so far, once the key is too long.
    digest: Option<Box<blake3::Hasher>>,
    /// Whether `digest` holds this key's bytes (it is kept for reuse).
    digesting: bool,
}

/// Bytes of a large slice encoded per step before they are streamed into
/// the digest (when they cannot be read in place): enough for BLAKE3 to hash
/// many chunks in parallel (SIMD).
const SLICE_CHUNK: usize = 64 * 1024;

/// A slice argument at least this long is hashed on every core (BLAKE3's
/// tree hashing under rayon, the same digest as on one): below it, handing
/// the work out costs more than it saves.
const PARALLEL_ABOVE: usize = 1 << 20;

impl KeyWriter {
    pub(crate) const fn new() -> Self {
        Self {
            bytes: Vec::new(),
            kept: 0,
            digest: None,
            digesting: false,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.bytes.clear();
        self.kept = 0;
        self.digesting = false;
    }

    /// Lets go of a buffer one huge key grew, so it does not stay pinned
    /// for the life of the thread.
    #[inline]
    pub(crate) fn shrink_if_huge(&mut self) {
        if self.bytes.capacity() > 4 * SLICE_CHUNK {
            self.bytes = Vec::new();
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
        })?;
        self.spill();
        Ok(())
    }

    /// Starts the key of a `scope = "session"` function with the current
    /// session's prefix; written first, before any argument.
    ///
    /// # Panics
    /// Outside every session (see `SessionScope`), with a message that says
    /// how to run the call in one.
    #[inline]
    pub fn write_session(&mut self, function: &'static str) {
        debug_assert!(
            self.bytes.is_empty() && !self.digesting,
            "the session goes first"
        );
        match crate::scope::current_prefix() {
            Some(prefix) => {
                self.bytes.extend_from_slice(&prefix);
                self.kept = PREFIX_LEN as u8;
            }
            None => crate::scope::outside_a_session(function),
        }
    }

    /// Writes the whole key of a function whose arguments pack into one word
    /// (see [`Word`]): the word's little-endian bytes without trailing zeros,
    /// so a function without arguments (word 0) has the empty key.
    #[inline]
    pub fn write_word(&mut self, word: u64) {
        let (bytes, len) = word_bytes(word);
        self.bytes.extend_from_slice(&bytes[..len]);
    }

    /// Appends a string as postcard does: its length, then its UTF-8 bytes.
    #[inline]
    pub fn write_str(&mut self, value: &str) {
        self.write_u8s(value.as_bytes());
    }

    /// Appends an unsigned integer of 16 bits or more (postcard's varint).
    #[inline]
    pub fn write_varint<T: Unsigned>(&mut self, value: T) {
        self.push_varint(value.to_u64());
        self.spill();
    }

    /// Appends a signed integer of 16 bits or more (zigzag, then varint).
    #[inline]
    pub fn write_signed<T: Signed>(&mut self, value: T) {
        let value = value.to_i64();
        self.push_varint(((value << 1) ^ (value >> 63)) as u64);
        self.spill();
    }

    /// Appends a `u8`, an `i8` (as its bits) or a `bool`: one byte.
    #[inline]
    pub fn write_byte<T: OneByte>(&mut self, value: T) {
        self.bytes.push(value.byte());
        self.spill();
    }

    /// Appends a byte slice (`&[u8]`, `Vec<u8>`): its length, then the bytes.
    /// Like every slice writer, it streams a long slice into the digest in
    /// chunks rather than buffering it whole.
    #[inline]
    pub fn write_u8s(&mut self, values: &[u8]) {
        // A short slice (most strings) that keeps the key short: one length
        // byte and the bytes, with no chunking and no digest check.
        if values.len() < 0x80 && self.bytes.len() + values.len() < DIGEST_ABOVE {
            self.bytes.push(values.len() as u8);
            self.bytes.extend_from_slice(values);
            return;
        }
        self.write_u8s_long(values);
    }

    fn write_u8s_long(&mut self, values: &[u8]) {
        self.push_varint(values.len() as u64);
        self.append_raw(values);
    }

    /// Appends bytes already in their written form: kept if the key stays
    /// short, else streamed into the digest as they are, with no copy (on
    /// every core when there are many).
    fn append_raw(&mut self, raw: &[u8]) {
        if self.bytes.len() + raw.len() <= DIGEST_ABOVE {
            self.bytes.extend_from_slice(raw);
            return;
        }
        let digest = self.digest_so_far();
        if raw.len() >= PARALLEL_ABOVE {
            digest.update_rayon(raw);
        } else {
            digest.update(raw);
        }
    }

    /// Appends an `f64` slice: its length, then each value's little-endian bytes.
    pub fn write_f64s(&mut self, values: &[f64]) {
        self.push_varint(values.len() as u64);
        // In memory, a little-endian machine's floats are their written bytes.
        #[cfg(target_endian = "little")]
        self.append_raw(bytemuck::cast_slice(values));
        #[cfg(not(target_endian = "little"))]
        self.write_f64s_copied(values);
    }

    #[cfg(not(target_endian = "little"))]
    fn write_f64s_copied(&mut self, values: &[f64]) {
        self.spill();
        for chunk in values.chunks(SLICE_CHUNK / 8) {
            let start = self.bytes.len();
            self.bytes.resize(start + chunk.len() * 8, 0);
            // Whole-slice form, so the compiler turns it into a block copy.
            for (to, value) in self.bytes[start..].chunks_exact_mut(8).zip(chunk) {
                to.copy_from_slice(&value.to_le_bytes());
            }
            self.spill();
        }
    }

    /// Appends an `f32` slice: its length, then each value's little-endian bytes.
    pub fn write_f32s(&mut self, values: &[f32]) {
        self.push_varint(values.len() as u64);
        #[cfg(target_endian = "little")]
        self.append_raw(bytemuck::cast_slice(values));
        #[cfg(not(target_endian = "little"))]
        self.write_f32s_copied(values);
    }

    #[cfg(not(target_endian = "little"))]
    fn write_f32s_copied(&mut self, values: &[f32]) {
        self.spill();
        for chunk in values.chunks(SLICE_CHUNK / 4) {
            let start = self.bytes.len();
            self.bytes.resize(start + chunk.len() * 4, 0);
            for (to, value) in self.bytes[start..].chunks_exact_mut(4).zip(chunk) {
                to.copy_from_slice(&value.to_le_bytes());
            }
            self.spill();
        }
    }

    #[inline]
    fn push_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    /// Streams the bytes into the digest once the key is too long to keep.
    #[inline]
    fn spill(&mut self) {
        if self.bytes.len() > DIGEST_ABOVE {
            self.spill_slow();
        }
    }

    #[cold]
    fn spill_slow(&mut self) {
        self.digest_so_far();
    }

    /// The digest, with every byte written so far streamed into it (the
    /// kept prefix aside), for more to follow.
    fn digest_so_far(&mut self) -> &mut blake3::Hasher {
        let digest = self.digest.get_or_insert_with(Default::default);
        if !self.digesting {
            digest.reset();
            self.digesting = true;
        }
        digest.update(&self.bytes[usize::from(self.kept)..]);
        self.bytes.truncate(usize::from(self.kept));
        digest
    }

    /// The key written so far, with its hash.
    #[inline]
    pub(crate) fn key_ref(&mut self) -> KeyRef<'_> {
        if self.digesting {
            return self.digest_ref();
        }
        debug_assert!(
            self.bytes.len() <= DIGEST_ABOVE,
            "a long key was not digested"
        );
        KeyRef::new(&self.bytes, false)
    }

    /// The key of a long key: the digest of everything written.
    #[cold]
    fn digest_ref(&mut self) -> KeyRef<'_> {
        {
            let digest = self.digest.as_mut().expect("digesting without a hasher");
            digest.update(&self.bytes[usize::from(self.kept)..]);
            self.bytes.truncate(usize::from(self.kept));
            self.bytes
                .extend_from_slice(digest.finalize().as_bytes().as_slice());
            self.digesting = false;
        }
        KeyRef::new(&self.bytes, true)
    }
}

/// Unsigned integers of 16 bits or more, written as postcard's varint.
pub trait Unsigned: Copy {
    /// The value, widened.
    fn to_u64(self) -> u64;
}

/// Signed integers of 16 bits or more, written zigzag-encoded.
pub trait Signed: Copy {
    /// The value, widened.
    fn to_i64(self) -> i64;
}

/// `u8`, `i8` and `bool`: written as one byte.
pub trait OneByte: Copy {
    /// The byte postcard writes.
    fn byte(self) -> u8;
}

impl OneByte for u8 {
    #[inline]
    fn byte(self) -> u8 {
        self
    }
}

impl OneByte for i8 {
    #[inline]
    fn byte(self) -> u8 {
        self as u8
    }
}

impl OneByte for bool {
    #[inline]
    fn byte(self) -> u8 {
        u8::from(self)
    }
}

/// Values a key word is packed from: integers, `bool`, `char`.
pub trait WordPart: Copy {
    /// The value's bits, zero-extended (a signed value as its unsigned twin),
    /// so that packing several never lets one spill into another.
    fn bits(self) -> u64;
}

macro_rules! widen {
    ($($unsigned:ty),*; $($signed:ty => $twin:ty),*) => {
        $(impl Unsigned for $unsigned {
            #[inline]
            fn to_u64(self) -> u64 { self as u64 }
        })*
        $(impl Signed for $signed {
            #[inline]
            fn to_i64(self) -> i64 { self as i64 }
        })*
        $(impl WordPart for $unsigned {
            #[inline]
            fn bits(self) -> u64 { self as u64 }
        })*
        $(impl WordPart for $signed {
            #[inline]
            fn bits(self) -> u64 { self as $twin as u64 }
        })*
    };
}

widen!(u16, u32, u64, usize; i16 => u16, i32 => u32, i64 => u64, isize => usize);

impl WordPart for u8 {
    #[inline]
    fn bits(self) -> u64 {
        u64::from(self)
    }
}

impl WordPart for i8 {
    #[inline]
    fn bits(self) -> u64 {
        u64::from(self as u8)
    }
}

impl WordPart for bool {
    #[inline]
    fn bits(self) -> u64 {
        u64::from(self)
    }
}

impl WordPart for char {
    #[inline]
    fn bits(self) -> u64 {
        u64::from(u32::from(self))
    }
}

/// Mixed into a digest key's hash, so it is not the hash of a plain key with
/// the same 32 bytes (their bytes compare unequal anyway).
const DIGEST_HASH: u64 = 0x9e37_79b9_7f4a_7c15;

thread_local! {
    /// One reusable key buffer per thread: a hit serializes into it and allocates nothing.
    static BUFFER: RefCell<KeyWriter> = const { RefCell::new(KeyWriter::new()) };
}

/// Serializes a key with `write_key` into the thread's buffer and hands the
/// borrowed key to `with`.
///
/// The buffer is reused across calls; if it is already in use (a cached call
/// from inside `with`, which the runtime avoids), a fresh one is used.
#[inline]
pub(crate) fn with_key<R>(
    write_key: impl FnOnce(&mut KeyWriter) -> Result<(), KeyError>,
    with: impl FnOnce(KeyRef<'_>) -> R,
) -> Result<R, KeyError> {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut writer) => {
            writer.reset();
            write_key(&mut writer)?;
            let result = with(writer.key_ref());
            writer.shrink_if_huge();
            Ok(result)
        }
        Err(_) => {
            let mut writer = KeyWriter::new();
            write_key(&mut writer)?;
            Ok(with(writer.key_ref()))
        }
    })
}

/// The key stored in a persistent tier as `wire` (see [`Key::wire`]).
#[cfg(any(test, feature = "redis"))]
pub(crate) fn key_from_wire(wire: &[u8]) -> Key {
    let digest = wire.len() == DIGEST_ABOVE + 1;
    let bytes = if digest { &wire[..32] } else { wire };
    KeyRef::new(bytes, digest).to_owned_key()
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
            hash: Some(stored.hash),
            ..KeyRef::new(b"\x01b", false)
        };
        assert_eq!(KeyRef::hash(forged), stored.hash);
        assert!(!moka::Equivalent::equivalent(&forged, &stored));
        assert!(moka::Equivalent::equivalent(&stored.as_ref(), &stored));
    }

    #[test]
    fn a_word_key_and_its_bytes_convert_both_ways() {
        let word_key = |word: u64| {
            owned_key(|w| {
                w.write_word(word);
                Ok(())
            })
            .unwrap()
        };
        // No arguments: word 0, the empty key.
        assert!(word_key(0).is_empty_from(0));
        for word in [
            0,
            1,
            0xff,
            0x100,
            0x0100_0000,
            u64::MAX,
            1 << 63,
            0x00ff_0000_0000_0001,
        ] {
            let key = word_key(word);
            assert!(key.as_ref().bytes.len() <= 8);
            assert_eq!(Word::owned(&key), Word(word));
            assert_eq!(Word::probe(key.as_ref()), Word(word));
        }
        // Distinct words, distinct key bytes (trailing zeros are trimmed,
        // leading ones kept).
        assert_ne!(word_key(0x100), word_key(0x1));
        assert_ne!(word_key(0x100), word_key(0x10000));
    }
}

/// The direct writers must produce exactly postcard's bytes: generated code
/// picks them by written type, and a key must not depend on which path
/// wrote it (an alias takes the serde path).
#[cfg(test)]
mod direct_writers {
    use proptest::prelude::*;

    use super::*;

    fn direct(write: impl FnOnce(&mut KeyWriter)) -> Vec<u8> {
        let mut writer = KeyWriter::new();
        write(&mut writer);
        writer.key_ref().bytes.to_vec()
    }

    fn postcard_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        postcard::to_allocvec(value).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn strings(value in ".{0,40}") {
            prop_assert_eq!(direct(|w| w.write_str(&value)), postcard_bytes(&value));
        }

        #[test]
        fn unsigned(a in any::<u16>(), b in any::<u32>(), c in any::<u64>(), d in any::<usize>()) {
            prop_assert_eq!(direct(|w| w.write_varint(a)), postcard_bytes(&a));
            prop_assert_eq!(direct(|w| w.write_varint(b)), postcard_bytes(&b));
            prop_assert_eq!(direct(|w| w.write_varint(c)), postcard_bytes(&c));
            prop_assert_eq!(direct(|w| w.write_varint(d)), postcard_bytes(&d));
        }

        #[test]
        fn signed(a in any::<i16>(), b in any::<i32>(), c in any::<i64>(), d in any::<isize>()) {
            prop_assert_eq!(direct(|w| w.write_signed(a)), postcard_bytes(&a));
            prop_assert_eq!(direct(|w| w.write_signed(b)), postcard_bytes(&b));
            prop_assert_eq!(direct(|w| w.write_signed(c)), postcard_bytes(&c));
            prop_assert_eq!(direct(|w| w.write_signed(d)), postcard_bytes(&d));
        }

        #[test]
        fn bytes(a in any::<u8>(), b in any::<i8>(), c in any::<bool>()) {
            prop_assert_eq!(direct(|w| w.write_byte(a)), postcard_bytes(&a));
            prop_assert_eq!(direct(|w| w.write_byte(b)), postcard_bytes(&b));
            prop_assert_eq!(direct(|w| w.write_byte(c)), postcard_bytes(&c));
        }

        #[test]
        fn short_slices(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            doubles in proptest::collection::vec(any::<f64>(), 0..30),
            floats in proptest::collection::vec(any::<f32>(), 0..60),
        ) {
            prop_assert_eq!(direct(|w| w.write_u8s(&bytes)), postcard_bytes(&bytes));
            prop_assert_eq!(direct(|w| w.write_f64s(&doubles)), postcard_bytes(&doubles));
            prop_assert_eq!(direct(|w| w.write_f32s(&floats)), postcard_bytes(&floats));
        }

        #[test]
        fn several_arguments_in_a_row(text in ".{0,20}", n in any::<u32>(), m in any::<i64>()) {
            let written = direct(|w| {
                w.write_str(&text);
                w.write_varint(n);
                w.write_signed(m);
            });
            prop_assert_eq!(written, postcard_bytes(&(text.as_str(), n, m)));
        }
    }

    /// Past the threshold the key is the BLAKE3 digest of postcard's bytes,
    /// whichever writer produced them and however they were chunked.
    #[test]
    fn long_keys_are_the_digest_of_their_bytes() {
        // Past `PARALLEL_ABOVE` too: hashed on every core, the same digest.
        let doubles: Vec<f64> = (0..300_000).map(|i| f64::from(i) * 0.5).collect();
        assert!(doubles.len() * 8 > PARALLEL_ABOVE);
        let expected = blake3::hash(&postcard_bytes(&doubles));
        let mut direct = KeyWriter::new();
        direct.write_f64s(&doubles);
        let direct = direct.key_ref().to_owned_key();
        let via_serde = owned_key(|w| w.write("xs", &doubles)).unwrap();
        assert_eq!(direct, via_serde);
        assert_eq!(direct.as_ref().bytes, expected.as_bytes());
        assert!(direct.as_ref().digest);

        // The longest plain key and the shortest digested one.
        let at = vec![7u8; DIGEST_ABOVE - 2];
        let above = vec![7u8; DIGEST_ABOVE - 1];
        let at = owned_key(|w| w.write("b", &at)).unwrap();
        let above = owned_key(|w| w.write("b", &above)).unwrap();
        assert!(!at.as_ref().digest && at.as_ref().bytes.len() == DIGEST_ABOVE);
        assert!(above.as_ref().digest);
    }

    /// Huge slices of every kind among other arguments, before and after:
    /// the digest of postcard's bytes of the whole tuple.
    #[test]
    fn huge_slices_between_other_arguments_are_digested_in_order() {
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let floats: Vec<f32> = (0..400_000u32)
            .map(|i| f32::from(u16::try_from(i % 60_000).unwrap()) * 0.25)
            .collect();
        let doubles: Vec<f64> = (0..200_000).map(|i| f64::from(i) * 0.5).collect();
        let direct = {
            let mut writer = KeyWriter::new();
            writer.write_str("before");
            writer.write_u8s(&bytes);
            writer.write_varint(7u32);
            writer.write_f32s(&floats);
            writer.write_f64s(&doubles);
            writer.write_str("after");
            writer.key_ref().to_owned_key()
        };
        let tuple = ("before", &bytes, 7u32, &floats, &doubles, "after");
        assert_eq!(
            direct.as_ref().bytes,
            blake3::hash(&postcard_bytes(&tuple)).as_bytes()
        );
    }

    /// Whatever writer adds the byte that crosses the threshold (here an
    /// empty slice's length), the key is digested, as the serde path does.
    #[test]
    fn crossing_the_threshold_with_a_length_alone_digests() {
        let name = "n".repeat(DIGEST_ABOVE - 2); // 2 length bytes + 254 = 256
        for write_empty in [
            (|w: &mut KeyWriter| w.write_u8s(&[])) as fn(&mut KeyWriter),
            |w| w.write_f64s(&[]),
            |w| w.write_f32s(&[]),
            |w| w.write_str(""),
        ] {
            let mut direct = KeyWriter::new();
            direct.write_str(&name);
            write_empty(&mut direct);
            let direct = direct.key_ref().to_owned_key();
            let via_serde =
                owned_key(|w| w.write("k", &(name.as_str(), Vec::<u8>::new()))).unwrap();
            assert!(direct.as_ref().digest);
            assert_eq!(direct, via_serde);
        }
    }

    /// A digested key round-trips through the persistent tiers' wire form,
    /// and no plain key's wire form can equal it.
    #[test]
    fn wire_forms_keep_digests_apart() {
        let long = owned_key(|w| w.write("s", &"x".repeat(1000))).unwrap();
        let wire = long.wire();
        assert_eq!(wire.len(), DIGEST_ABOVE + 1);
        assert_eq!(key_from_wire(&wire), long);
        let plain = owned_key(|w| w.write("s", &"short")).unwrap();
        assert_eq!(key_from_wire(&plain.wire()), plain);
        // The digest's own 32 bytes as a plain key are another key.
        let forged = key_from_wire(long.as_ref().bytes);
        assert_ne!(forged, long);
    }
}
