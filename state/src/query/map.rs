//! [`QueryMap`]: Streamlit's `st.query_params`, as a value.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use http::Uri;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{QueryError, Result};
use super::parse::{encode_pairs, is_embed_key, parse_pairs};

/// A string-valued, insertion-ordered multimap of query parameters, with
/// Streamlit's `st.query_params` semantics.
///
/// * [`get`](Self::get) returns the **last** value of a repeated key,
///   [`get_all`](Self::get_all) every value.
/// * Values are strings. [`set`](Self::set) takes a string (one value) or a
///   list (a repeated key); see [`QueryValue`].
/// * `embed` and `embed_options` (any case) are hidden from every read and
///   from iteration, refused by every write, kept by [`clear`](Self::clear)
///   and [`replace_all`](Self::replace_all), and still written to the URL by
///   [`Display`](#impl-Display-for-QueryMap) / [`to_pairs`](Self::to_pairs).
///
/// A `QueryMap` is an axum extractor (see [`Query`](crate::query::Query) for
/// the rejection); outside axum, build it with [`parse`](Self::parse) or
/// [`from_uri`](Self::from_uri).
///
/// # Examples
///
/// ```
/// use state::query::QueryMap;
///
/// let mut q = QueryMap::parse("?a=1&a=2&embed=true&b=x+y")?;
/// assert_eq!(q.get("a"), Some("2"));            // the last value wins
/// assert_eq!(q.get_all("a"), ["1", "2"]);
/// assert_eq!(q.get("embed"), None);             // hidden
/// assert_eq!(q.len(), 2);
///
/// q.set("page", "3")?;
/// q.set("tag", ["x", "y"])?;                    // a repeated key
/// assert!(q.set("EMBED", "false").is_err());   // refused
///
/// q.clear();                                    // embed params are kept
/// assert_eq!(q.to_string(), "embed=true");
/// # Ok::<(), state::query::QueryError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct QueryMap {
    /// Keys in first-insertion order; every value list is non-empty.
    entries: Vec<(String, Vec<String>)>,
}

/// The value of [`QueryMap::set`]: one string, or a list of strings that
/// becomes a repeated key.
///
/// Only strings convert, on purpose: write `n.to_string()` for a number. Note
/// that Rust writes `true.to_string()` as `"true"` where Streamlit's `str(True)`
/// is `"True"`; the typed reader accepts both. There is no counterpart of
/// Streamlit storing `None` as the string `"None"`: use
/// [`QueryMap::remove`]. An empty list removes the key (Streamlit keeps it,
/// reading as `""`, until the next rerun drops it from the URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryValue(Vec<String>);

impl QueryValue {
    /// The values, in order.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl From<&str> for QueryValue {
    fn from(value: &str) -> Self {
        Self(vec![value.to_owned()])
    }
}

impl From<String> for QueryValue {
    fn from(value: String) -> Self {
        Self(vec![value])
    }
}

impl From<&String> for QueryValue {
    fn from(value: &String) -> Self {
        Self(vec![value.clone()])
    }
}

impl From<Cow<'_, str>> for QueryValue {
    fn from(value: Cow<'_, str>) -> Self {
        Self(vec![value.into_owned()])
    }
}

impl<S: Into<String>> From<Vec<S>> for QueryValue {
    fn from(values: Vec<S>) -> Self {
        Self(values.into_iter().map(Into::into).collect())
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for QueryValue {
    fn from(values: [S; N]) -> Self {
        Self(values.into_iter().map(Into::into).collect())
    }
}

impl<S: AsRef<str>> From<&[S]> for QueryValue {
    fn from(values: &[S]) -> Self {
        Self(values.iter().map(|v| v.as_ref().to_owned()).collect())
    }
}

fn check_writable(key: &str) -> Result<()> {
    if is_embed_key(key) {
        Err(QueryError::EmbedKey {
            key: key.to_owned(),
        })
    } else {
        Ok(())
    }
}

impl QueryMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a query string (a leading `?` is allowed), keeping blank values
    /// (`?e` and `?e=` both read as `""`), as Streamlit does.
    ///
    /// # Errors
    ///
    /// [`QueryError::TooLong`] or [`QueryError::TooManyFields`] past the
    /// [limits](crate::query#limits). Streamlit silently ignores such a query
    /// string; we report it.
    pub fn parse(query: &str) -> Result<Self> {
        let mut map = Self::new();
        for (key, value) in parse_pairs(query)? {
            map.push(key.into_owned(), value.into_owned());
        }
        Ok(map)
    }

    /// Parses the query part of `uri` (none is an empty map).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub fn from_uri(uri: &Uri) -> Result<Self> {
        Self::parse(uri.query().unwrap_or(""))
    }

