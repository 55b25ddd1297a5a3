//! The session cookie: attributes, forged and garbage ids, signing, id cycling,
//! ending and expiry, on the memory store.

mod session_common;

use std::time::Duration;

use session_common::*;
use state::MemoryStore;

#[tokio::test]
async fn cookie_has_safe_attributes() {
    cookie_attributes(MemoryStore::new()).await;
}

#[tokio::test]
async fn garbage_and_unknown_ids_start_fresh_sessions() {
    garbage_cookies(MemoryStore::new()).await;
}

#[tokio::test]
async fn signed_and_private_cookies_reject_forgeries() {
    protected_cookies(MemoryStore::new()).await;
}

#[tokio::test]
async fn cycling_the_id_keeps_state_and_retires_the_old_id() {
    cycle_id(MemoryStore::new()).await;
}

#[tokio::test]
async fn ending_deletes_state_and_cookie() {
    end(MemoryStore::new()).await;
}

#[tokio::test]
async fn idle_sessions_expire() {
    let store = MemoryStore::builder()
        .idle_timeout(Duration::from_millis(500))
        .build();
    expiry(store, Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn custom_cookie_settings() {
    let layer = state::SessionLayer::new(MemoryStore::new())
        .with_cookie_name("sid")
        .with_path("/app")
        .with_domain("example.com")
        .with_same_site(state::session::SameSite::Strict)
        .with_secure(false);
    let (_, _, set_cookie) = request(&app(layer), "/visit", None).await;
    let set_cookie = set_cookie.unwrap();
    assert!(set_cookie.starts_with("sid="), "{set_cookie}");
    for attribute in [
        "Path=/app",
        "Domain=example.com",
        "SameSite=Strict",
        "HttpOnly",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Arbitrary `Cookie` headers never fail a request and never reach an
    /// existing session.
    #[test]
    fn arbitrary_cookie_headers_start_fresh_sessions(
        value in "[ -~]{0,80}",
        name in proptest::prop_oneof![proptest::strategy::Just("session".to_owned()), "[a-z]{1,8}"],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let app = app(layer(MemoryStore::new()));
            let mut owner = Client::new(app.clone());
            owner.ok("/visit").await;
            let header = format!("{name}={value}");
            let (status, body, _) = request(&app, "/visit", Some(&header)).await;
            assert_eq!((status, body.as_str()), (http::StatusCode::OK, "1"), "{header}");
            assert_eq!(owner.ok("/visits").await, "1");
        });
    }
}
