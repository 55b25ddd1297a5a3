//! [`SessionLayer`] and its service: cookie handling and configuration.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use cache_runtime::session::SessionScope;
use cookie::{Cookie, CookieJar, Key, SameSite};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::handle::{CookieChange, Session, SessionSlot};
use super::id::SessionId;
use super::shared::{CookieConfig, EndHook, Hooks, Limits, Security, Shared, session_ended};
use super::store::{EndReason, SessionStore};

/// The default session cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "session";
/// The default maximum size of one value as JSON: 1 MiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1 << 20;
/// The default maximum size of one session (stored names plus JSON values): 4 MiB.
pub const DEFAULT_MAX_SESSION_BYTES: usize = 4 << 20;

/// A tower layer that gives every request a [`Session`], extracted in handlers.
///
/// ```
/// use axum::{routing::get, Router};
/// use state::{MemoryStore, SessionLayer};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .layer(
///         SessionLayer::new(MemoryStore::new())
///             .with_secure(false) // plain-HTTP development server
///             .on_session_start(|id| tracing::info!(session = ?id, "started"))
///             .on_session_end(|id, reason| tracing::info!(session = ?id, ?reason, "ended")),
///     );
/// ```
///
/// # Cookie
///
/// One cookie, named [`DEFAULT_COOKIE_NAME`] unless changed, holds the id and
/// nothing else: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`, no `Max-Age`
/// (it lasts for the browser session; the store's idle timeout ends the
/// session server-side). `Secure` is on by default; browsers accept it on
/// `http://localhost`, and [`with_secure(false)`](Self::with_secure) serves
/// other plain-HTTP hosts. [`with_signed`](Self::with_signed) (HMAC) and
/// [`with_private`](Self::with_private) (authenticated encryption) protect the
/// id further.
///
/// A missing, malformed, forged or unknown id never fails the request: the
/// request gets a fresh, empty session, and an id the server did not issue is
/// never adopted.
///
/// # Session-scoped caches
///
/// Every request runs in its browser's `cache_runtime` session scope, so a
/// `#[cache_data(scope = "session")]` or `#[cache_resource(scope = "session")]`
/// function called while handling it keeps its entries for that browser
/// session, with no code in the handler (it need not extract [`Session`]):
///
/// ```
/// use axum::{routing::get, Router};
/// use cache_runtime::cache_data;
/// use state::{MemoryStore, SessionLayer};
///
/// /// Computed once per browser session.
/// #[cache_data(scope = "session")]
/// fn my_rows(filter: String) -> Vec<String> {
///     vec![filter]
/// }
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { my_rows("open".into()).join(",") }))
///     .layer(SessionLayer::new(MemoryStore::new()));
/// ```
///
/// * A browser without a session gets one at its first such call: the session
///   is created in the store and its cookie set on that response.
/// * A browser with a cookie uses its id at once (cached calls are
///   synchronous); once the response is ready the layer checks the id against
///   the store (one load, if the handler did not load the session already).
///   Entries cached under an id the store does not know (expired, forged) are
///   dropped then, never adopted.
/// * A task spawned for the request keeps the scope when spawned as
///   `future.in_current_session()` (`cache_runtime::session::InSessionExt`).
/// * What computes for a browser is reported to its pages by
///   [`progress`](crate::progress).
/// * When the session ends — [`Session::end`], the store's idle expiry or
///   eviction (the memory store's, and the Redis store's with
///   `with_expiry_events`) — its entries are dropped and `on_release` runs for
///   each of its resources, once; [`Session::cycle_id`] drops them too (a
///   privilege change). The layer installs the store's expiry listener for
///   this even without [`on_session_end`](Self::on_session_end).
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    /// A layer keeping sessions in `store` with the default settings.
    ///
    /// The store's expiry listener is set to drop an ended session's
    /// session-scoped cache entries (see [`on_session_end`](Self::on_session_end)).
    pub fn new(store: impl SessionStore) -> Self {
        crate::progress::track();
        let store: Arc<dyn SessionStore> = Arc::new(store);
        store.set_expiry_listener(Arc::new(session_ended));
        Self {
            shared: Arc::new(Shared {
                store,
                limits: Limits {
                    max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
                    max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
                },
                hooks: Hooks::default(),
                cookie: CookieConfig {
                    name: DEFAULT_COOKIE_NAME.to_owned(),
                    path: "/".to_owned(),
                    domain: None,
                    secure: true,
                    same_site: SameSite::Lax,
                    security: Security::Plain,
                },
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        f(Arc::make_mut(&mut self.shared));
        self
    }

    /// The cookie's name (default [`DEFAULT_COOKIE_NAME`]).
    pub fn with_cookie_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.edit(|shared| shared.cookie.name = name)
    }

    /// The cookie's `Path` (default `/`).
    pub fn with_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.edit(|shared| shared.cookie.path = path)
    }

    /// The cookie's `Domain` (default: none, so the cookie is host-only).
    pub fn with_domain(self, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        self.edit(|shared| shared.cookie.domain = Some(domain))
    }

    /// Whether the cookie is `Secure` (default `true`).
    pub fn with_secure(self, secure: bool) -> Self {
        self.edit(|shared| shared.cookie.secure = secure)
    }

    /// The cookie's `SameSite` (default `Lax`).
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.edit(|shared| shared.cookie.same_site = same_site)
    }

    /// Signs the cookie with `key` (HMAC-SHA256): a tampered or forged cookie is
    /// ignored and the request gets a fresh session.
    pub fn with_signed(self, key: Key) -> Self {
        self.edit(|shared| shared.cookie.security = Security::Signed(key))
    }

    /// Encrypts and authenticates the cookie with `key` (AES-256-GCM), so the id
    /// is not readable by the client either.
    pub fn with_private(self, key: Key) -> Self {
        self.edit(|shared| shared.cookie.security = Security::Private(key))
    }

    /// The maximum size of one value as JSON, in bytes (default
    /// [`DEFAULT_MAX_VALUE_BYTES`]). Larger writes fail with
    /// [`SessionError::ValueTooLarge`](super::SessionError::ValueTooLarge).
    pub fn with_max_value_bytes(self, max: usize) -> Self {
        self.edit(|shared| shared.limits.max_value_bytes = max)
    }

    /// The maximum size of one session, counted as the sum of stored names and
    /// JSON values, in bytes (default [`DEFAULT_MAX_SESSION_BYTES`]). Writes that
    /// would exceed it fail with
    /// [`SessionError::SessionTooLarge`](super::SessionError::SessionTooLarge).
    pub fn with_max_session_bytes(self, max: usize) -> Self {
        self.edit(|shared| shared.limits.max_session_bytes = max)
    }

    /// Runs `hook` when a session is created in the store (on its first write).
    ///
    /// Hooks run inline on the request's task; spawn a task for slow work.
    pub fn on_session_start(self, hook: impl Fn(&SessionId) + Send + Sync + 'static) -> Self {
        self.edit(|shared| shared.hooks.start = Some(Arc::new(hook)))
    }

    /// Runs `hook` when a session ends: [`EndReason::Ended`] from
    /// [`Session::end`], and [`EndReason::Expired`] / [`EndReason::Evicted`]
    /// where the store can tell: the memory store always does; the Redis store
    /// does after `RedisStore::with_expiry_events` (keyspace notifications).
    ///
    /// The hook is also installed on the store as its expiry listener, replacing
    /// any listener another layer installed on the same store.
    pub fn on_session_end(
        self,
        hook: impl Fn(&SessionId, EndReason) + Send + Sync + 'static,
    ) -> Self {
        let hook: EndHook = Arc::new(hook);
        let listener = Arc::clone(&hook);
        self.shared
            .store
            .set_expiry_listener(Arc::new(move |id, reason| {
                session_ended(id, reason);
                listener(&id, reason);
            }));
        self.edit(|shared| shared.hooks.end = Some(hook))
    }

    fn read_cookie(&self, headers: &HeaderMap) -> Option<SessionId> {
        let config = &self.shared.cookie;
        let found = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|header| header.to_str().ok())
            .flat_map(Cookie::split_parse_encoded)
            .filter_map(Result::ok)
            .filter(|cookie| cookie.name() == config.name);
        for cookie in found {
            let value = match &config.security {
                Security::Plain => Some(cookie.value().to_owned()),
                Security::Signed(key) | Security::Private(key) => {
                    let mut jar = CookieJar::new();
                    jar.add_original(cookie.into_owned());
                    let verified = match &config.security {
                        Security::Signed(_) => jar.signed(key).get(&config.name),
                        _ => jar.private(key).get(&config.name),
                    };
                    verified.map(|cookie| cookie.value().to_owned())
                }
            };
            if let Some(id) = value.as_deref().and_then(SessionId::parse) {
                return Some(id);
            }
        }
        None
    }

    fn write_cookie(&self, change: CookieChange) -> Option<HeaderValue> {
        let config = &self.shared.cookie;
        let value = match change {
            CookieChange::Keep => return None,
            CookieChange::Set(id) => id.to_string(),
            CookieChange::Remove => String::new(),
        };
        let mut builder = Cookie::build((config.name.clone(), value))
            .path(config.path.clone())
            .http_only(true)
            .secure(config.secure)
            .same_site(config.same_site);
        if let Some(domain) = &config.domain {
            builder = builder.domain(domain.clone());
        }
        let mut cookie = builder.build();
        if change == CookieChange::Remove {
            cookie.make_removal();
        } else {
            let mut jar = CookieJar::new();
            match &config.security {
                Security::Plain => jar.add(cookie.clone()),
                Security::Signed(key) => jar.signed_mut(key).add(cookie.clone()),
                Security::Private(key) => jar.private_mut(key).add(cookie.clone()),
            }
            cookie = jar.get(&config.name).cloned().unwrap_or(cookie);
        }
        HeaderValue::from_str(&cookie.encoded().to_string()).ok()
    }
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("store", &self.shared.store)
            .field("cookie", &self.shared.cookie)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    layer: SessionLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let incoming = self.layer.read_cookie(request.headers());
        let session = Session::new(Arc::clone(&self.layer.shared), incoming);
        request
            .extensions_mut()
            .insert(SessionSlot(session.clone()));
        // `scope = "session"` cached functions called by the handler key
        // their entries to this browser's session: the cookie's (checked
        // against the store once the response is ready, if one was called),
        // or for a browser without one an id minted at the first such call.
        let scope = match incoming {
            Some(id) => SessionScope::new(id.to_string()),
            None => {
                let for_scope = session.clone();
                SessionScope::deferred(move || for_scope.cache_scope_id().to_string())
            }
        };
        let layer = self.layer.clone();
        // The standard tower pattern: call the instance that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let handled = scope.run(|| inner.call(request));
        Box::pin(async move {
            let mut response = scope.run_async(handled).await?;
            if let Some(used) = scope
                .id()
                .filter(|_| scope.was_used())
                .and_then(SessionId::parse)
            {
                session.settle_cache_scope(used).await;
            }
            if let Some(cookie) = layer.write_cookie(session.cookie_change().await) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            Ok(response)
        })
    }
}
