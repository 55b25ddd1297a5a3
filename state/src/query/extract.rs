//! The axum extractors: [`Query`] and [`QueryMap`], and their rejection.

use std::ops::{Deref, DerefMut};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{StatusCode, Uri, header};
use serde::de::DeserializeOwned;

use super::error::QueryError;
use super::map::QueryMap;

/// Typed query parameters: an axum extractor that reads the query string into
/// `T` with [`from_str`](crate::query::from_str).
///
/// # Examples
///
/// ```rust,no_run
/// use axum::{routing::get, Router};
/// use serde::Deserialize;
/// use state::Query;
///
/// #[derive(Deserialize)]
/// #[serde(default)]
/// struct Filters { region: Vec<String>, show_all: bool, page: Option<u32> }
///
/// impl Default for Filters {
///     fn default() -> Self { Self { region: Vec::new(), show_all: false, page: None } }
/// }
///
/// async fn list(Query(filters): Query<Filters>) -> String {
///     format!("{} regions, page {}", filters.region.len(), filters.page.unwrap_or(1))
/// }
///
/// let app = Router::new().route("/list", get(list));
/// # let _: Router = app;
/// ```
///
/// A query that does not fit `T` (`?page=abc`) is rejected with
/// `400 Bad Request` and the error text as a plain-text body, e.g.
/// ``invalid value "abc" for query parameter `page`: expected an integer (u32)``.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> Query<T> {
    /// Reads the query of `uri`, as the extractor does (framework-free).
    ///
    /// # Errors
    ///
    /// [`QueryRejection`] wrapping the [`QueryError`].
    pub fn try_from_uri(uri: &Uri) -> Result<Self, QueryRejection> {
        Ok(Self(super::de::from_uri(uri)?))
    }
}

impl<T> Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Query<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = QueryRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::try_from_uri(&parts.uri)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = QueryRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_uri(&parts.uri)?)
    }
}

/// The rejection of [`Query`] and [`QueryMap`]: `400 Bad Request` with the
/// [`QueryError`]'s message as a plain-text body.
///
/// Handlers can also return it (it converts from [`QueryError`] with `?`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
#[non_exhaustive]
pub struct QueryRejection {
    error: QueryError,
}

impl QueryRejection {
    /// The status code: always `400 Bad Request`.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    /// The response body: the error's message.
    pub fn body_text(&self) -> String {
        self.error.to_string()
    }

    /// The underlying error.
    pub fn error(&self) -> &QueryError {
        &self.error
    }

    /// Takes the underlying error.
    pub fn into_error(self) -> QueryError {
        self.error
    }
}

impl From<QueryError> for QueryRejection {
    fn from(error: QueryError) -> Self {
        Self { error }
    }
}

impl IntoResponse for QueryRejection {
    fn into_response(self) -> Response {
        let body = self.body_text();
        tracing::debug!(status = 400, rejection = %body, "rejecting request: bad query string");
        (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}