    /// Builds a map from pairs with Streamlit's `from_dict` semantics: a
    /// repeated key **overwrites** the earlier one, so `[("p", "1"), ("p", "2")]`
    /// gives `p=2`. Pass a list value for a repeated key.
    ///
    /// # Errors
    ///
    /// [`QueryError::EmbedKey`] if a key is `embed` or `embed_options`.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<QueryValue>,
    {
        let mut map = Self::new();
        map.update(pairs)?;
        Ok(map)
    }

    pub(crate) fn push(&mut self, key: String, value: String) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => self.entries.push((key, vec![value])),
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        if is_embed_key(key) {
            return None;
        }
        self.entries.iter().position(|(k, _)| k == key)
    }

    fn visible(&self) -> impl Iterator<Item = &(String, Vec<String>)> {
        self.entries.iter().filter(|(k, _)| !is_embed_key(k))
    }

    /// The last value of `key`, or `None` if it is absent or an embed key.
    pub fn get(&self, key: &str) -> Option<&str> {
        let i = self.position(key)?;
        self.entries[i].1.last().map(String::as_str)
    }

    /// Every value of `key`, in order; empty if it is absent or an embed key.
    pub fn get_all(&self, key: &str) -> &[String] {
        match self.position(key) {
            Some(i) => &self.entries[i].1,
            None => &[],
        }
    }

    /// Whether `key` is present (never true for an embed key).
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The number of distinct keys, embed keys excluded.
    pub fn len(&self) -> usize {
        self.visible().count()
    }

    /// Whether there is no key besides the embed keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(key, last value)` for every key, in insertion order, embed keys excluded.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.visible()
            .filter_map(|(k, vs)| Some((k.as_str(), vs.last()?.as_str())))
    }

    /// `(key, every value)` for every key, in insertion order, embed keys excluded.
    pub fn iter_all(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.visible().map(|(k, vs)| (k.as_str(), vs.as_slice()))
    }

    /// The keys, in insertion order, embed keys excluded.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.visible().map(|(k, _)| k.as_str())
    }

    /// Sets `key` to a string or a list of strings (a repeated key), replacing
    /// its values. An existing key keeps its position; a new one goes last.
    /// An empty list removes the key.
    ///
    /// # Errors
    ///
    /// [`QueryError::EmbedKey`] for `embed` / `embed_options` in any case,
    /// with Streamlit's message.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<QueryValue>) -> Result<()> {
        let key = key.into();
        check_writable(&key)?;
        self.set_values(key, value.into().0);
        Ok(())
    }

    /// Sets without the embed check; an empty list removes the key.
    pub(crate) fn set_values(&mut self, key: String, values: Vec<String>) {
        let found = self.entries.iter().position(|(k, _)| *k == key);
        match (found, values.is_empty()) {
            (Some(i), true) => {
                self.entries.remove(i);
            }
            (Some(i), false) => self.entries[i].1 = values,
            (None, true) => {}
            (None, false) => self.entries.push((key, values)),
        }
    }

    /// Adds one value to `key`, after its existing ones.
    ///
    /// # Errors
    ///
    /// [`QueryError::EmbedKey`] for an embed key.
    pub fn append(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let key = key.into();
        check_writable(&key)?;
        self.push(key, value.into());
        Ok(())
    }

    /// Removes `key` and returns its values. Embed keys are never removed
    /// (they read as absent, so this returns `None` for them).
    pub fn remove(&mut self, key: &str) -> Option<Vec<String>> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).1)
    }

    /// Removes every key except the embed keys, as Streamlit's `clear`.
    pub fn clear(&mut self) {
        self.entries.retain(|(k, _)| is_embed_key(k));
    }

    /// Sets every pair in order, so a repeated key ends with its last value.
    /// Either every pair is applied or, on error, none.
    ///
    /// # Errors
    ///
    /// [`QueryError::EmbedKey`] if any key is an embed key.
    pub fn update<I, K, V>(&mut self, pairs: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<QueryValue>,
    {
        let pairs: Vec<(String, QueryValue)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        for (key, _) in &pairs {
            check_writable(key)?;
        }
        for (key, value) in pairs {
            self.set_values(key, value.0);
        }
        Ok(())
    }

    /// Streamlit's `from_dict` on an existing map: [`clear`](Self::clear) then
    /// [`update`](Self::update), so the embed keys survive. On error the map is
    /// unchanged.
    ///
    /// # Errors
    ///
    /// [`QueryError::EmbedKey`] if any key is an embed key.
    pub fn replace_all<I, K, V>(&mut self, pairs: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<QueryValue>,
    {
        let mut next = self.clone();
        next.clear();
        next.update(pairs)?;
        *self = next;
        Ok(())
    }

    /// A copy with `key` set to `value`: "this query with one parameter
    /// changed".
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = state::query::QueryMap::parse("region=asia&page=1")?;
    /// assert_eq!(q.with("page", "2")?.to_url("/search"), "/search?region=asia&page=2");
    /// # Ok::<(), state::query::QueryError>(())
    /// ```
    pub fn with(&self, key: impl Into<String>, value: impl Into<QueryValue>) -> Result<Self> {
        let mut next = self.clone();
        next.set(key, value)?;
        Ok(next)
    }

    /// A copy without `key`.
    pub fn without(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.remove(key);
        next
    }

    /// Whether the URL has `embed=true` (key and value in any case), as
    /// Streamlit's `st.context.is_embedded`.
    pub fn is_embedded(&self) -> bool {
        self.entries.iter().any(|(k, vs)| {
            k.eq_ignore_ascii_case("embed") && vs.iter().any(|v| v.eq_ignore_ascii_case("true"))
        })
    }

    /// Every pair in URL order, **including** the embed keys, one pair per
    /// value of a repeated key.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.pairs()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
    }

    /// `path`, then `?` and the query if there is one: a link, a `Location`
    /// or an [`HxReplaceUrl`](crate::query::HxReplaceUrl).
    pub fn to_url(&self, path: &str) -> String {
        let query = self.to_string();
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }

    /// Reads the map (embed keys excluded) as a typed struct, with the rules of
    /// [`from_str`](crate::query::from_str).
    ///
    /// # Errors
    ///
    /// As [`from_str`](crate::query::from_str), except the limits, which were
    /// checked when the map was parsed.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let groups = self
            .visible()
            .map(|(k, vs)| {
                (
                    Cow::Borrowed(k.as_str()),
                    super::de::Values::Many(vs.iter().map(|v| Cow::Borrowed(v.as_str())).collect()),
                )
            })
            .collect();
        super::de::from_groups(groups)
    }

    /// Writes a typed struct into the map: every field replaces its key (a
    /// `None` or empty-`Vec` field removes it) and other keys are kept.
    ///
    /// # Errors
    ///
    /// As [`to_string`](crate::query::to_string); on error the map is unchanged.
    pub fn merge<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        for (key, values) in super::ser::to_entries(value)? {
            self.set_values(key, values);
        }
        Ok(())
    }
}

/// The URL-encoded query (without `?`), embed keys included, like Streamlit's
/// `urlencode(params, doseq=True)`: spaces become `+`.
impl fmt::Display for QueryMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_pairs(self.pairs()))
    }
}

/// Shows every key with its values, embed keys included (as Streamlit's `str`).
impl fmt::Debug for QueryMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, vs)| match vs.as_slice() {
                [one] => (k, Box::new(one) as Box<dyn fmt::Debug>),
                many => (k, Box::new(many) as Box<dyn fmt::Debug>),
            }))
            .finish()
    }
}

impl FromStr for QueryMap {
    type Err = QueryError;

    fn from_str(query: &str) -> Result<Self> {
        Self::parse(query)
    }
}

impl<'a> IntoIterator for &'a QueryMap {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
