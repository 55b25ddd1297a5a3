//! Canonical key encoding: postcard, with maps and sets in a fixed order.
//!
//! A cache key must be equal for equal arguments. Plain postcard writes a
//! collection in its iteration order, and a `HashMap`'s or `HashSet`'s order
//! depends on its hasher seed, its capacity and its insertion history: two
//! equal maps would give two keys, and a hit would be missed. So this module
//! writes exactly the bytes postcard writes, except that
//!
//! * the entries of every map (any type that calls `serialize_map`) are
//!   written in ascending order of their encoded key bytes, and
//! * the elements of every set are written in ascending order of their
//!   encoded bytes. Serde serializes a set as a plain sequence, so a set is
//!   recognized by its Rust type name as it passes through one of the
//!   generic `serialize_*` methods: a type whose path ends in `HashSet`,
//!   `BTreeSet` or `IndexSet` (std, hashbrown, indexmap, ...), seen through
//!   references and through `Box`, `Rc`, `Arc` and `Cow`.
//!
//! Nested entries and elements are themselves encoded canonically, and the
//! framing (a varint length, then the items) is postcard's, so the bytes still
//! decode with `postcard::from_bytes`. Values without maps and sets take the
//! hot path: every call forwards to postcard's own serializer writing straight
//! into the output, with no allocation. Only maps, sets and sequences of
//! unknown length (which postcard itself rejects) are buffered to be sorted or
//! counted.

use postcard::Error;
use postcard::ser_flavors::Flavor;
use serde::ser::{self, Serialize};

/// Appends the canonical key encoding of `value` to `out`.
///
/// On error, `out` may hold a partial encoding; the caller truncates it.
pub(crate) fn write_canonical<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    value.serialize(Canonical::of::<T>(out))
}

/// The last path segments that mark a type as a set.
const SET_SUFFIXES: [&str; 3] = ["HashSet", "BTreeSet", "IndexSet"];

/// Smart pointers whose `Serialize` forwards to the pointee with the same
/// serializer (so the pointee never passes through a generic method).
const TRANSPARENT: [&str; 4] = [
    "alloc::boxed::Box",
    "alloc::rc::Rc",
    "alloc::sync::Arc",
    "alloc::borrow::Cow",
];

/// Whether a `type_name` names a set type (see the module docs).
///
/// Called once per sequence of two or more elements (never per element), so
/// the common non-sets are told apart inline in a few instructions.
#[inline]
fn is_set_name(name: &str) -> bool {
    let mut name = name.as_bytes();
    // Set types are generic: a name not ending in `>` is no set (`[u8]`, ...).
    if name.last() != Some(&b'>') {
        return false;
    }
    // A reference serializes as its referent.
    while let [b'&', rest @ ..] = name {
        name = rest.strip_prefix(b"mut ").unwrap_or(rest);
    }
    // The most common sequence of all.
    if name.starts_with(b"alloc::vec::Vec<") {
        return false;
    }
    is_set_path(name)
}

/// The full check behind [`is_set_name`].
fn is_set_path(mut name: &[u8]) -> bool {
    loop {
        match name {
            // A reference serializes as its referent.
            [b'&', rest @ ..] => {
                name = rest.strip_prefix(b"mut ").unwrap_or(rest);
                continue;
            }
            // Slices, arrays, tuples and pointers are not paths.
            [first, ..] if first.is_ascii_alphabetic() || *first == b'_' || *first >= 0x80 => {}
            _ => return false,
        }
        let Some(open) = name.iter().position(|&b| b == b'<') else {
            return false;
        };
        let path = &name[..open];
        if SET_SUFFIXES.iter().any(|s| path.ends_with(s.as_bytes())) {
            // Not a trait object (`dyn ...Set`).
            return !path.contains(&b' ');
        }
        if !TRANSPARENT.iter().any(|t| t.as_bytes() == path) {
            return false;
        }
        // `Cow<'_, T>`: skip the erased lifetime.
        let args = &name[open + 1..];
        name = args.strip_prefix(b"'_, ").unwrap_or(args);
    }
}

