//! Typed keys and the dict-style operations, on the memory store.

mod session_common;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use session_common::*;
use state::{MemoryStore, Session, SessionError, state_keys};

#[tokio::test]
async fn operations_round_trip() {
    basic_operations(MemoryStore::new()).await;
}

#[tokio::test]
async fn jars_are_isolated() {
    isolation(MemoryStore::new()).await;
}

#[tokio::test]
async fn reads_are_lazy() {
    lazy_loading(MemoryStore::new()).await;
}

#[tokio::test]
async fn changed_type_reads_as_default() {
    type_change_falls_back_to_default(MemoryStore::new()).await;
}

#[tokio::test]
async fn size_limits_are_errors_that_keep_stored_data() {
    size_limits(MemoryStore::new()).await;
}

#[tokio::test]
async fn missing_layer_is_a_clear_500() {
    let app = Router::new().route("/", get(|_s: Session| async { "unreachable" }));
    let (status, body, _) = request(&app, "/", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("is `SessionLayer` installed?"), "{body}");
}

#[test]
fn stored_names_and_defaults() {
    state_keys! {
        /// Stored under another name.
        THEME: String = "light".to_owned() => "ui.theme";
        LIST: Vec<u8> = vec![1, 2];
    }
    assert_eq!(VISITS.name(), "VISITS");
    assert_eq!(THEME.name(), "ui.theme");
    assert_eq!(THEME.default_value(), "light");
    assert_eq!(LIST.default_value(), [1, 2]);
    assert_eq!(USER.default_value(), None);
    assert!(format!("{VISITS:?}").contains("u64"));
}

mod first {
    state::state_keys! {
        /// Declared twice with one stored name, in two blocks.
        pub CLASH: u64 = 0;
    }
}

mod second {
    state::state_keys! {
        /// The second declaration, rejected on first use.
        pub CLASH: String;
    }
}

#[tokio::test]
async fn duplicate_stored_names_are_rejected_not_mixed() {
    first::CLASH.register().unwrap();
    let error = second::CLASH.register().unwrap_err();
    assert!(
        matches!(error, SessionError::DuplicateKeyName { name: "CLASH", .. }),
        "{error}"
    );
    assert!(error.to_string().contains("=> \"name\""), "{error}");
    first::CLASH
        .register()
        .expect("the first key keeps working");

    let app = Router::new()
        .route(
            "/clash",
            get(|s: Session| async move {
                s.update(&first::CLASH, |v| *v += 1).await?;
                let rejected = s.set(&second::CLASH, "x".to_owned()).await.unwrap_err();
                assert!(matches!(rejected, SessionError::DuplicateKeyName { .. }));
                assert!(s.try_get(&second::CLASH).await.is_err());
                assert_eq!(
                    s.get(&second::CLASH).await,
                    "",
                    "plain `get` falls back to the default"
                );
                Ok::<_, SessionError>(s.get(&first::CLASH).await.to_string())
            }),
        )
        .layer(layer(MemoryStore::new()));
    let mut c = Client::new(app);
    assert_eq!(c.ok("/clash").await, "1");
}

#[tokio::test]
async fn a_failed_first_write_creates_no_session() {
    let store = MemoryStore::new();
    let log = HookLog::default();
    let layer = log.install(layer(store.clone()).with_max_session_bytes(50));
    let mut c = Client::new(app(layer));
    let (status, body) = c.get("/blob/60").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(c.cookie.is_none() && c.last_set_cookie.is_none());
    store.run_pending_tasks();
    assert_eq!(store.session_count(), 0);
    assert_eq!(log.counts(), (0, 0));
    c.ok("/blob/10").await;
    store.run_pending_tasks();
    assert_eq!((store.session_count(), log.counts()), (1, (1, 0)));
}

#[tokio::test]
async fn debug_output_shows_keys_not_values() {
    let app = Router::new()
        .route(
            "/",
            get(|s: Session| async move {
                s.set(&USER, Some("secret-name".to_owned())).await?;
                Ok::<_, SessionError>(format!("{s:?}"))
            }),
        )
        .layer(layer(MemoryStore::new()));
    let (_, debug, _) = request(&app, "/", None).await;
    assert!(debug.contains("USER"), "{debug}");
    assert!(!debug.contains("secret-name"), "{debug}");
}
