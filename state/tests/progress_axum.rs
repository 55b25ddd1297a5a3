//! `state::progress`: a page polls what computes for its browser session
//! while its slow request is pending.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use cache_runtime::cache_data;
use http::{Request, header};
use state::{MemoryStore, Session, SessionLayer, state_keys};
use tower::ServiceExt as _;

state_keys! {
    /// Visits.
    VISITS: u64 = 0;
}

#[cache_data]
fn slow_panel(n: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(600));
    n
}

#[cache_data(show_spinner = false)]
fn silent_panel(n: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(600));
    n
}

fn app() -> Router {
    Router::new()
        .route("/visit", get(|s: Session| async move { s.update(&VISITS, |v| *v += 1).await.map(|v| v.to_string()) }))
        .route("/slow/{n}", get(|Path(n): Path<u64>| async move { slow_panel(n).to_string() }))
        .route("/silent/{n}", get(|Path(n): Path<u64>| async move { silent_panel(n).to_string() }))
        .route("/_cache/running", get(state::progress::handler))
        .layer(SessionLayer::new(MemoryStore::new()).with_secure(false))
}

async fn fetch(app: &Router, path: &str, cookie: Option<&str>) -> (String, Option<String>) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (String::from_utf8(body.to_vec()).unwrap(), cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_sees_what_computes_for_its_session_only() {
    let app = app();
    let (_, ann) = fetch(&app, "/visit", None).await;
    let ann = ann.expect("a session");
    let (_, bob) = fetch(&app, "/visit", None).await;
    let bob = bob.expect("a session");
    assert_eq!(fetch(&app, "/_cache/running", Some(&ann)).await.0, "[]");

    let slow = tokio::spawn({
        let (app, ann) = (app.clone(), ann.clone());
        async move { fetch(&app, "/slow/7", Some(&ann)).await.0 }
    });
    let silent = tokio::spawn({
        let (app, ann) = (app.clone(), ann.clone());
        async move { fetch(&app, "/silent/7", Some(&ann)).await.0 }
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (running, _) = fetch(&app, "/_cache/running", Some(&ann)).await;
    let running: serde_json::Value = serde_json::from_str(&running).unwrap();
    let running = running.as_array().unwrap();
    assert_eq!(
        running.len(),
        1,
        "show_spinner = false shows nothing: {running:?}"
    );
    assert_eq!(running[0]["text"], "Running `slow_panel(...)`.");
    assert!(
        running[0]["function"]
            .as_str()
            .unwrap()
            .ends_with("::slow_panel")
    );
    assert!(running[0]["elapsed_ms"].as_u64().unwrap() >= 100);
    assert_eq!(
        fetch(&app, "/_cache/running", Some(&bob)).await.0,
        "[]",
        "bob's page sees nothing of ann's"
    );
    assert_eq!(
        fetch(&app, "/_cache/running", None).await.0,
        "[]",
        "nor does a browser without a session"
    );

    assert_eq!(slow.await.unwrap(), "7");
    assert_eq!(silent.await.unwrap(), "7");
    assert_eq!(fetch(&app, "/_cache/running", Some(&ann)).await.0, "[]");
}
