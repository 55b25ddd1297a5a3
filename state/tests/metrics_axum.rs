//! `/metrics`: the OpenMetrics text of the cached functions and the
//! sessions, checked by Prometheus's own parser (`promtool check metrics`,
//! Debian's `prometheus` package), with values that move as calls are made.

use std::io::Write;
use std::process::{Command, Stdio};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use cache_runtime::{cache_data, cache_resource};
use http::{Request, StatusCode, header};
use state::{MemoryStore, Session, SessionLayer, state_keys};
use tower::ServiceExt as _;

state_keys! {
    /// Visits.
    VISITS: u64 = 0;
}

#[cache_data(max_size = "1MiB")]
fn square(n: u64) -> u64 {
    n * n
}

#[cache_data(persist = "disk")]
fn report(n: u64) -> String {
    format!("report {n}")
}

/// The disk tier in a folder of this test's.
fn private_disk_folder() {
    static FOLDER: std::sync::Once = std::sync::Once::new();
    FOLDER.call_once(|| {
        let dir = std::env::temp_dir().join(format!("state-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        cache_runtime::persist::configure(cache_runtime::persist::Settings::default().dir(dir))
            .expect("configured once, first");
    });
}

#[cache_resource]
fn pool() -> String {
    "pool".to_owned()
}

fn app() -> Router {
    Router::new()
        .route("/square/{n}", get(|Path(n): Path<u64>| async move { square(n).to_string() }))
        .route("/pool", get(|| async { pool().to_string() }))
        .route("/report/{n}", get(|Path(n): Path<u64>| async move { report(n) }))
        .route(
            "/visit",
            get(|s: Session| async move { s.update(&VISITS, |v| *v += 1).await.map(|v| v.to_string()) }),
        )
        .route("/end", get(|s: Session| async move { s.end().await }))
        .route("/metrics", get(state::metrics::handler))
        .layer(SessionLayer::new(MemoryStore::new()).with_secure(false))
}

async fn get_text(
    app: &Router,
    path: &str,
    cookie: Option<&str>,
) -> (String, Option<String>, String) {
    get_with(app, path, cookie, None).await
}

async fn get_with(
    app: &Router,
    path: &str,
    cookie: Option<&str>,
    accept: Option<&str>,
) -> (String, Option<String>, String) {
    let mut request = Request::get(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        String::from_utf8(body.to_vec()).unwrap(),
        cookie,
        content_type,
    )
}

/// Runs `promtool check metrics` on `text`; panics with its report if it
/// finds a problem.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's `prometheus` package; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool rejected the metrics:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The value of the sample whose line starts with `name{` and contains every
/// one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_parse_and_move_as_calls_are_made() {
    private_disk_folder();
    let app = app();
    get_text(&app, "/square/3", None).await;
    get_text(&app, "/pool", None).await;
    get_text(&app, "/report/1", None).await;
    let (before, _, content_type) = get_text(&app, "/metrics", None).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    promtool_accepts(&before);
    let square = r#"square""#;
    assert_eq!(
        sample(
            &before,
            "cache_lookups_total",
            &[square, r#"result="miss""#]
        ),
        1.0
    );
    assert_eq!(
        sample(&before, "cache_lookups_total", &[square, r#"result="hit""#]),
        0.0
    );
    assert_eq!(
        sample(
            &before,
            "cache_compute_duration_seconds_count",
            &[square, r#"trigger="miss""#]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &before,
            "cache_compute_duration_seconds_bucket",
            &[square, r#"trigger="miss""#, r#"le="+Inf""#]
        ),
        1.0
    );
    assert!(
        sample(&before, "cache_memory_bytes", &[square]) > 0.0,
        "a max_size function's weight"
    );
    assert!(
        !before
            .lines()
            .any(|line| line.starts_with("cache_memory_bytes") && line.contains("pool")),
        "a resource is not weighed"
    );
    assert_eq!(sample(&before, "session_starts_total", &[]), 0.0);
    assert_eq!(
        sample(
            &before,
            "cache_persist_errors_total",
            &[r#"report""#, r#"tier="disk""#]
        ),
        0.0,
        "a persist function's tier errors, none yet"
    );
    assert!(
        !before.contains(
            "cache_persist_errors_total{cache_type=\"cache_data\",cache=\"metrics_axum::square\""
        ),
        "only functions with a tier"
    );

    get_text(&app, "/square/3", None).await;
    get_text(&app, "/square/3", None).await;
    get_text(&app, "/square/4", None).await;
    let (_, cookie, _) = get_text(&app, "/visit", None).await;
    get_text(&app, "/end", cookie.as_deref()).await;
    let (after, _, _) = get_text(&app, "/metrics", None).await;
    promtool_accepts(&after);
    assert_eq!(
        sample(&after, "cache_lookups_total", &[square, r#"result="hit""#]),
        2.0
    );
    assert_eq!(
        sample(&after, "cache_lookups_total", &[square, r#"result="miss""#]),
        2.0
    );
    assert_eq!(
        sample(
            &after,
            "cache_compute_duration_seconds_count",
            &[square, r#"trigger="miss""#]
        ),
        2.0
    );
    assert_eq!(
        sample(
            &after,
            "cache_evictions_total",
            &[square, r#"reason="budget""#]
        ),
        0.0
    );
    assert_eq!(
        sample(
            &after,
            "cache_background_refreshes_total",
            &[square, r#"result="skipped""#]
        ),
        0.0
    );
    assert_eq!(sample(&after, "session_starts_total", &[]), 1.0);
    assert_eq!(
        sample(&after, "session_ends_total", &[r#"reason="ended""#]),
        1.0
    );
    assert_eq!(sample(&after, "sessions_active", &[]), 0.0);
    // What Prometheus asks for first: OpenMetrics, the same samples.
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (open, _, content_type) = get_with(&app, "/metrics", None, Some(accept)).await;
    assert_eq!(content_type, cache_runtime::metrics::CONTENT_TYPE);
    assert!(open.ends_with("# EOF\n"));
    assert!(open.contains("# TYPE cache_lookups counter\n"));
    assert!(after.contains("# TYPE cache_lookups_total counter\n"));
    assert_eq!(
        sample(&open, "cache_lookups_total", &[square, r#"result="hit""#]),
        2.0
    );
}
