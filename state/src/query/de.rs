//! A serde `Deserializer` over decoded query pairs.
//!
//! Repeated keys are grouped (first-appearance order) and handed to each field
//! as a list: a sequence field takes every value, a scalar field takes the last
//! one (Streamlit's "last value wins").

use std::borrow::Cow;

use http::Uri;
use serde::de::value::CowStrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::error::{QueryError, Result};
use super::parse::{is_embed_key, parse_pairs};

/// A key and its values.
pub(crate) type Group<'de> = (Cow<'de, str>, Values<'de>);

/// The values of one key, in order; never empty. Most keys have one value,
/// which needs no allocation.
#[derive(Debug)]
pub(crate) enum Values<'de> {
    One(Cow<'de, str>),
    Many(Vec<Cow<'de, str>>),
}

impl<'de> Values<'de> {
    fn push(&mut self, value: Cow<'de, str>) {
        match self {
            Self::Many(values) => values.push(value),
            Self::One(first) => {
                let first = std::mem::take(first);
                *self = Self::Many(vec![first, value]);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(values) => values.len(),
        }
    }

    fn all_empty(&self) -> bool {
        match self {
            Self::One(value) => value.is_empty(),
            Self::Many(values) => values.iter().all(|v| v.is_empty()),
        }
    }

    fn into_last(self) -> Cow<'de, str> {
        match self {
            Self::One(value) => value,
            Self::Many(mut values) => values.pop().unwrap_or_default(),
        }
    }

    fn into_vec(self) -> Vec<Cow<'de, str>> {
        match self {
            Self::One(value) => vec![value],
            Self::Many(values) => values,
        }
    }
}

/// Parses a query string into `T`.
///
/// A leading `?` is allowed. `embed` and `embed_options` (any case) are
/// skipped, as Streamlit hides them from `st.query_params`; read them through
/// [`Context::is_embedded`](crate::context::Context::is_embedded) or
/// [`QueryMap::is_embedded`](crate::query::QueryMap::is_embedded).
///
/// See the [module documentation](crate::query#how-values-are-read) for how
/// each type is read.
///
/// # Errors
///
/// [`QueryError::TooLong`] / [`QueryError::TooManyFields`] past the
/// [limits](crate::query#limits), [`QueryError::InvalidValue`] naming the
/// parameter and the expected type for a value that does not parse,
/// [`QueryError::MissingParameter`] for an absent field that has neither an
/// `Option` type nor `#[serde(default)]`, and [`QueryError::Custom`] for errors
/// raised by the type's own `Deserialize` implementation.
///
/// # Examples
///
/// ```
/// use serde::Deserialize;
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// struct Filters {
///     #[serde(default)]
///     region: Vec<String>,
///     #[serde(default)]
///     show_all: bool,
///     page: Option<u32>,
/// }
///
/// let filters: Filters = state::query::from_str("?region=asia&region=america&show_all=true")?;
/// assert_eq!(
///     filters,
///     Filters { region: vec!["asia".into(), "america".into()], show_all: true, page: None },
/// );
///
/// let err = state::query::from_str::<Filters>("page=abc").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"invalid value "abc" for query parameter `page`: expected an integer (u32)"#,
/// );
/// # Ok::<(), state::query::QueryError>(())
/// ```
pub fn from_str<'de, T: de::Deserialize<'de>>(query: &'de str) -> Result<T> {
    from_groups(group(parse_pairs(query)?))
}

/// Parses the query part of `uri` into `T` (an absent query is an empty one).
///
/// # Errors
///
/// As [`from_str`].
pub fn from_uri<T: de::DeserializeOwned>(uri: &Uri) -> Result<T> {
    from_str(uri.query().unwrap_or(""))
}

/// Groups pairs by key, skipping embed keys.
fn group<'a>(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::with_capacity(16);
    for (key, value) in pairs {
        if is_embed_key(&key) {
            continue;
        }
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => groups.push((key, Values::One(value))),
        }
    }
    groups
}

pub(crate) fn from_groups<'de, T: de::Deserialize<'de>>(groups: Vec<Group<'de>>) -> Result<T> {
    T::deserialize(TopDeserializer { groups })
}

/// The whole query: a map from keys to lists of values.
struct TopDeserializer<'de> {
    groups: Vec<Group<'de>>,
}

impl<'de> de::Deserializer<'de> for TopDeserializer<'de> {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_map(GroupsAccess {
            groups: self.groups.into_iter(),
            value: None,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map struct enum identifier
    }
}

/// `MapAccess` over the grouped pairs.
struct GroupsAccess<'de> {
    groups: std::vec::IntoIter<Group<'de>>,
    value: Option<Group<'de>>,
}

