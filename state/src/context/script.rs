//! The browser script that reports timezone, offset, theme and language.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header;

use super::config::ContextConfig;

/// Where [`script_router`] serves [`SCRIPT`].
pub const SCRIPT_PATH: &str = "/_state/context.js";

/// The JavaScript the page includes so that the browser-only fields of
/// [`Context`](crate::context::Context) (timezone, timezone offset, theme, and
/// locale when no `Accept-Language` is sent) reach the server.
///
/// It stores `Intl.DateTimeFormat().resolvedOptions().timeZone`,
/// `new Date().getTimezoneOffset()`, `prefers-color-scheme` and
/// `navigator.language` in one cookie (`st_ctx` unless the tag has
/// `data-cookie`), e.g. `st_ctx=tz=Europe%2FParis&tzo=-60&theme=dark&lang=fr-FR`,
/// and reloads the page once when the cookie was absent or changed
/// (`data-reload="false"`, from [`ContextConfig::reload_on_change`],
/// turns that off and marks the page `<html data-st-context="updated">`
/// instead). The first request of a new visitor therefore has these fields
/// as `None`. Serve it with [`script_router`] (or
/// your own route) and include it in `<head>` with [`script_tag`].
pub const SCRIPT: &str = include_str!("../../assets/context.js");

/// Serves [`SCRIPT`] as `text/javascript`, cacheable for a day.
pub async fn script_handler() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// A router serving [`SCRIPT`] at [`SCRIPT_PATH`]; merge it into the app.
///
/// ```rust,no_run
/// use axum::{response::Html, routing::get, Router};
/// use state::context::{script_router, script_tag, ContextConfig};
///
/// let tag = script_tag(&ContextConfig::default());
/// let app: Router = Router::new()
///     .route("/", get(move || async move { Html(format!("<head>{tag}</head><body>hi</body>")) }))
///     .merge(script_router());
/// ```
pub fn script_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(SCRIPT_PATH, get(script_handler))
}

/// The `<script>` tag loading [`SCRIPT`] from [`SCRIPT_PATH`], with the
/// configured cookie name (and `data-reload="false"` when
/// [`ContextConfig::reload_on_change`] is off); put it in the page's
/// `<head>`.
///
/// ```
/// use state::context::{script_tag, ContextConfig};
///
/// assert_eq!(
///     script_tag(&ContextConfig::new().cookie_name("ctx")),
///     r#"<script src="/_state/context.js" data-cookie="ctx"></script>"#,
/// );
/// ```
pub fn script_tag(config: &ContextConfig) -> String {
    let mut name = String::with_capacity(config.cookie_name.len());
    for c in config.cookie_name.chars() {
        match c {
            '&' => name.push_str("&amp;"),
            '"' => name.push_str("&quot;"),
            '<' => name.push_str("&lt;"),
            '>' => name.push_str("&gt;"),
            c => name.push(c),
        }
    }
    let reload = if config.reload {
        ""
    } else {
        r#" data-reload="false""#
    };
    format!(r#"<script src="{SCRIPT_PATH}" data-cookie="{name}"{reload}></script>"#)
}
