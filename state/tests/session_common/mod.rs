//! The session behaviour suite, shared by the memory-store tests
//! (`state/tests/session_*.rs`) and the Redis tests
//! (`tests/tests/session_redis.rs`), which include this file with `#[path]`.
//!
//! Every check is an `async fn` taking the store to run against; requests go
//! through a real axum router with `tower::ServiceExt::oneshot`, and [`Client`]
//! plays a browser with its own cookie jar.
#![allow(dead_code, unreachable_pub)] // each test binary uses a part of the suite

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::get;
use futures_util::future::BoxFuture;
use http::{Request, StatusCode, header};
use state::session::{Key, Record, UpdateFn};
use state::{EndReason, Session, SessionError, SessionId, SessionLayer, SessionStore, state_keys};
use tower::ServiceExt as _;

pub mod cache_scope;

state_keys! {
    /// Pages viewed.
    pub VISITS: u64 = 0;
    /// The signed-in user.
    pub USER: Option<String>;
    /// Written by the concurrent `/a` request.
    pub A: u32;
    /// Written by the concurrent `/b` request.
    pub B: u32;
    /// Incremented concurrently.
    pub COUNTER: u64 = 0;
    /// A value of chosen size.
    pub BLOB: String;
}

/// The cookie name every suite app uses.
pub const COOKIE: &str = "session";

#[derive(Clone)]
struct AppState {
    barrier: Arc<tokio::sync::Barrier>,
}

/// The suite's router over `layer`.
pub fn app(layer: SessionLayer) -> Router {
    let state = AppState {
        barrier: Arc::new(tokio::sync::Barrier::new(2)),
    };
    Router::new()
        .route("/visit", get(|s: Session| async move { s.update(&VISITS, |v| *v += 1).await.map(|v| v.to_string()) }))
        .route("/visits", get(|s: Session| async move { s.get(&VISITS).await.to_string() }))
        .route(
            "/user/set/{name}",
            get(|s: Session, Path(name): Path<String>| async move { s.set(&USER, Some(name)).await }),
        )
        .route("/user", get(|s: Session| async move { format!("{:?}", s.get(&USER).await) }))
        .route(
            "/user/remove",
            get(|s: Session| async move { s.remove(&USER).await.map(|old| format!("{old:?}")) }),
        )
        .route("/contains/user", get(|s: Session| async move { s.contains(&USER).await.to_string() }))
        .route("/keys", get(|s: Session| async move { s.keys().await.join(",") }))
        .route("/json", get(|s: Session| async move { s.to_json().await.to_string() }))
        .route("/clear", get(|s: Session| async move { s.clear().await }))
        .route("/cycle", get(|s: Session| async move { s.cycle_id().await }))
        .route("/end", get(|s: Session| async move { s.end().await }))
        .route("/id", get(|s: Session| async move { s.id().await.map(|id| format!("{id:?}")) }))
        .route("/untouched", get(|_s: Session| async { "not touched" }))
        .route("/plain", get(|| async { "no session" }))
        .route("/incr", get(|s: Session| async move { s.update(&COUNTER, |v| *v += 1).await.map(|v| v.to_string()) }))
        .route("/counter", get(|s: Session| async move { s.get(&COUNTER).await.to_string() }))
        .route(
            "/spawn/{n}",
            get(|s: Session, Path(n): Path<u64>| async move {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let s = s.clone();
                        tokio::spawn(async move { s.update(&COUNTER, |v| *v += 1).await })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("task panicked")?;
                }
                Ok::<_, SessionError>(s.get(&COUNTER).await.to_string())
            }),
        )
        .route(
            "/blob/{n}",
            get(|s: Session, Path(n): Path<usize>| async move { s.set(&BLOB, "x".repeat(n)).await }),
        )
        .route("/blob", get(|s: Session| async move { s.get(&BLOB).await.len().to_string() }))
        .route("/a", get(|s: Session, State(st): State<AppState>| write_after_barrier(s, st, &A)))
        .route("/b", get(|s: Session, State(st): State<AppState>| write_after_barrier(s, st, &B)))
        .route("/ab", get(|s: Session| async move { format!("{},{}", s.get(&A).await, s.get(&B).await) }))
        .with_state(state)
        .layer(layer)
}

/// Loads the session, waits until the other request has loaded it too, then writes one key:
/// the interleaving in which whole-record stores lose one of the writes.
async fn write_after_barrier(
    s: Session,
    st: AppState,
    key: &'static state::StateKey<u32>,
) -> Result<(), SessionError> {
    let _ = s.get(&A).await;
    st.barrier.wait().await;
    s.set(key, 7).await
}

