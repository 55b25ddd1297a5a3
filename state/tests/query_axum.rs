//! `Query<T>` and `QueryMap` as extractors in a real axum router.

use axum::body::{Body, to_bytes};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Router, extract::OriginalUri};
use http::{Request, StatusCode};
use serde::Deserialize;
use state::Query;
use state::query::{HxReplaceUrl, QueryMap, QueryRejection, url_with};
use tower::ServiceExt;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Filters {
    region: Vec<String>,
    show_all: bool,
    page: Option<u32>,
}

fn app() -> Router {
    Router::new()
        .route(
            "/typed",
            get(|Query(f): Query<Filters>| async move {
                format!("{:?} {} {:?}", f.region, f.show_all, f.page)
            }),
        )
        .route(
            "/map",
            get(|q: QueryMap| async move { format!("{:?} {:?}", q.get("a"), q.get_all("a")) }),
        )
        .route(
            "/next",
            get(|OriginalUri(uri): OriginalUri| async move {
                let url = url_with(&uri, |q| q.set("page", "2"))?;
                Ok::<_, QueryRejection>((HxReplaceUrl::new(&url), url).into_response())
            }),
        )
}

async fn call(uri: &str) -> (StatusCode, Option<String>, String) {
    let response = app()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let hx = response
        .headers()
        .get("hx-replace-url")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, hx, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn typed_query_reads_repeated_keys() {
    let (status, _, body) = call("/typed?region=asia&region=america&show_all=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"["asia", "america"] true None"#);
    let (_, _, body) = call("/typed?page=").await;
    assert_eq!(body, "[] false None");
}

#[tokio::test]
async fn bad_value_is_a_400_naming_the_parameter() {
    let (status, _, body) = call("/typed?page=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"invalid value "abc" for query parameter `page`: expected an integer (u32)"#
    );
    let (status, _, body) = call("/typed?show_all=perhaps").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("`show_all`") && body.contains("boolean"),
        "{body}"
    );
}

#[tokio::test]
async fn limits_are_a_400_for_both_extractors() {
    let many = "a=1&".repeat(1000);
    for path in ["/typed", "/map"] {
        let (status, _, body) = call(&format!("{path}?{many}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.starts_with("query string has too many fields"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn query_map_extractor() {
    let (status, _, body) = call("/map?a=1&a=2&embed=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"Some("2") ["1", "2"]"#);
}

#[tokio::test]
async fn hx_replace_url_with_one_parameter_changed() {
    let (status, hx, body) = call("/next?q=caf%C3%A9+au+lait&page=1&embed=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "/next?q=caf%C3%A9+au+lait&page=2&embed=true");
    assert_eq!(hx.as_deref(), Some(body.as_str()));
}

#[test]
fn hx_replace_url_escapes_anything_unsafe() {
    let header = HxReplaceUrl::new("/a b\n/ü");
    assert_eq!(header.value(), "/a%20b%0A/%C3%BC");
}