impl<'de> de::MapAccess<'de> for GroupsAccess<'de> {
    type Error = QueryError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((key, values)) = self.groups.next() else {
            return Ok(None);
        };
        let result = seed.deserialize(CowStrDeserializer::<QueryError>::new(key.clone()));
        let key_value = result.map_err(|e| e.with_key(&key))?;
        self.value = Some((key, values));
        Ok(Some(key_value))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let Some((key, values)) = self.value.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        seed.deserialize(ValueDeserializer { key: &key, values })
            .map_err(|e| e.with_key(&key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.groups.len())
    }
}

/// Every value of one key (at least one).
struct ValueDeserializer<'k, 'de> {
    key: &'k str,
    values: Values<'de>,
}

impl<'de> ValueDeserializer<'_, 'de> {
    /// The last value: a scalar field reads this one.
    fn last(self) -> ScalarDeserializer<'de> {
        ScalarDeserializer {
            value: self.values.into_last(),
        }
    }

    fn unsupported(&self, what: &'static str) -> QueryError {
        QueryError::Unsupported {
            what,
            key: Some(self.key.to_owned()),
        }
    }
}

macro_rules! forward_to_last {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                let key = self.key;
                self.last().$method(visitor).map_err(|e| e.with_key(key))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_, 'de> {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.values.len() > 1 {
            self.deserialize_seq(visitor)
        } else {
            let key = self.key;
            self.last()
                .deserialize_any(visitor)
                .map_err(|e| e.with_key(key))
        }
    }

    forward_to_last! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_identifier
        deserialize_unit
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.values.all_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let key = self.key;
        let mut access = ValuesAccess {
            values: self.values.into_vec().into_iter(),
        };
        let value = visitor
            .visit_seq(&mut access)
            .map_err(|e| e.with_key(key))?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(self.unsupported("a nested map"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(self.unsupported("a nested struct"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let key = self.key;
        self.last()
            .deserialize_enum(name, variants, visitor)
            .map_err(|e| e.with_key(key))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }
}

/// `SeqAccess` over the values of one key.
struct ValuesAccess<'de> {
    values: std::vec::IntoIter<Cow<'de, str>>,
}

impl<'de> de::SeqAccess<'de> for ValuesAccess<'de> {
    type Error = QueryError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.values.next() {
            Some(value) => seed.deserialize(ScalarDeserializer { value }).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.values.len())
    }
}

/// One value. Errors it raises have an empty key, filled in by the caller.
struct ScalarDeserializer<'de> {
    value: Cow<'de, str>,
}

impl ScalarDeserializer<'_> {
    fn invalid(self, expected: &'static str) -> QueryError {
        QueryError::InvalidValue {
            key: String::new(),
            expected: Cow::Borrowed(expected),
            value: self.value.into_owned(),
        }
    }
}

/// Reads a boolean: `true`/`false`, `1`/`0`, `on`/`off` and `yes`/`no`, in any
/// case (so Streamlit's `True` / `False` are accepted).
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "1", "on", "yes"];
    const FALSE: [&str; 4] = ["false", "0", "off", "no"];
    if TRUE.iter().any(|t| value.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| value.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident, $ty:ty, $expected:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                match self.value.parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(self.invalid($expected)),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ScalarDeserializer<'de> {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match parse_bool(&self.value) {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.invalid("a boolean (true or false)")),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8, i8, "an integer (i8)";
        deserialize_i16 => visit_i16, i16, "an integer (i16)";
        deserialize_i32 => visit_i32, i32, "an integer (i32)";
        deserialize_i64 => visit_i64, i64, "an integer (i64)";
        deserialize_i128 => visit_i128, i128, "an integer (i128)";
        deserialize_u8 => visit_u8, u8, "an integer (u8)";
        deserialize_u16 => visit_u16, u16, "an integer (u16)";
        deserialize_u32 => visit_u32, u32, "an integer (u32)";
        deserialize_u64 => visit_u64, u64, "an integer (u64)";
        deserialize_u128 => visit_u128, u128, "an integer (u128)";
        deserialize_f32 => visit_f32, f32, "a number (f32)";
        deserialize_f64 => visit_f64, f64, "a number (f64)";
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let mut chars = self.value.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(self.invalid("a single character")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.value.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(self.value.into_deserializer())
    }

    fn deserialize_seq<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(nested("a list inside a list"))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(nested("a tuple inside a list"))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value> {
        Err(nested("a tuple struct inside a list"))
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(nested("a nested map"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(nested("a nested struct"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf identifier
    }
}

fn nested(what: &'static str) -> QueryError {
    QueryError::Unsupported { what, key: None }
}
