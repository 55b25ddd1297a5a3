//! Typed query parameters and a Streamlit-like query map: the counterpart of
//! Streamlit's `st.query_params`.
//!
//! * [`Query<T>`] (an axum extractor) and [`from_str`] / [`to_string`] read
//!   and write a serde struct, so a misspelt field name is a compile error.
//! * [`QueryMap`] is the dynamic, string-valued map with Streamlit's rules
//!   (last value wins, hidden and protected `embed` parameters).
//! * [`url_with`], [`url_with_params`], [`QueryMap::with`] and
//!   [`HxReplaceUrl`] turn a change into something to send: "this URL with one
//!   parameter changed".
//!
//! # Examples
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
//! #[serde(default, deny_unknown_fields)]
//! struct Filters {
//!     region: Vec<String>,
//!     show_all: bool,
//!     page: Option<u32>,
//! }
//!
//! let query = "region=asia&region=america&show_all=true";
//! let filters: Filters = state::query::from_str(query)?;
//! assert_eq!(filters.region, ["asia", "america"]);
//! assert_eq!(state::query::to_string(&filters)?, query);
//!
//! // Unknown parameters are an error with `deny_unknown_fields`:
//! assert!(state::query::from_str::<Filters>("regoin=asia").is_err());
//! # Ok::<(), state::query::QueryError>(())
//! ```
//!
//! # How values are read
//!
//! The query string is decoded as `application/x-www-form-urlencoded` (`+` is
//! a space, `%XX` escapes are UTF-8 and invalid sequences become U+FFFD),
//! and repeated keys are grouped. Then, per field type:
//!
//! | Field | Read from |
//! |---|---|
//! | `Vec<T>`, tuples, `HashSet<T>`… | every value of the key, in order (`?a=1&a=2`) |
//! | scalars (`String`, numbers, `bool`, `char`, unit enums) | the **last** value, as Streamlit |
//! | `Option<T>` | `None` when the key is absent **or every value is empty** (`?page=`) |
//! | `bool` | `true`/`false`, `1`/`0`, `on`/`off`, `yes`/`no`, in any case (so Streamlit's `True` is accepted); written as `true`/`false` |
//! | unit enum variants | the variant name (after `#[serde(rename…)]`) |
//! | `String` | the value as is; an empty value is `""` |
//!
//! An **absent** key follows serde's rules: `Option` fields become `None`,
//! other fields are a [`QueryError::MissingParameter`] unless they have
//! `#[serde(default)]`. Put `#[serde(default)]` on the struct (with a
//! `Default` impl) to make every field optional, the usual need for
//! `Vec` and `bool` ("checkbox") fields.
//!
//! An empty value is only "no value" for `Option`: `?page=` is an
//! [`QueryError::InvalidValue`] for a `u32` field. A bad value names the
//! parameter and the expected type: ``invalid value "abc" for query parameter
//! `page`: expected an integer (u32)``.
//!
//! `embed` and `embed_options` (any case) are never passed to a typed struct.
//! Nested structs and maps, bytes and enum variants with data are refused
//! with [`QueryError::Unsupported`]; `#[serde(flatten)]` works, but flattened
//! scalars arrive as strings (serde's limitation), so keep them `String`.
//!
//! Writing is the inverse: sequences become repeated keys, `None` and empty
//! sequences are left out. `Some(String::new())` is written `key=` and so
//! reads back as `None`: the one value that does not round-trip.
//!
//! # Limits
//!
//! A query string longer than [`MAX_QUERY_LEN`] (512 KiB) or with more than
//! [`MAX_FIELDS`] (1000) `&`-separated fields is rejected with
//! [`QueryError::TooLong`] / [`QueryError::TooManyFields`]. Streamlit has the
//! same limits but silently ignores such a query string; we report it (a
//! `400` from the extractors).
//!
//! # Differences from Streamlit
//!
//! * Values are strings, and [`QueryValue`] converts only from strings: a
//!   Rust `true.to_string()` is `"true"` (Streamlit writes `"True"`), and
//!   there is no `"None"` string: remove the key instead.
//! * Setting an empty list removes the key at once (Streamlit keeps it,
//!   reading `""`, until the next rerun).
//! * [`QueryMap::remove`] on a missing or embed key returns `None` instead of
//!   raising `KeyError`.
//! * Nothing is sent to the browser by itself: build the new URL with
//!   [`url_with`] / [`QueryMap::to_url`] and send it as a link, a redirect or
//!   an [`HxReplaceUrl`] header.

mod de;
mod error;
mod extract;
mod legacy;
mod map;
mod parse;
mod ser;
mod url;

pub use de::{from_str, from_uri};
pub use error::{QueryError, Result};
pub use extract::{Query, QueryRejection};
#[allow(deprecated)]
pub use legacy::{experimental_get_query_params, experimental_set_query_params};
pub use map::{QueryMap, QueryValue};
pub use parse::{MAX_FIELDS, MAX_QUERY_LEN};
pub use ser::to_string;
pub use url::{HX_REPLACE_URL, HxReplaceUrl, url_with, url_with_params};
