//! A serde `Serializer` writing a struct or a map back to query pairs.

use serde::ser::{self, Impossible, Serialize};

use super::error::{QueryError, Result};
use super::parse::{encode_pairs, is_embed_key};

/// One key and its values; an empty list means "absent" (`None`, `vec![]`).
pub(crate) type Entry = (String, Vec<String>);

/// Writes `value` (a struct or a map) as a query string, without a leading `?`.
///
/// The inverse of [`from_str`](crate::query::from_str): a sequence becomes a
/// repeated key, `None` and empty sequences are left out, `bool` is written
/// `true`/`false`, unit enum variants by name, and spaces become `+`.
///
/// # Errors
///
/// [`QueryError::Unsupported`] for a value that is not a struct or a map, or
/// a field holding a nested struct or map, bytes, or a non-unit enum variant;
/// [`QueryError::EmbedKey`] for a field named `embed` or `embed_options`.
///
/// # Examples
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Filters { region: Vec<String>, show_all: bool, page: Option<u32> }
///
/// let filters = Filters { region: vec!["asia".into(), "south america".into()], show_all: true, page: None };
/// assert_eq!(
///     state::query::to_string(&filters)?,
///     "region=asia&region=south+america&show_all=true",
/// );
/// # Ok::<(), state::query::QueryError>(())
/// ```
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let entries = to_entries(value)?;
    Ok(encode_pairs(
        entries
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k, v))),
    ))
}

/// Serializes `value` into one entry per field, keeping the absent ones (with
/// no values) so that a merge can remove them.
pub(crate) fn to_entries<T: Serialize + ?Sized>(value: &T) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    value.serialize(TopSerializer {
        entries: &mut entries,
    })?;
    Ok(entries)
}

fn unsupported(what: &'static str) -> QueryError {
    QueryError::Unsupported { what, key: None }
}

fn push_entry(entries: &mut Vec<Entry>, key: String, values: Vec<String>) -> Result<()> {
    if is_embed_key(&key) {
        return Err(QueryError::EmbedKey { key });
    }
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some((_, old)) => *old = values,
        None => entries.push((key, values)),
    }
    Ok(())
}

/// The whole value: must be a struct or a map.
struct TopSerializer<'a> {
    entries: &'a mut Vec<Entry>,
}

/// Collects the fields of a struct or the entries of a map.
struct EntriesCollector<'a> {
    entries: &'a mut Vec<Entry>,
    key: Option<String>,
}

macro_rules! top_unsupported {
    ($($method:ident($($arg:ty),*);)*) => {
        $(
            fn $method(self, $(_: $arg),*) -> Result<()> {
                Err(unsupported("a value that is not a struct or a map"))
            }
        )*
    };
}

impl<'a> ser::Serializer for TopSerializer<'a> {
    type Ok = ();
    type Error = QueryError;
    type SerializeSeq = Impossible<(), QueryError>;
    type SerializeTuple = Impossible<(), QueryError>;
    type SerializeTupleStruct = Impossible<(), QueryError>;
    type SerializeTupleVariant = Impossible<(), QueryError>;
    type SerializeMap = EntriesCollector<'a>;
    type SerializeStruct = EntriesCollector<'a>;
    type SerializeStructVariant = Impossible<(), QueryError>;

