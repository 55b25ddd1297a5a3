//! Streamlit's removed `experimental_get_query_params` /
//! `experimental_set_query_params`, for porting old apps.

use std::collections::BTreeMap;

use super::error::{QueryError, Result};
use super::map::{QueryMap, QueryValue};
use super::parse::is_embed_key;

/// Streamlit's removed `st.experimental_get_query_params()`: every parameter
/// with **all** its values (values are always lists), embed keys removed.
///
/// Streamlit returned a `dict` in URL order; this returns a `BTreeMap`
/// (sorted by key).
///
/// # Examples
///
/// ```
/// # #![allow(deprecated)]
/// use state::query::{experimental_get_query_params, QueryMap};
///
/// let q = QueryMap::parse("a=1&a=2&b=&embed=true")?;
/// let params = experimental_get_query_params(&q);
/// assert_eq!(params["a"], ["1", "2"]);
/// assert_eq!(params["b"], [""]);
/// assert!(!params.contains_key("embed"));
/// # Ok::<(), state::query::QueryError>(())
/// ```
#[deprecated(
    since = "0.1.0",
    note = "removed in Streamlit 1.54: use `QueryMap::get_all` / `QueryMap::iter_all`, or the typed `Query<T>` extractor"
)]
pub fn experimental_get_query_params(query: &QueryMap) -> BTreeMap<String, Vec<String>> {
    query
        .iter_all()
        .map(|(k, vs)| (k.to_owned(), vs.to_vec()))
        .collect()
}

/// Streamlit's removed `st.experimental_set_query_params(**kwargs)`: returns
/// the query that **replaces** the whole current one. A list value becomes a
/// repeated key; the current `embed` / `embed_options` parameters are kept,
/// written with lowercase keys, after the new ones.
///
/// Send the result with [`QueryMap::to_url`] (a link, a redirect or
/// [`HxReplaceUrl`](crate::query::HxReplaceUrl)).
///
/// # Errors
///
/// [`QueryError::EmbedKeyLegacy`] (Streamlit's message) if `params` has an
/// embed key.
///
/// # Examples
///
/// ```
/// # #![allow(deprecated)]
/// use state::query::{experimental_set_query_params, QueryMap};
///
/// let current = QueryMap::parse("old=1&embed=true")?;
/// let next = experimental_set_query_params(&current, [("show_map", vec!["True"]), ("selected", vec!["asia", "america"])])?;
/// assert_eq!(next.to_string(), "show_map=True&selected=asia&selected=america&embed=true");
/// # Ok::<(), state::query::QueryError>(())
/// ```
#[deprecated(
    since = "0.1.0",
    note = "removed in Streamlit 1.54: use `QueryMap::replace_all` (or `set` / `update`), or `url_with_params` with a typed struct"
)]
pub fn experimental_set_query_params<I, K, V>(current: &QueryMap, params: I) -> Result<QueryMap>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<QueryValue>,
{
    let params: Vec<(String, QueryValue)> = params
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    if let Some((key, _)) = params.iter().find(|(k, _)| is_embed_key(k)) {
        return Err(QueryError::EmbedKeyLegacy { key: key.clone() });
    }
    let mut next = QueryMap::new();
    for (key, value) in params {
        next.set_values(key, value.into_vec());
    }
    for (key, value) in current.to_pairs() {
        if is_embed_key(&key) {
            next.push(key.to_ascii_lowercase(), value);
        }
    }
    Ok(next)
}