/// The suite's default layer over `store`: plain-HTTP cookies.
pub fn layer(store: impl SessionStore) -> SessionLayer {
    SessionLayer::new(store).with_secure(false)
}

/// A browser: one cookie jar over one router.
#[derive(Clone)]
pub struct Client {
    app: Router,
    /// The `name=value` pair sent back, if any.
    pub cookie: Option<String>,
    /// The last `Set-Cookie` header received.
    pub last_set_cookie: Option<String>,
}

impl Client {
    /// The session id its cookie carries.
    ///
    /// # Panics
    /// When it has no cookie yet.
    pub fn session_id(&self) -> String {
        self.cookie
            .as_deref()
            .and_then(|cookie| cookie.split_once('='))
            .expect("a session cookie")
            .1
            .to_owned()
    }

    /// A client with an empty jar.
    pub fn new(app: Router) -> Self {
        Self {
            app,
            cookie: None,
            last_set_cookie: None,
        }
    }

    /// The same jar, talking to another app instance.
    pub fn with_app(&self, app: Router) -> Self {
        Self {
            app,
            ..self.clone()
        }
    }

    /// GETs `path`, keeping cookies like a browser.
    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let (status, body, set_cookie) = request(&self.app, path, self.cookie.as_deref()).await;
        if let Some(set_cookie) = set_cookie {
            let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
            let removed = set_cookie.contains("Max-Age=0") || pair.ends_with('=');
            self.cookie = if removed { None } else { Some(pair) };
            self.last_set_cookie = Some(set_cookie);
        } else {
            self.last_set_cookie = None;
        }
        (status, body)
    }

    /// GETs `path` and expects `200 OK`; returns the body.
    pub async fn ok(&mut self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}

/// One request with an optional raw `Cookie` header: (status, body, `Set-Cookie`).
pub async fn request(
    app: &Router,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .next();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        String::from_utf8(body.to_vec()).unwrap(),
        set_cookie,
    )
}

/// Values round-trip across requests; the dict-style operations work.
pub async fn basic_operations(store: impl SessionStore) {
    let mut c = Client::new(app(layer(store)));
    assert_eq!(c.ok("/visits").await, "0", "unset key reads as its default");
    assert!(c.cookie.is_none(), "a read-only request creates no session");
    assert_eq!(c.ok("/visit").await, "1");
    assert!(c.cookie.is_some(), "the first write sets the cookie");
    assert_eq!(c.ok("/visit").await, "2");
    assert!(
        c.last_set_cookie.is_none(),
        "the cookie is set once, not on every response"
    );
    assert_eq!(c.ok("/visits").await, "2");
    assert_eq!(c.ok("/user").await, "None");
    assert_eq!(c.ok("/contains/user").await, "false");
    c.ok("/user/set/ada").await;
    assert_eq!(c.ok("/user").await, "Some(\"ada\")");
    assert_eq!(c.ok("/contains/user").await, "true");
    assert_eq!(c.ok("/keys").await, "USER,VISITS");
    assert_eq!(c.ok("/json").await, r#"{"USER":"ada","VISITS":2}"#);
    assert_eq!(c.ok("/user/remove").await, "Some(Some(\"ada\"))");
    assert_eq!(c.ok("/user/remove").await, "None");
    assert_eq!(c.ok("/keys").await, "VISITS");
    c.ok("/clear").await;
    assert_eq!(c.ok("/keys").await, "");
    assert_eq!(c.ok("/visits").await, "0");
    let cookie = c.cookie.clone();
    assert_eq!(c.ok("/visit").await, "1", "a cleared session lives on");
    assert_eq!(c.cookie, cookie, "and keeps its id");
}

/// Two cookie jars never see each other's state.
pub async fn isolation(store: impl SessionStore) {
    let app = app(layer(store));
    let mut ada = Client::new(app.clone());
    let mut bob = Client::new(app);
    ada.ok("/visit").await;
    ada.ok("/visit").await;
    ada.ok("/user/set/ada").await;
    assert_eq!(bob.ok("/visits").await, "0");
    assert_eq!(bob.ok("/user").await, "None");
    assert_eq!(bob.ok("/visit").await, "1");
    assert_eq!(ada.ok("/visit").await, "3");
    assert_ne!(ada.cookie, bob.cookie);
}

/// A store wrapper counting round trips, to prove that reads are lazy.
#[derive(Debug, Clone)]
pub struct CountingStore<S> {
    inner: S,
    /// Store calls so far.
    pub calls: Arc<AtomicUsize>,
}

impl<S: SessionStore> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Arc::default(),
        }
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: SessionStore> SessionStore for CountingStore<S> {
    fn load(&self, id: SessionId) -> BoxFuture<'_, Result<Option<Record>, SessionError>> {
        self.count();
        self.inner.load(id)
    }
    fn set<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        json: String,
        max: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.count();
        self.inner.set(id, key, json, max)
    }
    fn update<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
        max: usize,
        f: &'a mut UpdateFn<'a>,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.count();
        self.inner.update(id, key, max, f)
    }
    fn remove<'a>(
        &'a self,
        id: SessionId,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>> {
        self.count();
        self.inner.remove(id, key)
    }
    fn clear(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        self.count();
        self.inner.clear(id)
    }
    fn delete(&self, id: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        self.count();
        self.inner.delete(id)
    }
    fn rename(&self, from: SessionId, to: SessionId) -> BoxFuture<'_, Result<(), SessionError>> {
        self.count();
        self.inner.rename(from, to)
    }
}

