//! Typed session state: a per-browser visit counter with sign-in (id cycling)
//! and sign-out (ending the session), on the in-memory store, and a
//! `scope = "session"` cached resource that lives as long as the session.
//!
//! Run with: `cargo run -p examples --example session_counter` (sends a few
//! requests to the app in-process, carrying the cookie like a browser, and
//! prints the answers), or `cargo run -p examples --example session_counter --
//! --serve` to listen on <http://127.0.0.1:3000/>; reload it, then try
//! `/login/ada`, `/state` and `/logout`.

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use cache_runtime::cache_resource;
use state::{MemoryStore, Session, SessionError, SessionLayer, state_keys};

state_keys! {
    /// Pages viewed in this browser session.
    pub VISITS: u64 = 0;
    /// The signed-in user, if any.
    pub USER: Option<String>;
}

/// Suggestions for one browser session: computed at its first page view,
/// shared by its later ones, released when the session ends (or its id is
/// cycled at sign-in). No session code needed: the layer scopes the call.
#[cache_resource(scope = "session", on_release = forget)]
fn suggestions() -> Vec<String> {
    println!("  (computing this session's suggestions)");
    vec!["sales".to_owned(), "returns".to_owned()]
}

fn forget(_: &Vec<String>) {
    println!("  (this session's suggestions were released)");
}

async fn home(session: Session) -> Result<String, SessionError> {
    let suggested = suggestions().join(", ");
    let visits = session.update(&VISITS, |v| *v += 1).await?;
    let user = session
        .get(&USER)
        .await
        .unwrap_or_else(|| "stranger".to_owned());
    Ok(format!(
        "Hello, {user}! You have viewed this page {visits} time(s). Try: {suggested}."
    ))
}

async fn login(session: Session, Path(name): Path<String>) -> Result<String, SessionError> {
    // New privileges, new id: defends against session fixation.
    session.cycle_id().await?;
    session.set(&USER, Some(name.clone())).await?;
    Ok(format!("Signed in as {name}."))
}

async fn logout(session: Session) -> Result<&'static str, SessionError> {
    session.end().await?;
    Ok("Signed out; your session has ended.")
}

async fn dump(session: Session) -> String {
    session.to_json().await.to_string()
}

fn app() -> Router {
    let layer = SessionLayer::new(MemoryStore::new())
        .with_secure(false) // plain HTTP on a development machine
        .on_session_start(|id| println!("session started: {id:?}"))
        .on_session_end(|id, reason| println!("session ended: {id:?} ({reason:?})"));
    Router::new()
        .route("/", get(home))
        .route("/login/{name}", get(login))
        .route("/logout", get(logout))
        .route("/state", get(dump))
        .layer(layer)
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|arg| arg == "--serve") {
        in_process().await;
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000")
        .await
        .expect("bind 127.0.0.1:3000");
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app()).await.unwrap();
}

/// Serves a few requests in-process, carrying the cookie like a browser.
async fn in_process() {
    use tower::ServiceExt as _;
    let app = app();
    let mut cookie: Option<String> = None;
    for path in ["/", "/", "/login/ada", "/", "/state", "/logout", "/state"] {
        let mut request = http::Request::get(path);
        if let Some(cookie) = &cookie {
            request = request.header(http::header::COOKIE, cookie);
        }
        let response = app
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        if let Some(set) = response.headers().get(http::header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            cookie = (!pair.ends_with('=')).then_some(pair);
        }
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        println!("GET {path:<11} -> {}", String::from_utf8_lossy(&body));
    }
}
