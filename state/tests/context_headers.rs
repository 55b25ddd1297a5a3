//! `Context` headers, cookies, browser-reported fields, url and key access.

use http::Request;
use serde_json::json;
use state::context::{Context, ContextConfig, ContextError, KEYS, Theme};

fn ctx(builder: http::request::Builder) -> Context {
    ctx_with(builder, &ContextConfig::default())
}

fn ctx_with(builder: http::request::Builder, config: &ContextConfig) -> Context {
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    Context::from_parts(&parts, config)
}

#[test]
fn headers_are_case_insensitive_and_get_returns_the_first_value() {
    let c = ctx(Request::builder()
        .header("X-Multi", "first")
        .header("x-multi", "second")
        .header("User-Agent", "test/1.0"));
    assert_eq!(c.headers().get("x-MULTI"), Some("first"));
    assert_eq!(c.headers().get_all("X-Multi"), ["first", "second"]);
    assert_eq!(c.headers().get("user-agent"), Some("test/1.0"));
    assert_eq!(c.headers().get("missing"), None);
    assert_eq!(c.headers().get("not a header name"), None);
    assert!(c.headers().get_all("nope").is_empty());
    assert_eq!(c.headers().len(), 2);
    assert!(c.headers().contains_key("USER-AGENT"));
    assert_eq!(
        c.get("headers").unwrap(),
        json!({"x-multi": "first", "user-agent": "test/1.0"})
    );
}

#[test]
fn non_utf8_header_values_are_skipped() {
    let c = ctx(Request::builder()
        .header("x-bin", http::HeaderValue::from_bytes(b"\xff\xfe").unwrap())
        .header("x-bin", "ok")
        .header(
            "x-utf8",
            http::HeaderValue::from_bytes("café".as_bytes()).unwrap(),
        ));
    assert_eq!(c.headers().get("x-bin"), Some("ok"));
    assert_eq!(c.headers().get("x-utf8"), Some("café"));
    assert_eq!(
        c.headers().as_header_map().get_all("x-bin").iter().count(),
        2
    );
}

#[test]
fn cookies_with_odd_characters() {
    let c = ctx(Request::builder()
        .header(
            "Cookie",
            r#"plain=1;  spaced = a b ;quoted="x=y; z";empty=;=nameless; noequals; eq=a=b=c"#,
        )
        .header(
            "Cookie",
            "plain=second-header; pct=%E2%9C%93%20ok; emoji=😀",
        )
        .header(
            "Cookie",
            http::HeaderValue::from_bytes(b"latin=caf\xe9").unwrap(),
        ));
    let cookies = c.cookies();
    assert_eq!(cookies.get("plain"), Some("1"));
    assert_eq!(cookies.get("spaced"), Some("a b"));
    // A quoted value is cut at `;`, like browsers and Python do.
    assert_eq!(cookies.get("quoted"), Some(r#""x=y"#));
    assert_eq!(cookies.get("empty"), Some(""));
    assert_eq!(cookies.get("eq"), Some("a=b=c"));
    assert_eq!(cookies.get("noequals"), None);
    assert_eq!(cookies.get("pct"), Some("%E2%9C%93%20ok"));
    assert_eq!(cookies.get_decoded("pct").as_deref(), Some("✓ ok"));
    assert_eq!(cookies.get("emoji"), Some("😀"));
    assert_eq!(cookies.get("latin"), Some("caf\u{fffd}"));
    assert!(cookies.iter().all(|(name, _)| !name.is_empty()));
    assert_eq!(c.get("cookies").unwrap()["eq"], json!("a=b=c"));
}

#[test]
fn browser_fields_come_from_the_script_cookie() {
    let c = ctx(Request::builder().header(
        "Cookie",
        "st_ctx=tz=America%2FArgentina%2FBuenos_Aires&tzo=180&theme=light&lang=es-AR",
    ));
    assert_eq!(c.timezone(), Some("America/Argentina/Buenos_Aires"));
    assert_eq!(c.timezone_offset(), Some(180));
    assert_eq!(c.theme(), Some(Theme::Light));
    // No Accept-Language: the browser's language is the locale.
    assert_eq!(c.locale(), Some("es-AR"));
    assert_eq!(c.negotiate_locale(&["en", "es"]), Some("es"));
    assert_eq!(c.get("theme").unwrap(), json!({"type": "light"}));
    assert_eq!(c.get("timezone_offset").unwrap(), json!(180));

    // Another cookie name.
    let config = ContextConfig::new().cookie_name("ctx");
    let c = ctx_with(
        Request::builder().header("Cookie", "ctx=theme=dark"),
        &config,
    );
    assert_eq!(c.theme(), Some(Theme::Dark));
}

#[test]
fn fields_not_sent_are_none_never_empty_or_zero() {
    let c = ctx(Request::builder().header("Cookie", "st_ctx=tz=&tzo=&theme=&lang="));
    assert_eq!(c.timezone(), None);
    assert_eq!(c.timezone_offset(), None);
    assert_eq!(c.theme(), None);
    assert_eq!(c.locale(), None);
    assert_eq!(c.url(), None);
    assert_eq!(c.ip_address(), None);
    assert!(!c.is_embedded());
    for key in ["timezone", "timezone_offset", "locale", "url", "ip_address"] {
        assert_eq!(c.get(key).unwrap(), json!(null), "{key}");
    }
    assert_eq!(c.get("theme").unwrap(), json!({"type": null}));
    assert_eq!(c.get("is_embedded").unwrap(), json!(false));
}

#[test]
fn url_is_without_query_and_embed_is_detected() {
    let c = ctx(Request::builder()
        .uri("/app/page?embed=TRUE&x=1")
        .header("Host", "example.com:8080"));
    assert_eq!(c.url(), Some("http://example.com:8080/app/page"));
    assert!(c.is_embedded());
    assert_eq!(
        c.url_with(|q| q.set("x", "2")).unwrap(),
        "/app/page?embed=TRUE&x=2"
    );
    assert_eq!(c.query().unwrap().get("x"), Some("1"));

    let c = ctx(Request::builder()
        .uri("https://h.example/p?q")
        .header("Host", "ignored"));
    assert_eq!(c.url(), Some("https://h.example/p"));
    let c = ctx(Request::builder()
        .uri("/p")
        .header("Host", "evil.com/path@x"));
    assert_eq!(c.url(), None);
    let config = ContextConfig::new().public_origin("https://app.example.com/");
    let c = ctx_with(
        Request::builder().uri("/p?a=1").header("Host", "x"),
        &config,
    );
    assert_eq!(c.url(), Some("https://app.example.com/p"));
}

#[test]
fn key_access_lists_valid_names() {
    let c = ctx(Request::builder());
    for key in KEYS {
        assert!(c.get(key).is_ok(), "{key}");
    }
    let err = c.get("tz").unwrap_err();
    assert_eq!(err, ContextError::UnknownKey { key: "tz".into() });
    assert_eq!(
        err.to_string(),
        r#"context has no key "tz". Valid keys are: cookies, headers, ip_address, is_embedded, locale, theme, timezone, timezone_offset, url."#
    );
}
