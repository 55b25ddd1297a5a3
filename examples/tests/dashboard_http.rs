//! The dashboard over HTTP, in-process and without a browser: cache hits and
//! misses, typed query errors, per-browser session state with escaping, the
//! cache actions (post/redirect/get) and the context script.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use examples::dashboard::Config;
use examples::dashboard::app::prepare;
use http::{Request, StatusCode, header};

mod support;
use support::{cache_word, csrf, get, post, send};

#[tokio::test]
async fn dashboard_over_http() {
    let cache_dir = support::cache_dir("http");
    let config = Config {
        db_path: support::database(),
        cache_dir: cache_dir.clone(),
        ..Config::default()
    };
    let app = prepare(&config).await.expect("the app starts");
    let view = "/?region=africa&region=middle-east&from=2024-02-01&to=2024-04-30&metric=units";

    // A new view is a miss, the same view again a hit; the session starts.
    let first = send(&app, get(view, None)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(cache_word(&first.body), "miss");
    assert!(first.body.contains("Units sold by region, daily"));
    assert!(first.body.contains(r#"<tr data-region="africa">"#));
    let cookie = first.cookie.expect("a session cookie");
    let again = send(&app, get(view, Some(&cookie))).await;
    assert_eq!(cache_word(&again.body), "hit");
    assert!(again.body.contains(r#"id="visits">2<"#));

    // Bad filters: an HTML 400 naming each bad parameter (dates and regions
    // too, never silently replaced), linking to the view without them.
    let bad = send(
        &app,
        get(
            "/?region=europe&region=mars&from=notadate&to=2024-02-30&metric=volume",
            None,
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.starts_with("<!doctype html>"), "{}", bad.body);
    for named in [
        "<code>region</code> = <code>mars</code>",
        "<code>from</code> = <code>notadate</code>",
        "<code>to</code> = <code>2024-02-30</code>",
        "<code>metric</code> = <code>volume</code>",
    ] {
        assert!(bad.body.contains(named), "{named} in {}", bad.body);
    }
    assert!(
        !bad.body.contains("<code>europe</code>"),
        "a good region is not named"
    );
    let fixed = bad
        .body
        .split(r#"id="fixed-view" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to a valid view")
        .replace("&amp;", "&");
    let fixed_view = send(&app, get(&fixed, None)).await;
    assert_eq!(fixed_view.status, StatusCode::OK, "{fixed}");
    // A query that cannot be read at all is a 400 page too.
    let unreadable = send(&app, get("/?metric=%FF", None)).await;
    assert_eq!(unreadable.status, StatusCode::BAD_REQUEST);
    assert!(
        unreadable.body.starts_with("<!doctype html>"),
        "{}",
        unreadable.body
    );
    // An unknown path: an HTML 404 page.
    let missing = send(&app, get("/no/such/page", None)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.body.contains("There is no page at /no/such/page."),
        "{}",
        missing.body
    );

    // Every form posts the session's CSRF token; a post without it, or with
    // another session's, is refused and changes nothing.
    let token = csrf(&again.body);
    assert_eq!(token.len(), 64);
    let stranger_token = csrf(&send(&app, get(view, None)).await.body);
    assert_ne!(token, stranger_token, "each session has its own token");
    let view_form = format!("back={}", view.replace('&', "%26").replace('?', "%3F"));
    for forged in ["", "&csrf=", "&csrf=00", &format!("&csrf={stranger_token}")] {
        for (path, form) in [
            ("/notes", format!("notes=forged&{view_form}{forged}")),
            ("/prefs", format!("style=area&{view_form}{forged}")),
            ("/cache/invalidate", format!("{view_form}{forged}")),
            (
                "/cache/clear?fn=examples::dashboard::queries::sales_series",
                format!("{view_form}{forged}"),
            ),
            ("/cache/clear-all", format!("{view_form}{forged}")),
        ] {
            let refused = send(&app, post(path, &cookie, &form)).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path} {form}");
            assert!(
                refused.body.contains("nothing was changed"),
                "{}",
                refused.body
            );
        }
    }
    let page = send(&app, get(view, Some(&cookie))).await;
    assert_eq!(cache_word(&page.body), "hit", "a forged clear cleared");
    assert!(
        !page.body.contains("forged</textarea>"),
        "forged notes were saved"
    );
    assert!(
        !page.body.contains("remembered for this browser"),
        "a forged style was saved"
    );

    // Notes: saved in this session, shown escaped, redirected back (PRG).
    let back = format!("{view_form}&csrf={token}");
    let saved = send(
        &app,
        post(
            "/notes",
            &cookie,
            &format!("notes=%3Cscript%3Ex%3C%2Fscript%3E&{back}"),
        ),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location.as_deref(), Some(view));
    let page = send(&app, get(view, Some(&cookie))).await;
    assert!(
        page.body
            .contains("&lt;script&gt;x&lt;/script&gt;</textarea>")
    );
    assert!(page.body.contains("Notes saved."));
    let stranger = send(&app, get(view, None)).await;
    assert!(
        !stranger.body.contains("&lt;script&gt;x"),
        "notes leaked to another session"
    );

    // Forgetting this view's entries forces a miss; then a hit again.
    let forgot = send(&app, post("/cache/invalidate", &cookie, &back)).await;
    assert_eq!(forgot.location.as_deref(), Some(view));
    let page = send(&app, get(view, Some(&cookie))).await;
    assert_eq!(cache_word(&page.body), "miss");
    assert!(page.body.contains("3 cache entries removed"));
    assert_eq!(
        cache_word(&send(&app, get(view, Some(&cookie))).await.body),
        "hit"
    );

    // Clearing caches is for the operator. This visitor's address is not
    // known (no connection info in-process): no Clear buttons, and posts
    // with a good CSRF token are refused and clear nothing.
    let name = "examples::dashboard::queries::sales_series";
    let page = send(&app, get(view, Some(&cookie))).await;
    assert!(page.body.contains(r#"id="clear-all-note""#));
    assert!(!page.body.contains(r#"id="clear-all""#));
    assert!(!page.body.contains(r#"action="/cache/clear?fn="#));
    for path in [
        format!("/cache/clear?fn={name}"),
        "/cache/clear-all".to_owned(),
    ] {
        let refused = send(&app, post(&path, &cookie, &back)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            refused.body.contains("Only the operator"),
            "{}",
            refused.body
        );
    }
    assert_eq!(
        cache_word(&send(&app, get(view, Some(&cookie))).await.body),
        "hit"
    );

    // A visitor on this machine (loopback) sees the buttons, and what
    // "Clear all caches" does besides clearing, before the click.
    let local = app
        .clone()
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    let page = send(&local, get(view, Some(&cookie))).await;
    assert!(page.body.contains(r#"id="clear-all""#));
    assert!(page.body.contains(r#"action="/cache/clear?fn="#));
    assert!(page.body.contains("resets this browser's session state"));

    // Clearing one function by name: only it misses.
    let cleared = send(
        &local,
        post(&format!("/cache/clear?fn={name}"), &cookie, &back),
    )
    .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    let page = send(&app, get(view, Some(&cookie))).await;
    assert!(
        page.body
            .contains("sales_series: miss · region_summary: hit")
    );
    // Unless a proxy on this machine forwarded it: then it is anyone's.
    let forwarded = Request::get(view)
        .header(header::COOKIE, &cookie)
        .header("x-forwarded-for", "203.0.113.7")
        .body(Body::empty())
        .unwrap();
    let proxied = send(&local, forwarded).await;
    assert!(proxied.body.contains(r#"id="clear-all-note""#));
    // An open redirect is refused.
    let evil = send(
        &local,
        post(
            "/cache/clear-all",
            &cookie,
            &format!("back=%2F%2Fevil.example%2F&csrf={token}"),
        ),
    )
    .await;
    assert_eq!(evil.status, StatusCode::SEE_OTHER);
    assert_eq!(evil.location.as_deref(), Some("/"));
    // Every cache was cleared, and this browser's session state reset.
    let page = send(&app, get(view, Some(&cookie))).await;
    assert_eq!(cache_word(&page.body), "miss");
    assert!(page.body.contains("Cleared every cache"), "{}", page.body);
    assert!(
        page.body.contains(r#"id="visits">1<"#),
        "visits start again"
    );
    assert!(
        !page.body.contains("&lt;script&gt;x"),
        "the notes were reset"
    );
    assert_ne!(csrf(&page.body), token, "a new token after the reset");

    // With an admin token set, a visitor signs in with it first: a wrong one
    // is refused, and until then clearing is refused.
    let guarded = prepare(&Config {
        admin_token: Some("open-sesame".to_owned()),
        ..config.clone()
    })
    .await
    .expect("a second app starts");
    // (Its sessions are its own: a new one.)
    let page = send(&guarded, get(view, None)).await;
    let cookie = page.cookie.clone().expect("a session cookie");
    assert!(page.body.contains(r#"name="admin_token""#));
    assert!(!page.body.contains(r#"id="clear-all""#));
    let token = csrf(&page.body);
    let form = |admin: &str| format!("{view_form}&csrf={token}&admin_token={admin}");
    for wrong in ["", "open", "open-sesame!"] {
        let refused = send(&guarded, post("/operator/sign-in", &cookie, &form(wrong))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{wrong}");
    }
    // (the token in the clear form itself opens nothing)
    let refused = send(
        &guarded,
        post("/cache/clear-all", &cookie, &form("open-sesame")),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        cache_word(&send(&guarded, get(view, Some(&cookie))).await.body),
        "hit"
    );
    let signed_in = send(
        &guarded,
        post("/operator/sign-in", &cookie, &form("open-sesame")),
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let page = send(&guarded, get(view, Some(&cookie))).await;
    assert!(page.body.contains("Signed in as the operator"));
    assert!(page.body.contains(r#"id="clear-all""#));
    assert!(page.body.contains(r#"action="/cache/clear?fn="#));
    // Another browser of the same app is not signed in.
    let other = send(&guarded, get(view, None)).await;
    assert!(!other.body.contains(r#"id="clear-all""#));
    let cleared = send(
        &guarded,
        post(
            "/cache/clear-all",
            &cookie,
            &format!("{view_form}&csrf={token}"),
        ),
    )
    .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    let page = send(&guarded, get(view, Some(&cookie))).await;
    assert_eq!(cache_word(&page.body), "miss");
    assert!(
        page.body.contains(r#"id="clear-all""#),
        "the session's reset keeps the operator signed in"
    );

    // The context script is served for the page's <script> tag.
    let script = send(&app, get("/_state/context.js", None)).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(first.body.contains(r#"<script src="/_state/context.js""#));

    let _ = std::fs::remove_dir_all(cache_dir);
}
