//! "This URL with one parameter changed": links, redirects and `HX-Replace-Url`.

use axum::response::{IntoResponseParts, ResponseParts};
use http::header::HeaderName;
use http::{HeaderValue, Uri};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;

use super::error::Result;
use super::map::QueryMap;

/// Returns the path of `uri` with its query changed by `edit`: a value for a
/// link, a redirect or an [`HxReplaceUrl`] header. Parameters `edit` does not
/// touch, and the embed parameters, are kept.
///
/// The result is path-relative (`/search?page=2`): scheme and host are left
/// out even when `uri` has them.
///
/// # Errors
///
/// Any error of parsing the current query (see
/// [`QueryMap::parse`]) or returned by `edit`.
///
/// # Examples
///
/// ```
/// use http::Uri;
///
/// let uri: Uri = "/search?region=asia&page=1&embed=true".parse().unwrap();
/// let next = state::query::url_with(&uri, |q| q.set("page", "2"))?;
/// assert_eq!(next, "/search?region=asia&page=2&embed=true");
/// # Ok::<(), state::query::QueryError>(())
/// ```
pub fn url_with<F>(uri: &Uri, edit: F) -> Result<String>
where
    F: FnOnce(&mut QueryMap) -> Result<()>,
{
    let mut map = QueryMap::from_uri(uri)?;
    edit(&mut map)?;
    Ok(map.to_url(uri.path()))
}

/// Returns the path of `uri` with the fields of `params` written into its
/// query: each field replaces its key, a `None` or empty field removes it, and
/// other parameters are kept (see [`QueryMap::merge`]).
///
/// # Errors
///
/// As [`url_with`] and [`to_string`](crate::query::to_string).
///
/// # Examples
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Paging { page: u32, size: Option<u32> }
///
/// let uri: http::Uri = "/list?q=rust&size=50".parse().unwrap();
/// let next = state::query::url_with_params(&uri, &Paging { page: 3, size: None })?;
/// assert_eq!(next, "/list?q=rust&page=3");
/// # Ok::<(), state::query::QueryError>(())
/// ```
pub fn url_with_params<T: Serialize + ?Sized>(uri: &Uri, params: &T) -> Result<String> {
    url_with(uri, |q| q.merge(params))
}

/// Characters escaped in an [`HxReplaceUrl`] value: controls and space (any
/// non-ASCII is escaped as UTF-8 as well), so the header is always valid.
const HEADER_UNSAFE: &AsciiSet = &CONTROLS.add(b' ');

/// The name of the htmx `HX-Replace-Url` response header.
pub const HX_REPLACE_URL: HeaderName = HeaderName::from_static("hx-replace-url");

/// A response part setting htmx's `HX-Replace-Url` header, which makes the
/// browser show `url` without a new history entry.
///
/// # Examples
///
/// ```
/// use axum::{extract::OriginalUri, response::IntoResponse};
/// use state::query::{url_with, HxReplaceUrl};
///
/// async fn next_page(OriginalUri(uri): OriginalUri) -> Result<impl IntoResponse, state::query::QueryRejection> {
///     let url = url_with(&uri, |q| q.set("page", "2"))?;
///     Ok((HxReplaceUrl::new(&url), "page 2"))
/// }
/// # let _ = next_page;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HxReplaceUrl(HeaderValue);

impl HxReplaceUrl {
    /// The header for `url`; control characters, spaces and non-ASCII are
    /// percent-encoded, so any string gives a valid header.
    pub fn new(url: &str) -> Self {
        let encoded = utf8_percent_encode(url, HEADER_UNSAFE).to_string();
        // Only visible ASCII is left, which is always a valid header value.
        let value = HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static("/"));
        Self(value)
    }

    /// The header value.
    pub fn value(&self) -> &HeaderValue {
        &self.0
    }
}

impl IntoResponseParts for HxReplaceUrl {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().insert(HX_REPLACE_URL, self.0);
        Ok(res)
    }
}