/// A postcard flavor that appends to a borrowed buffer.
struct Append<'a>(&'a mut Vec<u8>);

impl Flavor for Append<'_> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    #[inline]
    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Postcard's serializer writing to the end of `out`.
#[inline]
fn postcard(out: &mut Vec<u8>) -> postcard::Serializer<Append<'_>> {
    postcard::Serializer {
        output: Append(out),
    }
}

/// Writes postcard's length prefix for a sequence or map of `len` items: a
/// LEB128 varint, as postcard's `serialize_seq` writes it (pushed byte by
/// byte, which is cheaper than postcard's copy from a scratch array).
#[inline]
fn write_len(out: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        out.push(len as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

/// The canonical serializer for one value.
struct Canonical<'a> {
    out: &'a mut Vec<u8>,
    /// The value's type name, to tell a set's sequence from another one.
    /// Looked at only in `serialize_seq`, so other values never pay for it.
    type_name: &'static str,
}

impl<'a> Canonical<'a> {
    /// The serializer for a value of type `T`.
    #[inline]
    fn of<T: ?Sized>(out: &'a mut Vec<u8>) -> Self {
        Canonical {
            out,
            type_name: std::any::type_name::<T>(),
        }
    }
}

/// Forwards methods that have no nested values to postcard.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[inline]
        fn $method(self, $($arg: $ty),*) -> Result<(), Error> {
            ser::Serializer::$method(&mut postcard(self.out), $($arg),*)
        }
    )*};
}

impl<'a> ser::Serializer for Canonical<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Collection<'a>;
    type SerializeTuple = Fields<'a>;
    type SerializeTupleStruct = Fields<'a>;
    type SerializeTupleVariant = Fields<'a>;
    type SerializeMap = Collection<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Fields<'a>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    #[inline]
    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        ser::Serializer::collect_str(&mut postcard(self.out), value)
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.out.push(1); // postcard's `Some` tag
        value.serialize(Canonical::of::<T>(self.out))
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(Canonical::of::<T>(self.out))
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        // The variant index, as for a unit variant, then the contents.
        ser::Serializer::serialize_unit_variant(&mut postcard(self.out), name, index, variant)?;
        value.serialize(Canonical::of::<T>(self.out))
    }

    #[inline(always)]
    fn serialize_seq(self, len: Option<usize>) -> Result<Collection<'a>, Error> {
        match len {
            // Fewer than two elements are already in order.
            Some(len) if len < 2 || !is_set_name(self.type_name) => {
                write_len(self.out, len);
                Ok(Collection::Direct(self.out))
            }
            Some(_) => Ok(Buffer::start(self.out, true)),
            // Postcard needs the length first: count the elements.
            None => Ok(Buffer::start(self.out, is_set_name(self.type_name))),
        }
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Collection<'a>, Error> {
        match len {
            Some(len) if len < 2 => {
                write_len(self.out, len);
                Ok(Collection::Direct(self.out))
            }
            _ => Ok(Buffer::start(self.out, true)),
        }
    }

    #[inline]
    fn serialize_tuple(self, _len: usize) -> Result<Fields<'a>, Error> {
        Ok(Fields(self.out))
    }

    #[inline]
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, Error> {
        Ok(Fields(self.out))
    }

    #[inline]
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Fields<'a>, Error> {
        ser::Serializer::serialize_tuple_variant(
            &mut postcard(self.out),
            name,
            index,
            variant,
            len,
        )?;
        Ok(Fields(self.out))
    }

    #[inline]
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, Error> {
        Ok(Fields(self.out))
    }

    #[inline]
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Fields<'a>, Error> {
        ser::Serializer::serialize_struct_variant(
            &mut postcard(self.out),
            name,
            index,
            variant,
            len,
        )?;
        Ok(Fields(self.out))
    }
}

