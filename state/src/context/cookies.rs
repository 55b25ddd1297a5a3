//! [`Cookies`]: read-only access to the request cookies.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::COOKIE;
use percent_encoding::percent_decode_str;

/// The request cookies (name → value), read only, as Streamlit's
/// `st.context.cookies`.
///
/// Parsing is lenient, as browsers are: every `Cookie` header is split on
/// `;`, names and values are trimmed, one pair of surrounding double quotes is
/// removed from a value, bytes that are not UTF-8 become U+FFFD, and pieces
/// without a name are skipped. A name sent twice keeps its **first** value
/// (browsers send the most specific path first). Values are returned as sent;
/// [`get_decoded`](Self::get_decoded) percent-decodes.
///
/// # Examples
///
/// ```
/// use state::context::{Context, ContextConfig};
///
/// let request = http::Request::builder()
///     .header("Cookie", r#"a=1; b="two words"; c=caf%C3%A9; a=ignored"#)
///     .body(())
///     .unwrap();
/// let (parts, ()) = request.into_parts();
/// let ctx = Context::from_parts(&parts, &ContextConfig::default());
///
/// assert_eq!(ctx.cookies().get("a"), Some("1"));
/// assert_eq!(ctx.cookies().get("b"), Some("two words"));
/// assert_eq!(ctx.cookies().get_decoded("c").as_deref(), Some("café"));
/// assert_eq!(ctx.cookies().len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies(Vec<(String, String)>);

impl Cookies {
    /// Parses every `Cookie` header of `headers`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut cookies = Self::default();
        for header in headers.get_all(COOKIE) {
            cookies.parse_into(&String::from_utf8_lossy(header.as_bytes()));
        }
        cookies
    }

    /// Parses one `Cookie` header value.
    pub fn parse(header: &str) -> Self {
        let mut cookies = Self::default();
        cookies.parse_into(header);
        cookies
    }

    fn parse_into(&mut self, header: &str) {
        for piece in header.split(';') {
            let Some((name, value)) = piece.split_once('=') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || self.contains_key(name) {
                continue;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }

    /// The value of the cookie `name` (case-sensitive), as sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the cookie `name`, percent-decoded (invalid UTF-8 becomes
    /// U+FFFD).
    pub fn get_decoded(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name)
            .map(|v| percent_decode_str(v).decode_utf8_lossy())
    }

    /// Whether the cookie `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The number of cookies.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no cookie.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `(name, value)`, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}
