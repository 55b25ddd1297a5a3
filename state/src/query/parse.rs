//! Splitting a raw query string into decoded `(key, value)` pairs, with limits.

use super::error::{QueryError, Result};

/// Whether `key` is `embed` or `embed_options`, in any case: the keys
/// Streamlit reserves for embedding, which the query APIs leave alone.
pub(crate) fn is_embed_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("embed") || key.eq_ignore_ascii_case("embed_options")
}

/// The longest query string accepted, in bytes (512 KiB, as Streamlit).
pub const MAX_QUERY_LEN: usize = 512 * 1024;

/// The most `&`-separated fields accepted in one query string (as Streamlit).
pub const MAX_FIELDS: usize = 1000;

/// Removes one leading `?`, so both `?a=1` and `a=1` are accepted.
pub(crate) fn strip_question_mark(query: &str) -> &str {
    query.strip_prefix('?').unwrap_or(query)
}

/// Checks the size limits of a raw query string (without its leading `?`).
///
/// Fields are counted as Python's `parse_qs` counts them: one more than the
/// number of `&` in a non-empty string.
pub(crate) fn check_limits(query: &str) -> Result<()> {
    if query.len() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong {
            len: query.len(),
            max: MAX_QUERY_LEN,
        });
    }
    if query.is_empty() {
        return Ok(());
    }
    // Stop counting just past the limit: the string can be 512 KiB of `&`.
    let count = 1 + query
        .bytes()
        .filter(|&b| b == b'&')
        .take(MAX_FIELDS)
        .count();
    if count > MAX_FIELDS {
        return Err(QueryError::TooManyFields {
            count,
            max: MAX_FIELDS,
        });
    }
    Ok(())
}

/// Decodes a query string into pairs, in order, after checking the limits.
///
/// `+` is a space, `%XX` escapes are decoded (invalid UTF-8 becomes U+FFFD),
/// a field without `=` has an empty value, and empty fields (`a=1&&b=2`) are
/// skipped.
pub(crate) fn parse_pairs(query: &str) -> Result<form_urlencoded::Parse<'_>> {
    let query = strip_question_mark(query);
    check_limits(query)?;
    Ok(form_urlencoded::parse(query.as_bytes()))
}

/// Encodes pairs as `application/x-www-form-urlencoded`, like Python's
/// `urlencode(..., doseq=True)`: spaces become `+`, everything but
/// `A-Z a-z 0-9 * - . _` is percent-encoded.
pub(crate) fn encode_pairs<'a, I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str> + 'a,
    V: AsRef<str> + 'a,
{
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key.as_ref(), value.as_ref());
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_count_matches_python() {
        assert!(check_limits("").is_ok());
        assert!(check_limits(&"&".repeat(MAX_FIELDS - 1)).is_ok());
        assert_eq!(
            check_limits(&"&".repeat(MAX_FIELDS)),
            Err(QueryError::TooManyFields {
                count: MAX_FIELDS + 1,
                max: MAX_FIELDS
            })
        );
    }

    #[test]
    fn blank_values_are_kept() {
        let pairs: Vec<_> = parse_pairs("?e&f=&g=1").unwrap().collect();
        let pairs: Vec<_> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(pairs, [("e", ""), ("f", ""), ("g", "1")]);
    }
}
