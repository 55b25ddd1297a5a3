//! What the dashboard's in-process HTTP tests share: requests through the
//! router (no socket) and readers of the page they get back.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use examples::dashboard::Config;
use examples::dashboard::app::prepare;
use http::{Request, StatusCode, header};
use tower::ServiceExt as _;

/// A response, read whole.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) location: Option<String>,
    /// The `session` cookie it set, as `session=…`.
    pub(crate) cookie: Option<String>,
    pub(crate) body: String,
}

/// Sends `request` through `app`.
pub(crate) async fn send(app: &Router, request: Request<Body>) -> Page {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("session="))
        .map(|c| c.split(';').next().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Page {
        status,
        location,
        cookie,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET uri`, with `cookie` if given.
pub(crate) fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::empty()).unwrap()
}

/// `POST uri` of the url-encoded `form`, with `cookie`.
pub(crate) fn post(uri: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

/// `text` as one url-encoded form value.
pub(crate) fn form_encoded(text: &str) -> String {
    text.replace('%', "%25")
        .replace('&', "%26")
        .replace('?', "%3F")
        .replace('=', "%3D")
}

/// The value of the attribute `name` on the element whose `id` is `id`.
pub(crate) fn attribute<'a>(body: &'a str, id: &str, name: &str) -> Option<&'a str> {
    let element = &body[body.find(&format!(r#"id="{id}""#))?..];
    let element = &element[..element.find('>')?];
    let at = element.find(&format!(r#"{name}=""#))? + name.len() + 2;
    Some(&element[at..at + element[at..].find('"')?])
}

/// The text of the element whose `id` is `id` (up to its first tag).
pub(crate) fn text<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let element = &body[body.find(&format!(r#"id="{id}""#))?..];
    let content = &element[element.find('>')? + 1..];
    Some(&content[..content.find('<')?])
}

/// `miss` or `hit`: the page's status line.
pub(crate) fn cache_word(body: &str) -> &str {
    attribute(body, "load-status", "data-cache").expect("the page has a load status")
}

/// The CSRF token the page's forms post back.
pub(crate) fn csrf(body: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let at = body
        .find(marker)
        .expect("the page's forms carry a CSRF token")
        + marker.len();
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

/// The example database, shared by the tests (made on first use).
pub(crate) fn database() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples crate lives in the workspace")
        .join(".cache")
        .join("dashboard.sqlite")
}

/// This test process's disk tier, `name`d by its test binary: empty at
/// first use (a folder left by an earlier process of the same id goes).
pub(crate) fn cache_dir(name: &str) -> PathBuf {
    static FRESH: OnceLock<PathBuf> = OnceLock::new();
    FRESH
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("dashboard-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            dir
        })
        .clone()
}

/// The dashboard's router on the example database and this process's disk
/// tier (the first app of a process configures the tier; tests of one
/// binary share it).
pub(crate) async fn app(name: &str) -> Router {
    let config = Config {
        db_path: database(),
        cache_dir: cache_dir(name),
        ..Config::default()
    };
    prepare(&config).await.expect("the app starts")
}