/// A handler that does not touch the session costs no store round trip, and
/// several reads cost one load.
pub async fn lazy_loading(store: impl SessionStore) {
    let store = CountingStore::new(store);
    let calls = Arc::clone(&store.calls);
    let mut c = Client::new(app(layer(store)));
    c.ok("/visit").await;
    let before = calls.load(Ordering::SeqCst);
    c.ok("/untouched").await;
    c.ok("/plain").await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "untouched sessions are never loaded"
    );
    c.ok("/ab").await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before + 1,
        "two reads, one load"
    );
}

/// Malformed, unknown, forged or expired ids start a fresh session under a new id.
pub async fn garbage_cookies(store: impl SessionStore) {
    let app = app(layer(store));
    let mut victim = Client::new(app.clone());
    victim.ok("/visit").await;
    victim.ok("/visit").await;
    let unknown = format!("{COOKIE}={}", SessionId::random());
    let upper = format!("{COOKIE}={}", "A".repeat(32));
    let cases = [
        format!("{COOKIE}=garbage"),
        format!("{COOKIE}="),
        format!("{COOKIE}=%ff%00%7f"),
        upper,
        unknown.clone(),
        format!(
            "{}; other=1",
            victim.cookie.as_deref().unwrap().replace('=', "=0")
        ),
        "unrelated=1".to_owned(),
    ];
    for cookie in cases {
        let mut c = Client::new(app.clone());
        c.cookie = Some(cookie.clone());
        assert_eq!(c.ok("/visits").await, "0", "{cookie}");
        assert_eq!(c.ok("/visit").await, "1", "{cookie}");
        assert_ne!(
            c.cookie.as_deref(),
            Some(cookie.as_str()),
            "a client-chosen id is never adopted"
        );
        assert_ne!(c.cookie, victim.cookie);
    }
    // A header that is not even UTF-8 is ignored too.
    let raw = Request::get("/visit")
        .header(
            header::COOKIE,
            http::HeaderValue::from_bytes(b"session=\xff\xfe; a=\x80").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(raw).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A read with a stale cookie drops it.
    let (status, _, set_cookie) = request(&app, "/visits", Some(&unknown)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(
        victim.ok("/visits").await,
        "2",
        "the victim's session is untouched"
    );
}

/// `cycle_id` keeps the state under a new id; the old id stops working.
pub async fn cycle_id(store: impl SessionStore) {
    let app = app(layer(store));
    let mut c = Client::new(app.clone());
    c.ok("/visit").await;
    c.ok("/visit").await;
    let old = c.cookie.clone().unwrap();
    c.ok("/cycle").await;
    let new = c.cookie.clone().unwrap();
    assert_ne!(old, new);
    assert_eq!(c.ok("/visit").await, "3");
    let mut attacker = Client::new(app);
    attacker.cookie = Some(old);
    assert_eq!(attacker.ok("/visits").await, "0");
    assert!(attacker.cookie.is_none(), "the stale cookie is removed");
    // Cycling a session that does not exist is a no-op without a cookie.
    let (status, _, set_cookie) = request(&c.app, "/cycle", None).await;
    assert_eq!((status, set_cookie), (StatusCode::OK, None));
}

/// `end` deletes the state and the cookie; the next write starts a new session.
pub async fn end(store: impl SessionStore) {
    let app = app(layer(store));
    let mut c = Client::new(app.clone());
    c.ok("/visit").await;
    let old = c.cookie.clone().unwrap();
    c.ok("/end").await;
    assert!(c.last_set_cookie.as_deref().unwrap().contains("Max-Age=0"));
    assert!(c.cookie.is_none());
    assert_eq!(c.ok("/visit").await, "1");
    assert_ne!(c.cookie.as_deref(), Some(old.as_str()));
    let (_, body, _) = request(&app, "/visits", Some(&old)).await;
    assert_eq!(body, "0", "the ended session's id no longer works");
}

/// Two concurrent requests that write different keys both keep their writes,
/// even when both loaded the session before either wrote.
pub async fn no_lost_update(store: impl SessionStore) {
    let mut c = Client::new(app(layer(store)));
    c.ok("/visit").await;
    let (mut c1, mut c2) = (c.clone(), c.clone());
    let (a, b) = tokio::join!(
        tokio::spawn(async move { c1.ok("/a").await }),
        tokio::spawn(async move { c2.ok("/b").await })
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(c.ok("/ab").await, "7,7");
    assert_eq!(c.ok("/visits").await, "1");
}

/// N concurrent increments from N requests of one session end at exactly N,
/// and each request sees a distinct intermediate value.
pub async fn atomic_increments(store: impl SessionStore, n: u64) {
    let mut c = Client::new(app(layer(store)));
    c.ok("/visit").await;
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let mut c = c.clone();
            tokio::spawn(async move { c.ok("/incr").await.parse::<u64>().unwrap() })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        seen.insert(task.await.unwrap());
    }
    assert_eq!(seen, (1..=n).collect(), "every increment saw its own value");
    assert_eq!(c.ok("/counter").await, n.to_string());
}

/// A `Session` moved into tasks spawned during the request works.
pub async fn spawned_tasks(store: impl SessionStore) {
    let mut c = Client::new(app(layer(store)));
    assert_eq!(c.ok("/spawn/16").await, "16");
    assert!(
        c.cookie.is_some(),
        "a session created from a spawned task still gets its cookie"
    );
    assert_eq!(c.ok("/counter").await, "16");
}

/// Exceeding the per-value or per-session limit is a 413 for the handler and
/// loses nothing already stored.
pub async fn size_limits(store: impl SessionStore) {
    let layer = layer(store)
        .with_max_value_bytes(100)
        .with_max_session_bytes(160);
    let mut c = Client::new(app(layer));
    c.ok("/blob/50").await;
    let (status, body) = c.get("/blob/150").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("per value"), "{body}");
    assert_eq!(c.ok("/blob").await, "50");
    c.ok("/user/set/ada").await; // 4 + 5 bytes
    c.ok("/blob/90").await; // 4 + 92 (quoted) + 9 = 105
    let (status, body) = c.get(&format!("/user/set/{}", "y".repeat(70))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("per session"), "{body}");
    assert_eq!(c.ok("/user").await, "Some(\"ada\")");
    assert_eq!(c.ok("/blob").await, "90");
}

/// A stored value that no longer decodes as the key's type reads as the
/// default, and the next write replaces it.
pub async fn type_change_falls_back_to_default(store: impl SessionStore + Clone) {
    let mut c = Client::new(app(layer(store.clone())));
    c.ok("/visit").await;
    let id = SessionId::parse(&c.session_id()).unwrap();
    store
        .set(id, "VISITS", "\"not a number\"".to_owned(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(c.ok("/visits").await, "0");
    assert_eq!(c.ok("/json").await, r#"{"VISITS":"not a number"}"#);
    assert_eq!(c.ok("/visit").await, "1");
}

/// Recorded hook calls.
#[derive(Debug, Default, Clone)]
pub struct HookLog {
    /// Started sessions.
    pub started: Arc<Mutex<Vec<SessionId>>>,
    /// Ended sessions.
    pub ended: Arc<Mutex<Vec<(SessionId, EndReason)>>>,
}

impl HookLog {
    /// `layer` with hooks recording into this log.
    pub fn install(&self, layer: SessionLayer) -> SessionLayer {
        let (started, ended) = (Arc::clone(&self.started), Arc::clone(&self.ended));
        layer
            .on_session_start(move |id| started.lock().unwrap().push(*id))
            .on_session_end(move |id, reason| ended.lock().unwrap().push((*id, reason)))
    }

    /// (starts, ends) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.started.lock().unwrap().len(),
            self.ended.lock().unwrap().len(),
        )
    }
}

/// `on_session_start` runs once per created session, `on_session_end` on `end`;
/// reads and id cycling run neither.
pub async fn hooks(store: impl SessionStore) {
    let log = HookLog::default();
    let mut c = Client::new(app(log.install(layer(store))));
    c.ok("/visits").await;
    assert_eq!(log.counts(), (0, 0), "reading creates no session");
    c.ok("/visit").await;
    c.ok("/visit").await;
    assert_eq!(log.counts(), (1, 0));
    c.ok("/cycle").await;
    assert_eq!(
        log.counts(),
        (1, 0),
        "cycling is neither an end nor a start"
    );
    let id = c.session_id();
    c.ok("/end").await;
    assert_eq!(log.counts(), (1, 1));
    let (ended, reason) = log.ended.lock().unwrap()[0];
    assert_eq!((ended.to_string(), reason), (id, EndReason::Ended));
    c.ok("/visit").await;
    assert_eq!(log.counts(), (2, 1));
}

/// An idle session expires: the next request starts a fresh one.
/// `store` must have an idle timeout shorter than `wait`.
pub async fn expiry(store: impl SessionStore, wait: Duration) {
    let mut c = Client::new(app(layer(store)));
    c.ok("/visit").await;
    assert_eq!(c.ok("/visit").await, "2");
    tokio::time::sleep(wait).await;
    assert_eq!(c.ok("/visits").await, "0");
    assert!(c.cookie.is_none(), "the expired cookie is removed");
    assert_eq!(c.ok("/visit").await, "1");
}

/// The cookie is `HttpOnly`, `SameSite=Lax`, `Path=/` and `Secure` by default.
pub async fn cookie_attributes(store: impl SessionStore) {
    let mut c = Client::new(app(SessionLayer::new(store)));
    c.ok("/visit").await;
    let set_cookie = c.last_set_cookie.clone().unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(
        !set_cookie.contains("Max-Age"),
        "{set_cookie}: a browser-session cookie"
    );
    let value = c
        .cookie
        .as_deref()
        .unwrap()
        .strip_prefix("session=")
        .unwrap();
    assert!(SessionId::parse(value).is_some(), "{value}");
}

/// Signed and private cookies: a tampered, unsigned or differently keyed
/// cookie starts a fresh session.
pub async fn protected_cookies(store: impl SessionStore + Clone) {
    let key = Key::generate();
    for (name, layer) in [
        ("signed", layer(store.clone()).with_signed(key.clone())),
        ("private", layer(store.clone()).with_private(key.clone())),
    ] {
        let app = app(layer);
        let mut c = Client::new(app.clone());
        c.ok("/visit").await;
        assert_eq!(c.ok("/visit").await, "2", "{name}");
        let cookie = c.cookie.clone().unwrap();
        let value = cookie.strip_prefix("session=").unwrap();
        assert!(
            SessionId::parse(value).is_none(),
            "{name}: the raw id is not the cookie value"
        );
        let mut tampered = value.to_owned().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let forged = [
            format!("session={}", String::from_utf8(tampered).unwrap()),
            format!("session={}", SessionId::random()),
        ];
        for forged in forged {
            let (_, body, _) = request(&app, "/visits", Some(&forged)).await;
            assert_eq!(body, "0", "{name}: {forged}");
        }
    }
    // A cookie signed with another key is ignored.
    let mut c = Client::new(app(layer(store.clone()).with_signed(Key::generate())));
    c.ok("/visit").await;
    let other = app(layer(store).with_signed(key));
    let (_, body, _) = request(&other, "/visits", c.cookie.as_deref()).await;
    assert_eq!(body, "0");
}

/// Two app instances over one shared store share sessions, including atomic updates.
pub async fn shared_between_instances(
    store_a: impl SessionStore,
    store_b: impl SessionStore,
    n: u64,
) {
    let (app_a, app_b) = (app(layer(store_a)), app(layer(store_b)));
    let mut on_a = Client::new(app_a.clone());
    assert_eq!(on_a.ok("/visit").await, "1");
    let mut on_b = on_a.with_app(app_b.clone());
    assert_eq!(on_b.ok("/visit").await, "2");
    on_b.ok("/user/set/ada").await;
    assert_eq!(on_a.ok("/user").await, "Some(\"ada\")");
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let mut c = on_a.with_app(if i % 2 == 0 {
                app_a.clone()
            } else {
                app_b.clone()
            });
            tokio::spawn(async move { c.ok("/incr").await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(on_b.ok("/counter").await, n.to_string());
    on_a.ok("/cycle").await;
    on_b.cookie = on_a.cookie.clone();
    assert_eq!(
        on_b.ok("/visit").await,
        "3",
        "a cycled id works on the other instance"
    );
}
