//! The error type of the [`query`](crate::query) module.

use std::borrow::Cow;
use std::fmt;

/// Everything that can go wrong while reading or writing query parameters.
///
/// Every message names the parameter involved (when there is one), so it can
/// be shown to the client as is: the [`Query`](crate::query::Query) extractor
/// answers `400 Bad Request` with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query string is longer than [`MAX_QUERY_LEN`](crate::query::MAX_QUERY_LEN) bytes.
    #[error("query string is too long: {len} bytes, the limit is {max} bytes")]
    TooLong {
        /// Length of the rejected query string, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },

    /// The query string has more than [`MAX_FIELDS`](crate::query::MAX_FIELDS) fields.
    #[error("query string has too many fields: {count}, the limit is {max}")]
    TooManyFields {
        /// Number of `&`-separated fields seen (counting stops just past the limit).
        count: usize,
        /// The limit.
        max: usize,
    },

    /// A value could not be converted to the type of its field.
    #[error("invalid value {value:?} for query parameter `{key}`: expected {expected}")]
    InvalidValue {
        /// The parameter's name.
        key: String,
        /// What the field's type accepts, e.g. `an integer (u32)`.
        expected: Cow<'static, str>,
        /// The value as received (after percent-decoding).
        value: String,
    },

    /// A required parameter is absent.
    #[error("missing query parameter `{key}`")]
    MissingParameter {
        /// The parameter's name.
        key: String,
    },

    /// Any other (de)serialization failure, e.g. from a custom `Deserialize`
    /// implementation or an unknown field with `#[serde(deny_unknown_fields)]`.
    #[error("{}", Custom { key: key.as_deref(), message })]
    Custom {
        /// The parameter being processed, when known.
        key: Option<String>,
        /// The underlying message.
        message: String,
    },

    /// The type cannot be represented as flat `key=value` pairs (nested
    /// structs or maps, byte strings, tuple or struct enum variants).
    #[error("cannot represent {what} as query parameters{}", InKey(key.as_deref()))]
    Unsupported {
        /// What was refused, e.g. `a nested struct`.
        what: &'static str,
        /// The parameter being processed, when known.
        key: Option<String>,
    },

    /// `embed` or `embed_options` (in any case) was set, removed or passed to a
    /// bulk write. The message is Streamlit's.
    #[error(
        "Query param embed and embed_options (case-insensitive) cannot be set programmatically."
    )]
    EmbedKey {
        /// The refused key, as given.
        key: String,
    },

    /// [`experimental_set_query_params`](crate::query::experimental_set_query_params)
    /// was given `embed` or `embed_options`. The message is Streamlit's.
    #[error(
        "Query param embed and embed_options (case-insensitive) cannot be set using set_query_params method."
    )]
    EmbedKeyLegacy {
        /// The refused key, as given.
        key: String,
    },
}

impl QueryError {
    /// The parameter this error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::InvalidValue { key, .. }
            | Self::MissingParameter { key }
            | Self::EmbedKey { key }
            | Self::EmbedKeyLegacy { key } => Some(key),
            Self::Custom { key, .. } | Self::Unsupported { key, .. } => key.as_deref(),
            Self::TooLong { .. } | Self::TooManyFields { .. } => None,
        }
    }

    /// Attaches `key` to errors raised while its value was processed, when
    /// they do not name a parameter yet.
    pub(crate) fn with_key(mut self, new_key: &str) -> Self {
        match &mut self {
            Self::Custom { key, .. } | Self::Unsupported { key, .. } if key.is_none() => {
                *key = Some(new_key.to_owned());
            }
            Self::InvalidValue { key, .. } if key.is_empty() => {
                new_key.clone_into(key);
            }
            _ => {}
        }
        self
    }
}

struct Custom<'a> {
    key: Option<&'a str>,
    message: &'a str,
}

impl fmt::Display for Custom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            Some(key) => write!(f, "query parameter `{key}`: {}", self.message),
            None => write!(f, "invalid query string: {}", self.message),
        }
    }
}

struct InKey<'a>(Option<&'a str>);

impl fmt::Display for InKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(key) => write!(f, " (parameter `{key}`)"),
            None => Ok(()),
        }
    }
}

impl serde::de::Error for QueryError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Custom {
            key: None,
            message: msg.to_string(),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self::MissingParameter {
            key: field.to_owned(),
        }
    }
}

impl serde::ser::Error for QueryError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        <Self as serde::de::Error>::custom(msg)
    }
}

/// The result type of the [`query`](crate::query) module.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;
