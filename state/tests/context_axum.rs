//! `Context` as an axum extractor: ConnectInfo, the config extension and the
//! shipped script.

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Request, StatusCode, header};
use state::Context;
use state::context::{ContextConfig, SCRIPT, SCRIPT_PATH, script_router};
use tower::ServiceExt;

async fn describe(ctx: Context) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        ctx.ip_address(),
        ctx.locale(),
        ctx.timezone(),
        ctx.url()
    )
}

async fn body(app: Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn request() -> Request<Body> {
    Request::get("/who")
        .header("Host", "app.test")
        .header("X-Forwarded-For", "198.51.100.7")
        .header("Accept-Language", "de-AT,de;q=0.9")
        .header("Cookie", "st_ctx=tz=Europe%2FVienna")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn reads_connect_info_and_ignores_spoofing_by_default() {
    let app = Router::new()
        .route("/who", get(describe))
        .layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 2], 4000))));
    let (status, _, text) = body(app, request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        text,
        r#"Some(10.0.0.2) Some("de-AT") Some("Europe/Vienna") Some("http://app.test/who")"#
    );
}

#[tokio::test]
async fn config_extension_trusts_the_proxy() {
    let config = ContextConfig::new().trust_proxy("10.0.0.0/8".parse().unwrap());
    let app = Router::new()
        .route("/who", get(describe))
        .layer(Extension(config))
        .layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 2], 4000))));
    let (_, _, text) = body(app, request()).await;
    assert!(text.starts_with("Some(198.51.100.7) "), "{text}");
}

#[tokio::test]
async fn without_connect_info_the_address_is_none() {
    let app = Router::new().route("/who", get(describe));
    let (status, _, text) = body(app, request()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("None "), "{text}");
}

#[tokio::test]
async fn serves_the_script() {
    let app: Router = Router::new().merge(script_router());
    let request = Request::get(SCRIPT_PATH).body(Body::empty()).unwrap();
    let (status, headers, text) = body(app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(text, SCRIPT);
    for needle in [
        "resolvedOptions().timeZone",
        "getTimezoneOffset",
        "prefers-color-scheme",
        "navigator.language",
        "st_ctx",
    ] {
        assert!(SCRIPT.contains(needle), "{needle}");
    }
}