/// Tuples, structs and their variants: fields go straight to the output.
struct Fields<'a>(&'a mut Vec<u8>);

impl Fields<'_> {
    #[inline]
    fn field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(Canonical::of::<T>(self.0))
    }
}

impl ser::SerializeTuple for Fields<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.field(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Fields<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.field(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Fields<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.field(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Fields<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

/// Sequences and maps.
enum Collection<'a> {
    /// Items go straight to the output after the length, as in postcard.
    Direct(&'a mut Vec<u8>),
    /// Items are buffered, then counted and (for maps and sets) sorted.
    /// Boxed to keep the hot `Direct` case small to move around.
    Buffered(Box<Buffer<'a>>),
}

/// The encoded items of one sequence or map, waiting to be written.
struct Buffer<'a> {
    out: &'a mut Vec<u8>,
    /// The items' encodings, one after another.
    bytes: Vec<u8>,
    /// Where each item lies in `bytes`.
    items: Vec<Item>,
    /// Sort the items before writing them.
    sort: bool,
    /// A map key has been written and its value has not.
    awaiting_value: bool,
}

/// One buffered item: a sequence element, or a map entry.
///
/// The sort key is `(key, value)`: `bytes[start..split]` then
/// `bytes[split..end]`. A sequence element has an empty key.
#[derive(Clone, Copy)]
struct Item {
    start: usize,
    split: usize,
    end: usize,
}

impl<'a> Buffer<'a> {
    /// A buffered collection, written to `out` when it ends.
    ///
    /// Kept out of line so that the hot `Direct` path inlines.
    #[inline(never)]
    fn start(out: &'a mut Vec<u8>, sort: bool) -> Collection<'a> {
        Collection::Buffered(Box::new(Buffer {
            out,
            bytes: Vec::new(),
            items: Vec::new(),
            sort,
            awaiting_value: false,
        }))
    }

    /// Encodes `value` at the end of the buffer, returning where it starts.
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<usize, Error> {
        let start = self.bytes.len();
        value.serialize(Canonical::of::<T>(&mut self.bytes))?;
        Ok(start)
    }

    // The buffered methods stay out of line, off the hot `Direct` path.
    #[inline(never)]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let start = self.push(value)?;
        let end = self.bytes.len();
        self.items.push(Item {
            start,
            split: start,
            end,
        });
        Ok(())
    }

    #[inline(never)]
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        if self.awaiting_value {
            return Err(Error::SerdeSerCustom);
        }
        let start = self.push(key)?;
        let split = self.bytes.len();
        self.items.push(Item {
            start,
            split,
            end: split,
        });
        self.awaiting_value = true;
        Ok(())
    }

    #[inline(never)]
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.awaiting_value {
            return Err(Error::SerdeSerCustom);
        }
        self.push(value)?;
        let end = self.bytes.len();
        if let Some(item) = self.items.last_mut() {
            item.end = end;
        }
        self.awaiting_value = false;
        Ok(())
    }

    /// Writes the length, then the items (sorted if asked) to the output.
    #[inline(never)]
    fn finish(mut self) -> Result<(), Error> {
        if self.awaiting_value {
            return Err(Error::SerdeSerCustom);
        }
        let bytes = &self.bytes;
        if self.sort {
            self.items.sort_unstable_by(|a, b| {
                let key = |i: &Item| &bytes[i.start..i.split];
                let value = |i: &Item| &bytes[i.split..i.end];
                key(a).cmp(key(b)).then_with(|| value(a).cmp(value(b)))
            });
        }
        write_len(self.out, self.items.len());
        self.out.reserve(bytes.len());
        for item in &self.items {
            self.out.extend_from_slice(&bytes[item.start..item.end]);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Collection<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match self {
            Collection::Direct(out) => value.serialize(Canonical::of::<T>(out)),
            Collection::Buffered(buffer) => buffer.element(value),
        }
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        match self {
            Collection::Direct(_) => Ok(()),
            Collection::Buffered(buffer) => buffer.finish(),
        }
    }
}

impl ser::SerializeMap for Collection<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        match self {
            Collection::Direct(out) => key.serialize(Canonical::of::<T>(out)),
            Collection::Buffered(buffer) => buffer.key(key),
        }
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match self {
            Collection::Direct(out) => value.serialize(Canonical::of::<T>(out)),
            Collection::Buffered(buffer) => buffer.value(value),
        }
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        match self {
            Collection::Direct(_) => Ok(()),
            Collection::Buffered(buffer) => buffer.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

    fn canonical<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        write_canonical(value, &mut out).expect("serializes");
        out
    }

    fn plain<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        postcard::to_allocvec(value).expect("serializes")
    }

    /// A small deterministic generator for shuffles and contents.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn shuffle<T>(&mut self, items: &mut [T]) {
            for i in (1..items.len()).rev() {
                let j = (self.next() % (i as u64 + 1)) as usize;
                items.swap(i, j);
            }
        }
    }

    /// The same pairs inserted in two orders into maps of different capacities.
    fn two_maps<K, V>(pairs: &[(K, V)], rng: &mut Lcg) -> (HashMap<K, V>, HashMap<K, V>)
    where
        K: Clone + Eq + std::hash::Hash,
        V: Clone,
    {
        let mut shuffled = pairs.to_vec();
        rng.shuffle(&mut shuffled);
        let a: HashMap<K, V> = pairs.iter().cloned().collect();
        let mut b = HashMap::with_capacity(pairs.len() * 8 + 64);
        b.extend(shuffled);
        (a, b)
    }

    #[test]
    fn equal_hash_maps_give_equal_bytes() {
        let mut rng = Lcg(1);
        for size in [0, 1, 2, 3, 10, 100, 1000] {
            let pairs: Vec<(String, u64)> = (0..size)
                .map(|i| (format!("key-{i}-{}", rng.next()), rng.next()))
                .collect();
            let (a, b) = two_maps(&pairs, &mut rng);
            assert_eq!(a, b);
            assert_eq!(canonical(&a), canonical(&b), "size {size}");
            // Still valid postcard, decoding to the same map.
            let decoded: HashMap<String, u64> = postcard::from_bytes(&canonical(&a)).unwrap();
            assert_eq!(decoded, a);
        }
    }

    #[test]
    fn map_entries_are_sorted_by_key_bytes() {
        let map: HashMap<u8, &str> = [(3, "c"), (1, "a"), (2, "b"), (0, "z")].into();
        let sorted: BTreeMap<u8, &str> = map.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(canonical(&map), plain(&sorted));
    }

    #[test]
    fn equal_hash_sets_give_equal_bytes() {
        let mut rng = Lcg(2);
        for size in [0, 1, 2, 3, 50, 1000] {
            let items: Vec<u64> = (0..size).map(|_| rng.next()).collect();
            let mut shuffled = items.clone();
            rng.shuffle(&mut shuffled);
            let a: HashSet<u64> = items.iter().copied().collect();
            let mut b = HashSet::with_capacity(size * 8 + 64);
            b.extend(shuffled);
            assert_eq!(canonical(&a), canonical(&b), "size {size}");
            assert_eq!(canonical(&&a), canonical(&b), "through a reference");
            let decoded: HashSet<u64> = postcard::from_bytes(&canonical(&a)).unwrap();
            assert_eq!(decoded, a);
        }
    }

    #[test]
    fn nested_maps_and_sets_are_canonical() {
        #[derive(Serialize)]
        struct Query {
            name: String,
            filters: HashMap<String, i32>,
            tags: HashSet<String>,
        }

        let mut rng = Lcg(3);
        let pairs: Vec<(String, i32)> = (0..40).map(|i| (format!("f{i}"), i * 7)).collect();
        let tags: Vec<String> = (0..40).map(|i| format!("tag{i}")).collect();
        let mut shuffled_tags = tags.clone();
        rng.shuffle(&mut shuffled_tags);

        let (f1, f2) = two_maps(&pairs, &mut rng);
        let q1 = Query {
            name: "q".into(),
            filters: f1,
            tags: tags.into_iter().collect(),
        };
        let q2 = Query {
            name: "q".into(),
            filters: f2,
            tags: shuffled_tags.into_iter().collect(),
        };
        assert_eq!(canonical(&q1), canonical(&q2));

        // Inside a Vec, an Option and a tuple.
        let v1 = vec![(Some(&q1), 1u8), (None, 2)];
        let v2 = vec![(Some(&q2), 1u8), (None, 2)];
        assert_eq!(canonical(&v1), canonical(&v2));

        // HashMap<String, HashSet<u32>>, each inner set in another order.
        let groups: Vec<(String, Vec<u32>)> = (0..30)
            .map(|g| (format!("group{g}"), (0..g * 3).collect()))
            .collect();
        let m1: HashMap<String, HashSet<u32>> = groups
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().copied().collect()))
            .collect();
        let mut m2: HashMap<String, HashSet<u32>> = HashMap::with_capacity(500);
        let mut reversed = groups.clone();
        reversed.reverse();
        for (k, mut v) in reversed {
            rng.shuffle(&mut v);
            let mut set = HashSet::with_capacity(300);
            set.extend(v);
            m2.insert(k, set);
        }
        assert_eq!(m1, m2);
        assert_eq!(canonical(&m1), canonical(&m2));
        let decoded: HashMap<String, HashSet<u32>> = postcard::from_bytes(&canonical(&m1)).unwrap();
        assert_eq!(decoded, m1);

        // Maps as map keys' values, and sets behind smart pointers.
        let boxed1: Vec<Box<HashSet<u32>>> = vec![Box::new((0..20).collect())];
        let boxed2: Vec<Box<HashSet<u32>>> = vec![Box::new((0..20).rev().collect())];
        assert_eq!(canonical(&boxed1), canonical(&boxed2));
        let set1: HashSet<u32> = (0..20).collect();
        let set2: HashSet<u32> = (0..20).rev().collect();
        let cow1 = vec![std::borrow::Cow::Borrowed(&set1)];
        let cow2: Vec<std::borrow::Cow<'_, HashSet<u32>>> = vec![std::borrow::Cow::Owned(set2)];
        assert_eq!(canonical(&cow1), canonical(&cow2));
    }

    #[test]
    fn btree_collections_stay_canonical() {
        let map: BTreeMap<i32, String> = (-50..50).map(|i| (i, i.to_string())).collect();
        let set: BTreeSet<String> = (0..100).map(|i| format!("s{i}")).collect();
        // Same bytes for the same contents, whatever the insertion order.
        let map2: BTreeMap<i32, String> = (-50..50).rev().map(|i| (i, i.to_string())).collect();
        let set2: BTreeSet<String> = (0..100).rev().map(|i| format!("s{i}")).collect();
        assert_eq!(canonical(&map), canonical(&map2));
        assert_eq!(canonical(&set), canonical(&set2));
        // And valid postcard.
        assert_eq!(
            postcard::from_bytes::<BTreeMap<i32, String>>(&canonical(&map)).unwrap(),
            map
        );
        assert_eq!(
            postcard::from_bytes::<BTreeSet<String>>(&canonical(&set)).unwrap(),
            set
        );
    }

    #[test]
    fn sequences_keep_their_order() {
        assert_ne!(canonical(&vec![1, 2]), canonical(&vec![2, 1]));
        assert_ne!(canonical(&[1u8, 2][..]), canonical(&[2u8, 1][..]));
        assert_ne!(canonical(&("a", "b")), canonical(&("b", "a")));
        // A slice of sets is a sequence, not a set.
        let sets = [HashSet::from([2u8]), HashSet::from([1u8])];
        let reversed = [HashSet::from([1u8]), HashSet::from([2u8])];
        assert_ne!(canonical(&sets[..]), canonical(&reversed[..]));
        assert_eq!(canonical(&sets[..]), plain(&sets[..]));
    }

    #[test]
    fn distinct_maps_give_distinct_bytes() {
        let base: HashMap<&str, u32> = [("a", 1), ("b", 2)].into();
        let other_value: HashMap<&str, u32> = [("a", 1), ("b", 3)].into();
        let other_key: HashMap<&str, u32> = [("a", 1), ("c", 2)].into();
        let more: HashMap<&str, u32> = [("a", 1), ("b", 2), ("c", 3)].into();
        let swapped: HashMap<&str, u32> = [("a", 2), ("b", 1)].into();
        let all = [&base, &other_value, &other_key, &more, &swapped];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(canonical(x), canonical(y));
            }
        }
        let s1: HashSet<u32> = [1, 2].into();
        let s2: HashSet<u32> = [1, 3].into();
        assert_ne!(canonical(&s1), canonical(&s2));
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Newtype(i64);

    #[derive(Serialize)]
    struct Tuple(u8, String, f32);

    #[derive(Serialize)]
    struct Record<'a> {
        id: u32,
        name: &'a str,
        score: f64,
        tags: Vec<String>,
        parent: Option<Box<Record<'a>>>,
        #[serde(with = "serde_bytes_like")]
        blob: Vec<u8>,
    }

    /// `serialize_bytes` without depending on serde_bytes.
    mod serde_bytes_like {
        pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }

    #[derive(Serialize)]
    enum Kind {
        Unit,
        Newtype(u16),
        Tuple(i8, char),
        Struct { a: u128, b: i128 },
    }

    #[test]
    fn values_without_maps_or_sets_match_postcard() {
        fn check<T: Serialize + ?Sized>(value: &T) {
            assert_eq!(
                canonical(value),
                plain(value),
                "{}",
                std::any::type_name::<T>()
            );
        }
        check(&0u8);
        check(&u64::MAX);
        check(&i64::MIN);
        check(&-1i16);
        check(&u128::MAX);
        check(&i128::MIN);
        check(&true);
        check(&'é');
        check(&1.5f32);
        check(&f64::NAN);
        check(&-0.0f64);
        check("a str");
        check(&String::from("a string"));
        check(&());
        check(&Unit);
        check(&Newtype(-7));
        check(&Tuple(1, "x".into(), 2.5));
        check(&(1u8, "two", 3.0f64, Some(4u32), None::<u8>));
        check(&Some(Some(())));
        check(&[1u32, 2, 3]);
        check(&[0u8; 0][..]);
        check(&vec![vec![1u8], vec![], vec![2, 3]]);
        for len in [127, 128, 300, 16_383, 16_384, 70_000] {
            check(&vec![0u8; len]);
        }
        check(&Kind::Unit);
        check(&Kind::Newtype(300));
        check(&Kind::Tuple(-3, 'z'));
        check(&Kind::Struct {
            a: u128::MAX,
            b: -5,
        });
        check(&vec![Kind::Unit, Kind::Newtype(1)]);
        let record = Record {
            id: 42,
            name: "child",
            score: 0.25,
            tags: vec!["b".into(), "a".into()],
            parent: Some(Box::new(Record {
                id: 1,
                name: "root",
                score: f64::INFINITY,
                tags: vec![],
                parent: None,
                blob: vec![],
            })),
            blob: vec![0, 255, 128],
        };
        check(&record);
        check(&Ok::<u8, String>(1));
        check(&Err::<u8, String>("e".into()));
        check(&std::time::Duration::from_millis(1500));
        check(&std::borrow::Cow::Borrowed("cow"));
    }

    #[test]
    fn collect_str_matches_postcard() {
        struct Shown;
        impl Serialize for Shown {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&format_args!("{}+{}", 1, 2))
            }
        }
        assert_eq!(canonical(&Shown), plain(&Shown));
    }

    #[test]
    fn appends_to_existing_output() {
        let mut out = vec![9, 9];
        write_canonical(&HashMap::from([(2u8, 0u8), (1, 0)]), &mut out).unwrap();
        assert_eq!(out, [9, 9, 2, 1, 0, 2, 0]);
    }

    #[test]
    fn sequences_of_unknown_length_are_counted() {
        struct Evens(u32);
        impl Serialize for Evens {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq((0..self.0).filter(|i| i % 2 == 0))
            }
        }
        let bytes = canonical(&Evens(10));
        assert_eq!(bytes, plain(&vec![0u32, 2, 4, 6, 8]));
        assert!(postcard::to_allocvec(&Evens(10)).is_err());

        // `#[serde(flatten)]` serializes a map of unknown length.
        #[derive(Serialize)]
        struct Outer {
            a: u8,
            #[serde(flatten)]
            inner: Inner,
        }
        #[derive(Serialize)]
        struct Inner {
            b: u8,
        }
        let bytes = canonical(&Outer {
            a: 1,
            inner: Inner { b: 2 },
        });
        let decoded: BTreeMap<String, u8> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, BTreeMap::from([("a".into(), 1), ("b".into(), 2)]));
    }

    #[test]
    fn misbehaving_map_is_an_error_not_a_panic() {
        struct ValueFirst;
        impl Serialize for ValueFirst {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(None)?;
                map.serialize_value(&1u8)?;
                map.end()
            }
        }
        let mut out = Vec::new();
        assert!(write_canonical(&ValueFirst, &mut out).is_err());
    }

    #[test]
    fn errors_propagate() {
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let mut out = Vec::new();
        assert!(write_canonical(&Fails, &mut out).is_err());
        assert!(write_canonical(&HashMap::from([(1u8, Fails)]), &mut out).is_err());
        assert!(write_canonical(&vec![Some(Fails)], &mut out).is_err());
    }

    #[test]
    fn set_types_are_recognized_by_name() {
        for name in [
            "std::collections::hash::set::HashSet<u32>",
            "&&mut alloc::collections::btree::set::BTreeSet<u32>",
            "hashbrown::set::HashSet<u32, foldhash::fast::RandomState>",
            "indexmap::set::IndexSet<alloc::string::String>",
            "alloc::boxed::Box<std::collections::hash::set::HashSet<u32>>",
            "alloc::sync::Arc<&std::collections::hash::set::HashSet<u32>>",
            "alloc::borrow::Cow<'_, alloc::collections::btree::set::BTreeSet<u32>>",
        ] {
            assert!(is_set_name(name), "{name}");
        }
        for name in [
            "u32",
            "alloc::vec::Vec<std::collections::hash::set::HashSet<u32>>",
            "[std::collections::hash::set::HashSet<u32>]",
            "[std::collections::hash::set::HashSet<u32>; 2]",
            "(std::collections::hash::set::HashSet<u32>, u8)",
            "std::collections::hash::map::HashMap<u32, std::collections::hash::set::HashSet<u32>>",
            "alloc::boxed::Box<[std::collections::hash::set::HashSet<u32>]>",
            "dyn erased_serde::ser::Serialize",
            "*const std::collections::hash::set::HashSet<u32>",
        ] {
            assert!(!is_set_name(name), "{name}");
        }
        assert!(is_set_name(std::any::type_name::<&HashSet<u8>>()));
        assert!(!is_set_name(std::any::type_name::<Vec<u8>>()));
    }

    #[test]
    fn custom_set_types_are_sorted() {
        /// A set type of another crate, iterating in insertion order.
        struct IndexSet<T>(Vec<T>);
        impl<T: Serialize> Serialize for IndexSet<T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(&self.0)
            }
        }
        assert_eq!(
            canonical(&Some(IndexSet(vec![3, 1, 2]))),
            canonical(&Some(IndexSet(vec![1, 2, 3])))
        );
    }
}