    top_unsupported! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_none(self) -> Result<()> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<()> {
        Err(unsupported("an enum variant with data"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(unsupported("a sequence of pairs"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(unsupported("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(unsupported("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(unsupported("an enum variant with data"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(EntriesCollector {
            entries: self.entries,
            key: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Ok(EntriesCollector {
            entries: self.entries,
            key: None,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(unsupported("an enum variant with data"))
    }
}

impl ser::SerializeStruct for EntriesCollector<'_> {
    type Ok = ();
    type Error = QueryError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        let values = value
            .serialize(ValueSerializer)
            .map_err(|e| e.with_key(key))?;
        push_entry(self.entries, key.to_owned(), values)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<()> {
        // `#[serde(skip_serializing_if = "...")]` skipped it: it is absent.
        push_entry(self.entries, key.to_owned(), Vec::new())
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeMap for EntriesCollector<'_> {
    type Ok = ();
    type Error = QueryError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(ScalarSerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <QueryError as ser::Error>::custom("map value without a key"))?;
        let values = value
            .serialize(ValueSerializer)
            .map_err(|e| e.with_key(&key))?;
        push_entry(self.entries, key, values)
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}

/// The value of one field: zero, one or several strings.
struct ValueSerializer;

/// Collects the elements of a sequence field.
struct SeqCollector {
    values: Vec<String>,
}

macro_rules! one_scalar {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method(self, v: $ty) -> Result<Vec<String>> {
                Ok(vec![ScalarSerializer.$method(v)?])
            }
        )*
    };
}

impl ser::Serializer for ValueSerializer {
    type Ok = Vec<String>;
    type Error = QueryError;
    type SerializeSeq = SeqCollector;
    type SerializeTuple = SeqCollector;
    type SerializeTupleStruct = SeqCollector;
    type SerializeTupleVariant = Impossible<Vec<String>, QueryError>;
    type SerializeMap = Impossible<Vec<String>, QueryError>;
    type SerializeStruct = Impossible<Vec<String>, QueryError>;
    type SerializeStructVariant = Impossible<Vec<String>, QueryError>;

    one_scalar! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
    }

    fn serialize_none(self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<String>> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Vec<String>> {
        Ok(vec![variant.to_owned()])
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Vec<String>> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Vec<String>> {
        Err(unsupported("an enum variant with data"))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqCollector> {
        Ok(SeqCollector {
            values: Vec::with_capacity(len.unwrap_or(0)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqCollector> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqCollector> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(unsupported("an enum variant with data"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(unsupported("a nested map"))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(unsupported("a nested struct"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(unsupported("an enum variant with data"))
    }
}

impl SeqCollector {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.values.push(value.serialize(ScalarSerializer)?);
        Ok(())
    }
}

impl ser::SerializeSeq for SeqCollector {
    type Ok = Vec<String>;
    type Error = QueryError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Vec<String>> {
        Ok(self.values)
    }
}

impl ser::SerializeTuple for SeqCollector {
    type Ok = Vec<String>;
    type Error = QueryError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Vec<String>> {
        Ok(self.values)
    }
}

impl ser::SerializeTupleStruct for SeqCollector {
    type Ok = Vec<String>;
    type Error = QueryError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Vec<String>> {
        Ok(self.values)
    }
}

/// One string: a map key, a scalar field or a sequence element.
struct ScalarSerializer;

macro_rules! display {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method(self, v: $ty) -> Result<String> {
                Ok(v.to_string())
            }
        )*
    };
}

impl ser::Serializer for ScalarSerializer {
    type Ok = String;
    type Error = QueryError;
    type SerializeSeq = Impossible<String, QueryError>;
    type SerializeTuple = Impossible<String, QueryError>;
    type SerializeTupleStruct = Impossible<String, QueryError>;
    type SerializeTupleVariant = Impossible<String, QueryError>;
    type SerializeMap = Impossible<String, QueryError>;
    type SerializeStruct = Impossible<String, QueryError>;
    type SerializeStructVariant = Impossible<String, QueryError>;

    display! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
    }

    fn serialize_str(self, v: &str) -> Result<String> {
        Ok(v.to_owned())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String> {
        Err(unsupported("bytes"))
    }

    /// `None` inside a sequence is written as an empty value, read back as `None`.
    fn serialize_none(self) -> Result<String> {
        Ok(String::new())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<String> {
        Ok(String::new())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String> {
        Ok(String::new())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String> {
        Err(unsupported("an enum variant with data"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(unsupported("a list inside a list"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(unsupported("a tuple inside a list"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(unsupported("a tuple struct inside a list"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(unsupported("an enum variant with data"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(unsupported("a nested map"))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(unsupported("a nested struct"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(unsupported("an enum variant with data"))
    }
}
