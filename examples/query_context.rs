//! Typed query parameters, the query map and the request context in one axum
//! app: a filterable list whose "next page" link keeps every other
//! parameter, a greeting in the client's language and timezone, and the
//! browser script that reports the timezone and theme.
//!
//! Run with: `cargo run -p examples --example query_context` (sends a few
//! requests to the app in-process and prints the answers), or
//! `cargo run -p examples --example query_context -- --serve` to listen on
//! <http://127.0.0.1:3000/list?region=asia&region=europe>.

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Extension, Router};
use http::Request;
use serde::{Deserialize, Serialize};
use state::context::{ContextConfig, script_router, script_tag};
use state::query::{HxReplaceUrl, QueryRejection};
use state::{Context, Query, QueryMap};
use tower::ServiceExt;

/// The list's filters. `#[serde(default)]` makes every parameter optional;
/// `skip_serializing_if` keeps `show_all=false` out of generated URLs.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Filters {
    region: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    show_all: bool,
    page: Option<u32>,
}

/// `/list?region=asia&region=europe&page=2`: typed filters plus a link to the
/// next page that keeps every other parameter (also sent as `HX-Replace-Url`).
async fn list(
    Query(filters): Query<Filters>,
    ctx: Context,
) -> Result<impl IntoResponse, QueryRejection> {
    let page = filters.page.unwrap_or(1);
    let next = state::query::url_with_params(
        ctx.uri(),
        &Filters {
            page: Some(page + 1),
            ..filters
        },
    )?;
    let this = ctx.url_with(|_| Ok(()))?;
    Ok((
        HxReplaceUrl::new(&this),
        format!("page {page}, next: {next}"),
    ))
}

/// `/raw?...`: the Streamlit-like map.
async fn raw(q: QueryMap) -> String {
    let pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{} keys (embedded: {}): {}",
        q.len(),
        q.is_embedded(),
        pairs.join(", ")
    )
}

/// `/`: a page that includes the context script, and what the server knows.
async fn home(ctx: Context, Extension(config): Extension<ContextConfig>) -> Html<String> {
    let hello = match ctx.negotiate_locale(&["en", "fr", "de"]) {
        Some("fr") => "Bonjour",
        Some("de") => "Hallo",
        _ => "Hello",
    };
    Html(format!(
        "<!doctype html><head>{}</head><body>{hello}! timezone: {:?}, offset: {:?}, theme: {:?}, ip: {:?}</body>",
        script_tag(&config),
        ctx.timezone(),
        ctx.timezone_offset(),
        ctx.theme(),
        ctx.ip_address(),
    ))
}

fn app() -> Router {
    let config = ContextConfig::new().trust_proxies(state::context::TrustedProxy::loopback());
    Router::new()
        .route("/", get(home))
        .route("/list", get(list))
        .route("/raw", get(raw))
        .merge(script_router())
        .layer(Extension(config))
}

async fn show(uri: &str, headers: &[(&str, &str)]) {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app()
        .oneshot(request.body(Body::empty()).expect("valid request"))
        .await
        .expect("infallible");
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    println!("GET {uri}\n  {status} {}\n", String::from_utf8_lossy(&body));
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if std::env::args().any(|a| a == "--serve") {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
        println!("listening on http://127.0.0.1:3000/");
        // `ConnectInfo` gives `Context::ip_address` its peer address.
        return axum::serve(
            listener,
            app().into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    }
    show(
        "/list?region=asia&region=europe&page=2&utm_source=mail",
        &[],
    )
    .await;
    show("/list?page=abc", &[]).await;
    show("/raw?a=1&a=2&embed=true&q=caf%C3%A9+au+lait", &[]).await;
    show(
        "/",
        &[
            ("Accept-Language", "fr-CH, en;q=0.5"),
            ("Cookie", "st_ctx=tz=Europe%2FZurich&tzo=-60&theme=dark"),
        ],
    )
    .await;
    Ok(())
}
