//! The dashboard uses the library as intended, over HTTP and in-process:
//! one declaration per view query (`persist = "auto"`), the banner from
//! `trace` (exact under concurrent requests), a session-scoped cache ("My
//! saved views"), `/metrics`, the progress route behind the page's spinner,
//! and a first visit that is one view with no reload. (The
//! `refresh_mode = "background"` tile has a test binary of its own.)
//!
//! Each test uses views no other test loads, and none clears a cache, so
//! they can run in parallel in this process.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use examples::dashboard::queries;
use http::{Request, StatusCode, header};

mod support;
use support::{Page, attribute, cache_dir, csrf, form_encoded, get, post, send, text};

/// This binary's app (see [`support::app`]).
async fn app() -> Router {
    support::app("library").await
}

/// The cache panel's "this page" cell of the function `short`.
fn this_page<'a>(body: &'a str, short: &str) -> &'a str {
    let row = &body[body
        .find(&format!(r#"<tr data-fn="{short}">"#))
        .expect("a cache panel row")..];
    let cell = &row[row
        .find(r#"<td class="this-page">"#)
        .expect("a this-page cell")
        + 22..];
    &cell[..cell.find('<').unwrap()]
}

/// `(function, outcome)` of each view query, from the status line.
fn outcomes(body: &str) -> Vec<(String, String)> {
    let status = &body[body.find(r#"id="load-status""#).expect("a status line")..];
    let detail = &status[status.find("<span>").unwrap() + 6..];
    detail[..detail.find('<').unwrap()]
        .split(" · ")
        .map(|part| {
            let (f, o) = part.split_once(": ").expect("function: outcome");
            (f.to_owned(), o.to_owned())
        })
        .collect()
}

/// A first visit is one view of the dashboard, and says so: the context
/// script does not reload the page, and the context panel is served alone
/// for the page's script to fill in, without counting a view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_visit_is_one_view_and_a_miss() {
    let app = app().await;
    let view = "/?region=oceania&from=2023-03-01&to=2023-05-31";
    let first = send(&app, get(view, None)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        attribute(&first.body, "load-status", "data-cache"),
        Some("miss")
    );
    assert_eq!(text(&first.body, "visits"), Some("1"));
    assert!(
        first.body.contains(
            r#"<script src="/_state/context.js" data-cookie="st_ctx" data-reload="false">"#
        ),
        "the context script must not reload the page"
    );
    // Without the script's cookie the browser's fields are unknown ...
    assert!(
        first
            .body
            .contains(r#"id="ctx-timezone" class="muted" data-unknown"#)
    );
    // ... and once it is stored, the panel alone has them.
    let cookie = first.cookie.expect("a session cookie");
    let with_context = format!("{cookie}; st_ctx=tz=Europe%2FParis&tzo=-60&theme=dark&lang=fr-FR");
    let panel = send(&app, get("/panels/context", Some(&with_context))).await;
    assert_eq!(panel.status, StatusCode::OK);
    assert!(
        panel
            .body
            .starts_with(r#"<section class="card" id="context-panel">"#)
    );
    assert!(
        panel
            .body
            .contains(r#"<dd id="ctx-timezone">Europe/Paris (UTC+01:00)</dd>"#),
        "{}",
        panel.body
    );
    assert!(panel.body.contains(r#"<dd id="ctx-theme">dark</dd>"#));
    // Fetching it was not a view.
    let second = send(&app, get(view, Some(&with_context))).await;
    assert_eq!(text(&second.body, "visits"), Some("2"));
    assert_eq!(
        attribute(&second.body, "load-status", "data-cache"),
        Some("hit")
    );
    // The cache panel says what this request's calls got (`trace`).
    assert_eq!(this_page(&first.body, "sales_series"), "miss");
    assert_eq!(this_page(&second.body, "sales_series"), "hit");
    // The pool is a resource each query that runs calls: nested calls count.
    let pool = this_page(&first.body, "database");
    // (at least the three view queries ran; the process's first call opens
    // the pool, and its first page also counts the rows and today's orders)
    let calls: usize = pool
        .split(", ")
        .map(|part| part.split_once(" ×").map_or(1, |(_, n)| n.parse().unwrap()))
        .sum();
    assert!(calls >= 3 && !pool.contains("miss ×"), "{pool}");
    assert_eq!(this_page(&second.body, "database"), "—");
    // The page works without its script: a GET form with a submit button,
    // no inline handlers.
    assert!(
        first
            .body
            .contains(r#"<form id="filters" method="get" action="/">"#)
    );
    assert!(
        first
            .body
            .contains(r#"<button class="apply" type="submit">"#)
    );
    assert!(!first.body.contains("onchange="));
}

/// A view of every region with the parameters `rest`: each of its queries
/// scans the whole table (a slow miss, long enough to watch).
fn every_region(rest: &str) -> String {
    let regions: Vec<String> = examples::dashboard::data::REGIONS
        .iter()
        .map(|r| format!("region={}", r.slug))
        .collect();
    format!("/?{}&{rest}", regions.join("&"))
}

/// Concurrent requests of one new view: each view query is computed once,
/// and exactly one page says it missed it (`trace` sees its own thread's
/// calls, where a diff of the process-wide stats would blame every page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_banner_is_exact_under_concurrent_requests() {
    let app = app().await;
    // Every region over two years: each query scans the whole table, long
    // enough that the four requests overlap.
    let view = every_region("from=2023-06-01&to=2025-05-31&metric=profit");
    let pages = futures_join(&app, &view, 4).await;
    let waited = pages
        .iter()
        .filter(|page| outcomes(&page.body).iter().all(|(_, o)| o == "hit"))
        .count();
    assert!(waited < 4, "someone computed the view");
    for name in queries::VIEW_QUERIES {
        let misses = pages
            .iter()
            .filter(|page| {
                outcomes(&page.body)
                    .iter()
                    .any(|(f, o)| f == name && o == "miss")
            })
            .count();
        assert_eq!(
            misses, 1,
            "{name} computed once, so one page says it missed"
        );
    }
}

async fn futures_join(app: &Router, view: &str, n: usize) -> Vec<Page> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let app = app.clone();
            let view = view.to_owned();
            tokio::spawn(async move { send(&app, get(&view, None)).await })
        })
        .collect();
    let mut pages = Vec::new();
    for task in tasks {
        let page = task.await.expect("the request finishes");
        assert_eq!(page.status, StatusCode::OK);
        pages.push(page);
    }
    pages
}

/// One declaration per view query, its tier chosen at run time: without
/// Redis configured, `persist = "auto"` writes the disk tier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_queries_persist_on_the_tier_chosen_at_run_time() {
    let app = app().await;
    let before = records(&cache_dir("library"));
    let page = send(
        &app,
        get("/?region=europe&from=2023-09-01&to=2023-09-30", None),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(support::cache_word(&page.body), "miss");
    let info = cache_runtime::function("examples::dashboard::queries::sales_series")
        .expect("sales_series was called")
        .info()
        .into_iter()
        .next()
        .expect("one instantiation");
    assert_eq!(info.persist, Some(cache_runtime::Persist::Disk));
    assert_eq!(
        info.max_size,
        Some(4 << 20),
        "max_size bounds the biggest query"
    );
    // The three queries' records are new files in three function folders
    // (other tests write records too, so this is at least what to expect).
    let after = records(&cache_dir("library"));
    let new_folders: std::collections::HashSet<_> = after
        .difference(&before)
        .filter_map(|record| record.parent().map(std::path::Path::to_path_buf))
        .collect();
    assert!(
        new_folders.len() >= 3,
        "the disk tier holds the view's records: {new_folders:?}"
    );
}

/// The record files of the disk tier's function folders under `dir`.
fn records(dir: &std::path::Path) -> std::collections::HashSet<std::path::PathBuf> {
    let mut found = std::collections::HashSet::new();
    for folder in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let folder = folder.path();
        if folder.is_dir() {
            for record in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                found.insert(record.path());
            }
        }
    }
    found
}

/// "My saved views": kept in the session, private to the browser, their
/// totals cached per session (`scope = "session"`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_views_are_private_and_cached_per_session() {
    let app = app().await;
    let view = "/?region=middle-east&from=2024-07-01&to=2024-07-31&metric=orders";
    let first = send(&app, get(view, None)).await;
    let cookie = first.cookie.clone().expect("a session cookie");
    assert!(first.body.contains(r#"id="no-saved-views""#));
    let token = csrf(&first.body);
    let back = format!("back={}&csrf={token}", form_encoded(view));

    // A forged save is refused.
    let forged = send(
        &app,
        post(
            "/views/save",
            &cookie,
            &format!("name=x&back={}", form_encoded(view)),
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let saved = send(
        &app,
        post("/views/save", &cookie, &format!("name=July+%3Cb%3E&{back}")),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location.as_deref(), Some(view));
    let totals = || {
        cache_runtime::function("examples::dashboard::queries::saved_view_totals")
            .expect("saved_view_totals was called")
            .stats()
    };
    let page = send(&app, get(view, Some(&cookie))).await;
    assert!(
        page.body.contains("Saved this view as “July &lt;b&gt;”."),
        "{}",
        page.body
    );
    let query = "region=middle-east&from=2024-07-01&to=2024-07-31&metric=orders";
    assert!(
        page.body.contains(&format!(
            r#"<li data-query="{}"><a href="/?{0}">July &lt;b&gt;</a>"#,
            query.replace('&', "&amp;")
        )),
        "{}",
        page.body
    );
    // The totals are the view's own: the orders KPI of that view.
    let orders = text(&page.body, "kpi-orders")
        .expect("the orders KPI")
        .to_owned();
    assert!(
        page.body.contains(&format!("{orders} orders · ")),
        "{orders}"
    );
    let before = totals();
    send(&app, get(view, Some(&cookie))).await;
    let after = totals();
    assert_eq!(
        after.hits,
        before.hits + 1,
        "this session's totals are cached"
    );

    // Another browser: none of these views, and its own entries.
    let other = send(&app, get(view, None)).await;
    assert!(other.body.contains(r#"id="no-saved-views""#));
    assert!(!other.body.contains("July"));
    let other_cookie = other.cookie.expect("a session cookie");
    let other_back = format!("back={}&csrf={}", form_encoded(view), csrf(&other.body));
    send(&app, post("/views/save", &other_cookie, &other_back)).await;
    let misses = totals().misses;
    let page = send(&app, get(view, Some(&other_cookie))).await;
    assert_eq!(
        totals().misses,
        misses + 1,
        "a session's entries are its own"
    );
    // Saved without a name: named after the view.
    assert!(
        page.body
            .contains("Middle East · 2024-07-01 → 2024-07-31 · Orders"),
        "{}",
        page.body
    );

    // Saving the same view again renames it; deleting removes it.
    send(
        &app,
        post("/views/save", &cookie, &format!("name=Renamed&{back}")),
    )
    .await;
    let page = send(&app, get(view, Some(&cookie))).await;
    assert_eq!(page.body.matches("<li data-query=").count(), 1);
    assert!(page.body.contains(">Renamed</a>"));
    let delete = format!("query={}&{back}", form_encoded(query));
    let deleted = send(&app, post("/views/delete", &cookie, &delete)).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let page = send(&app, get(view, Some(&cookie))).await;
    assert!(page.body.contains("Deleted the saved view “Renamed”."));
    assert!(page.body.contains(r#"id="no-saved-views""#));

    // At most MAX_SAVED_VIEWS views.
    for day in 1..=13 {
        let view = format!("/?region=middle-east&from=2024-08-{day:02}&to=2024-08-20");
        let back = format!("back={}&csrf={token}", form_encoded(&view));
        send(&app, post("/views/save", &cookie, &back)).await;
    }
    let page = send(&app, get(view, Some(&cookie))).await;
    assert_eq!(
        page.body.matches("<li data-query=").count(),
        examples::dashboard::app::MAX_SAVED_VIEWS
    );
}

/// `/metrics` serves Prometheus's text of every cached function and the
/// sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served() {
    let app = app().await;
    send(
        &app,
        get("/?region=east-asia&from=2024-03-01&to=2024-03-31", None),
    )
    .await;
    let scrape = Request::get("/metrics")
        .header(
            header::ACCEPT,
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .body(Body::empty())
        .unwrap();
    let metrics = send(&app, scrape).await;
    assert_eq!(metrics.status, StatusCode::OK);
    for family in [
        r#"cache_lookups_total{cache_type="cache_data",cache="examples::dashboard::queries::sales_series",result="miss"}"#,
        r#"cache_type="cache_resource",cache="examples::dashboard::queries::database""#,
        "session_starts_total",
    ] {
        assert!(
            metrics.body.contains(family),
            "{family} in\n{}",
            metrics.body
        );
    }
    assert!(metrics.body.ends_with("# EOF\n"));
}

/// While a slow miss runs, the progress route tells its browser what is
/// computing, with Streamlit's spinner text: what the page shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_miss_is_reported_to_its_session() {
    let app = app().await;
    let first = send(
        &app,
        get("/?region=africa&from=2025-01-01&to=2025-01-31", None),
    )
    .await;
    let cookie = first.cookie.expect("a session cookie");
    // Every region over nearly three years: a full scan, long enough to see.
    let slow = every_region("from=2023-01-02&to=2025-12-30");
    let request = tokio::spawn({
        let app = app.clone();
        let cookie = cookie.clone();
        async move { send(&app, get(&slow, Some(&cookie))).await }
    });
    let mut seen = Vec::new();
    let mut stranger_saw = Vec::new();
    while !request.is_finished() {
        let running = send(&app, get("/_cache/running", Some(&cookie))).await;
        let running: Vec<serde_json::Value> = serde_json::from_str(&running.body).unwrap();
        if !running.is_empty() {
            // Meanwhile another browser sees none of it.
            let stranger = send(&app, get("/_cache/running", None)).await;
            stranger_saw.push(stranger.body);
        }
        for r in running {
            seen.push(r["text"].as_str().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let page = request.await.unwrap();
    assert_eq!(
        attribute(&page.body, "load-status", "data-cache"),
        Some("miss")
    );
    assert!(
        seen.iter().any(|t| t == "Running `sales_series(...)`."),
        "seen while it ran: {seen:?}"
    );
    assert!(!stranger_saw.is_empty(), "asked while it ran");
    assert!(
        stranger_saw.iter().all(|body| body == "[]"),
        "{stranger_saw:?}"
    );
}

/// The page streams: its frame at once (header, filters, "Loading this
/// view…"), then a line per computation its data starts, then the data, so
/// a slow miss says what it runs even without JavaScript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_streams_what_computes_before_the_data() {
    use futures_util::StreamExt as _;
    use tower::ServiceExt as _;

    let app = app().await;
    // Every region over nearly three years: a full scan, long enough to see.
    let slow = every_region("from=2023-01-03&to=2025-12-29&metric=units");
    let response = app.oneshot(get(&slow, None)).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut chunks = Vec::new();
    let mut body = response.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        chunks.push(String::from_utf8(chunk.expect("a chunk").to_vec()).expect("UTF-8"));
    }
    let first = &chunks[0];
    assert!(
        first.contains(r#"<form id="filters""#),
        "the filters come first"
    );
    assert!(first.contains("Loading this view…"));
    assert!(
        !first.contains(r#"id="load-status""#),
        "the data comes later"
    );
    let running = chunks
        .iter()
        .position(|c| c.contains("<li>Running `sales_series(...)`.</li>"))
        .expect("a line for the running query");
    let loaded = chunks
        .iter()
        .position(|c| c.contains(r#"id="load-status""#))
        .expect("the data");
    assert!(0 < running && running < loaded, "{running} then {loaded}");
    let page = chunks.concat();
    assert!(page.contains(r#"id="load-status" data-cache="miss""#));
    assert!(page.contains("<style>#progress{display:none}</style>"));
    assert!(page.ends_with("</body></html>"));
}
