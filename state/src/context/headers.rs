//! [`Headers`]: read-only, case-insensitive access to the request headers.

use http::HeaderMap;
use http::header::{AsHeaderName, HeaderName};

/// The request headers, read only, as Streamlit's `st.context.headers`.
///
/// Names are case-insensitive. [`get`](Self::get) returns the **first** value
/// of a repeated header (Streamlit's actual behaviour) and
/// [`get_all`](Self::get_all) every value. Values that are not valid UTF-8
/// are skipped; [`as_header_map`](Self::as_header_map) gives the raw bytes.
///
/// # Examples
///
/// ```
/// use state::context::{Context, ContextConfig};
///
/// let request = http::Request::builder()
///     .header("Accept", "text/html")
///     .header("x-tag", "a")
///     .header("X-Tag", "b")
///     .body(())
///     .unwrap();
/// let (parts, ()) = request.into_parts();
/// let ctx = Context::from_parts(&parts, &ContextConfig::default());
///
/// assert_eq!(ctx.headers().get("ACCEPT"), Some("text/html"));
/// assert_eq!(ctx.headers().get("x-tag"), Some("a"));
/// assert_eq!(ctx.headers().get_all("x-tag"), ["a", "b"]);
/// assert_eq!(ctx.headers().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(HeaderMap);

fn header_name(name: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(name.as_bytes()).ok()
}

impl Headers {
    /// Wraps a header map.
    pub fn new(map: HeaderMap) -> Self {
        Self(map)
    }

    /// The first (UTF-8) value of the header `name`, in any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = header_name(name)?;
        self.values(name).next()
    }

    /// Every (UTF-8) value of the header `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        match header_name(name) {
            Some(name) => self.values(name).collect(),
            None => Vec::new(),
        }
    }

    fn values<K: AsHeaderName>(&self, name: K) -> impl Iterator<Item = &str> {
        self.0
            .get_all(name)
            .into_iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
    }

    /// Whether the header `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        header_name(name).is_some_and(|name| self.0.contains_key(name))
    }

    /// The number of distinct header names.
    pub fn len(&self) -> usize {
        self.0.keys_len()
    }

    /// Whether there is no header.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `(lowercase name, value)` pair, a repeated header once per value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter_map(|(name, value)| {
            Some((name.as_str(), std::str::from_utf8(value.as_bytes()).ok()?))
        })
    }

    /// The distinct header names, lowercase.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(HeaderName::as_str)
    }

    /// The underlying map, with raw byte values.
    pub fn as_header_map(&self) -> &HeaderMap {
        &self.0
    }
}
