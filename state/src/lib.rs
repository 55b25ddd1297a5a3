//! Typed session state, typed query parameters and a read-only request context
//! for axum/tower apps: the Rust counterpart of Streamlit's `st.session_state`,
//! `st.query_params` and `st.context`.
//!
//! # Session state
//!
//! Declare typed keys once with [`state_keys!`], install a [`SessionLayer`]
//! and extract a [`Session`] in handlers. A misspelt key or a value of the
//! wrong type is a compile error; every key has a default.
//!
//! ```
//! use axum::{Router, routing::get};
//! use state::{MemoryStore, Session, SessionError, SessionLayer, state_keys};
//!
//! state_keys! {
//!     /// Pages viewed in this browser session.
//!     pub VISITS: u64 = 0;
//!     /// The signed-in user; `Default::default()` (`None`) when unset.
//!     pub USER: Option<String>;
//! }
//!
//! async fn page(session: Session) -> Result<String, SessionError> {
//!     let visits = session.update(&VISITS, |v| *v += 1).await?; // atomic in the store
//!     let user = session.get(&USER).await; // `None` until set
//!     session.set(&USER, Some("ada".into())).await?;
//!     Ok(format!("visit {visits}, user before: {user:?}"))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(page))
//!     .layer(SessionLayer::new(MemoryStore::new()));
//! # let _ = app;
//! ```
//!
//! * **Keys**: a key is stored under its identifier (`VISITS` → `"VISITS"`) or
//!   the name given with `=> "name"`; two keys sharing a stored name are a
//!   compile error within one `state_keys!` block and
//!   [`SessionError::DuplicateKeyName`] across blocks (see [`StateKey`]).
//! * **Operations**: [`get`](Session::get), [`set`](Session::set),
//!   [`update`](Session::update), [`contains`](Session::contains),
//!   [`remove`](Session::remove), [`clear`](Session::clear),
//!   [`keys`](Session::keys) and [`to_json`](Session::to_json) (a debug view of
//!   the whole state), plus [`cycle_id`](Session::cycle_id) (fixation defence)
//!   and [`end`](Session::end).
//! * **Stores**: [`MemoryStore`] (moka, idle expiry, the default) and
//!   `RedisStore` (feature `redis`), which lets several replicas share sessions
//!   (Streamlit #5849), on one Redis server or a Redis Cluster.
//! * **Concurrency**: reads are lazy (a handler that never touches the session
//!   costs no store round trip); writes go to the store per key, so concurrent
//!   requests writing different keys keep both writes, and `update` is an atomic
//!   read-modify-write. A `Session` is `Clone + Send + Sync` and works in tasks
//!   spawned during the request (Streamlit #7851).
//! * **Hooks**: [`SessionLayer::on_session_start`] and
//!   [`SessionLayer::on_session_end`] (Streamlit #8545, #7688); the end hook
//!   also sees idle expiry, on Redis through keyspace notifications.
//! * **Robustness**: missing, malformed, forged, unknown or expired cookies start
//!   a fresh session; a stored value that no longer decodes as the key's type
//!   reads as the default (logged); values and sessions have size limits
//!   ([`DEFAULT_MAX_VALUE_BYTES`](session::DEFAULT_MAX_VALUE_BYTES),
//!   [`DEFAULT_MAX_SESSION_BYTES`](session::DEFAULT_MAX_SESSION_BYTES)) that
//!   fail the write with a clear error and keep what was stored.
//!
//! # Query parameters
//!
//! [`Query<T>`] reads the query string into any serde struct (an axum
//! extractor; [`query::from_str`] / [`query::to_string`] outside axum), so a
//! misspelt field is a compile error. Repeated keys fill a `Vec`, a scalar
//! takes the last value, `?page=` is `None` for an `Option`, and a bad value is
//! a `400` naming the parameter and the expected type. [`QueryMap`] is the
//! dynamic, Streamlit-like map (`get`, `get_all`, `set`, `remove`, `clear`,
//! `update`, `from_pairs`, hidden and protected `embed` parameters), and
//! [`query::url_with`] gives "this URL with one parameter changed".
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use state::{query, QueryMap};
//!
//! #[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
//! #[serde(default)]
//! struct Filters { region: Vec<String>, show_all: bool, page: Option<u32> }
//!
//! let filters: Filters = query::from_str("region=asia&region=america&show_all=true")?;
//! assert_eq!(filters.region, ["asia", "america"]);
//! assert_eq!(query::to_string(&filters)?, "region=asia&region=america&show_all=true");
//!
//! let err = query::from_str::<Filters>("page=abc").unwrap_err();
//! assert_eq!(err.to_string(), r#"invalid value "abc" for query parameter `page`: expected an integer (u32)"#);
//!
//! let q = QueryMap::parse("a=1&a=2&embed=true")?;
//! assert_eq!((q.get("a"), q.get_all("a").len(), q.get("embed")), (Some("2"), 2, None));
//!
//! let uri: http::Uri = "/list?region=asia&page=1".parse().unwrap();
//! assert_eq!(query::url_with(&uri, |q| q.set("page", "2"))?, "/list?region=asia&page=2");
//! # Ok::<(), query::QueryError>(())
//! ```
//!
//! Query strings over 512 KiB or with more than 1000 fields are rejected with
//! a clear error (Streamlit silently ignores them). See the [`query`] module
//! for the exact reading rules and the differences from Streamlit.
//!
//! # Request context
//!
//! [`Context`] is a read-only extractor (or [`Context::from_parts`] for any
//! `http::request::Parts`) with the request's headers, cookies, locale (with
//! [negotiation](Context::negotiate_locale) `en-US` → `en`), timezone,
//! timezone offset, theme, URL, client IP and embed flag, plus key access by
//! name like `st.context["timezone"]`. The browser-only fields come from a
//! small script the crate ships ([`context::SCRIPT`], served by
//! [`context::script_router`]); proxy headers are believed only from proxies
//! declared in [`ContextConfig`].
//!
//! ```
//! use state::context::{Context, ContextConfig};
//!
//! let (parts, ()) = http::Request::builder()
//!     .uri("/report?embed=true")
//!     .header("Host", "example.com")
//!     .header("Accept-Language", "en-US,en;q=0.9,fr;q=0.5")
//!     .header("Cookie", "st_ctx=tz=Europe%2FParis&tzo=-60&theme=dark")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let ctx = Context::from_parts(&parts, &ContextConfig::default());
//!
//! assert_eq!(ctx.locale(), Some("en-US"));
//! assert_eq!(ctx.negotiate_locale(&["fr", "en"]), Some("en"));
//! assert_eq!(ctx.timezone(), Some("Europe/Paris"));
//! assert_eq!(ctx.timezone_offset(), Some(-60));
//! assert_eq!(ctx.url(), Some("http://example.com/report"));
//! assert!(ctx.is_embedded());
//! assert_eq!(ctx.ip_address(), None); // no peer address, and never a spoofable header by default
//! assert_eq!(ctx.get("theme")?, serde_json::json!({"type": "dark"}));
//! # Ok::<(), state::context::ContextError>(())
//! ```

pub mod context;
pub mod metrics;
pub mod progress;
pub mod query;
pub mod session;

pub use context::{Context, ContextConfig};
pub use query::{Query, QueryMap};
#[cfg(feature = "redis")]
pub use session::RedisStore;
pub use session::{
    EndReason, MemoryStore, Session, SessionError, SessionId, SessionLayer, SessionStore, StateKey,
};
