//! The read-only request context: the counterpart of Streamlit's `st.context`.
//!
//! [`Context`] bundles what a handler may want to know about the client:
//! [`headers`](Context::headers), [`cookies`](Context::cookies),
//! [`locale`](Context::locale) (with [negotiation](Context::negotiate_locale)),
//! [`timezone`](Context::timezone), [`timezone_offset`](Context::timezone_offset),
//! [`theme`](Context::theme), [`url`](Context::url),
//! [`ip_address`](Context::ip_address) and [`is_embedded`](Context::is_embedded).
//! It is an axum extractor that never fails, and can be built from
//! [`http::request::Parts`] with [`Context::from_parts`] outside axum.
//!
//! # Browser-only fields
//!
//! A server cannot see the timezone or colour scheme. The crate ships a small
//! script, [`SCRIPT`], which the page includes (serve it with
//! [`script_router`], include it with [`script_tag`]); it stores these fields
//! in a cookie and reloads the page once when they change (or, with
//! [`ContextConfig::reload_on_change`] off, marks the page for its own
//! script to fetch what depends on them). Until the browser
//! ran it (the very first request, clients without JavaScript, blocked
//! cookies) those fields are `None`. A field the client did not send is always
//! `None`, never `""` or `0`.
//!
//! # Client address and proxies
//!
//! [`ip_address`](Context::ip_address) is the connection's peer address, read
//! from axum's `ConnectInfo<SocketAddr>` (serve the app with
//! `into_make_service_with_connect_info::<SocketAddr>()`; without it the
//! address is `None`). `Forwarded` and `X-Forwarded-For` are believed **only**
//! when the peer is a proxy declared with [`ContextConfig::trust_proxy`];
//! nothing is trusted by default, so a spoofed header changes nothing. As in
//! Streamlit, a loopback address is `None`.
//!
//! For the few things only the machine's operator may do (Streamlit's
//! developer options), [`is_from_this_machine`](Context::is_from_this_machine)
//! says whether the connection comes from loopback with no proxy header, and
//! [`peer_address`](Context::peer_address) gives the connection's own peer.
//!
//! # Differences from Streamlit
//!
//! * The values are those of the current HTTP request, not of a WebSocket
//!   handshake, so they are always up to date.
//! * [`locale`](Context::locale) is the best `Accept-Language` entry first,
//!   the browser's `navigator.language` (from the script) only without one.
//! * [`url`](Context::url) keeps the path as requested (Streamlit strips the
//!   trailing `/` and substitutes the page's path).
//! * [`ip_address`](Context::ip_address) is an [`IpAddr`], and
//!   [`is_embedded`](Context::is_embedded) a `bool` (the URL is always known).
//! * [`theme`](Context::theme) is the browser's `prefers-color-scheme`, not
//!   the app's own theme.

mod client;
mod config;
mod cookies;
mod error;
mod headers;
mod ip;
mod locale;
mod script;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, FromRequestParts};
use http::Uri;
use http::header::{ACCEPT_LANGUAGE, HOST};
use http::request::Parts;
use serde_json::{Map, Value};

use client::ClientInfo;
pub use client::Theme;
pub use config::{ContextConfig, DEFAULT_COOKIE, TrustedProxy};
pub use cookies::Cookies;
pub use error::ContextError;
pub use headers::Headers;
pub use locale::{LanguageRange, negotiate, parse_accept_language};
pub use script::{SCRIPT, SCRIPT_PATH, script_handler, script_router, script_tag};

use crate::query::{QueryError, QueryMap, url_with};

/// The names [`Context::get`] accepts, as Streamlit's `st.context` keys.
pub const KEYS: [&str; 9] = [
    "cookies",
    "headers",
    "ip_address",
    "is_embedded",
    "locale",
    "theme",
    "timezone",
    "timezone_offset",
    "url",
];

/// The read-only context of one request (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// use state::context::{Context, ContextConfig, Theme};
///
/// let request = http::Request::builder()
///     .uri("/report?embed=true&page=2")
///     .header("Host", "example.com")
///     .header("Accept-Language", "fr-CH, fr;q=0.9, en;q=0.8")
///     .header("Cookie", "st_ctx=tz=Europe%2FZurich&tzo=-60&theme=dark")
///     .body(())
///     .unwrap();
/// let (parts, ()) = request.into_parts();
/// let ctx = Context::from_parts(&parts, &ContextConfig::default());
///
/// assert_eq!(ctx.locale(), Some("fr-CH"));
/// assert_eq!(ctx.negotiate_locale(&["en", "fr"]), Some("fr"));
/// assert_eq!(ctx.timezone(), Some("Europe/Zurich"));
/// assert_eq!(ctx.timezone_offset(), Some(-60));
/// assert_eq!(ctx.theme(), Some(Theme::Dark));
/// assert_eq!(ctx.url(), Some("http://example.com/report"));
/// assert!(ctx.is_embedded());
/// assert_eq!(ctx.ip_address(), None); // no peer address known
///
/// assert_eq!(ctx.get("timezone")?, serde_json::json!("Europe/Zurich"));
/// assert!(ctx.get("tz").unwrap_err().to_string().contains("Valid keys are: cookies, headers"));
/// # Ok::<(), state::context::ContextError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Context {
    headers: Headers,
    cookies: Cookies,
    languages: Vec<LanguageRange>,
    client: ClientInfo,
    url: Option<String>,
    ip_address: Option<IpAddr>,
    peer: Option<IpAddr>,
    forwarded: bool,
    is_embedded: bool,
    uri: Uri,
}

impl Context {
    /// Builds the context of a request, taking the peer address from an axum
    /// `ConnectInfo<SocketAddr>` (or, in tests, `MockConnectInfo<SocketAddr>`)
    /// extension if there is one.
    pub fn from_parts(parts: &Parts, config: &ContextConfig) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr)
            .or_else(|| {
                parts
                    .extensions
                    .get::<MockConnectInfo<SocketAddr>>()
                    .map(|MockConnectInfo(addr)| *addr)
            });
        Self::from_parts_and_peer(parts, peer, config)
    }

    /// Builds the context of a request whose connection comes from `peer`
    /// (for servers other than axum; `None` if unknown).
    pub fn from_parts_and_peer(
        parts: &Parts,
        peer: Option<SocketAddr>,
        config: &ContextConfig,
    ) -> Self {
        let headers = &parts.headers;
        let cookies = Cookies::from_headers(headers);
        let client = cookies
            .get(&config.cookie_name)
            .map(ClientInfo::parse)
            .unwrap_or_default();
        let languages = headers
            .get_all(ACCEPT_LANGUAGE)
            .iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .collect::<Vec<_>>()
            .join(",");
        let languages = parse_accept_language(&languages);

        let peer_ip = peer.map(|p| p.ip().to_canonical());
        let ip = ip::resolve(headers, peer_ip, config).filter(|ip| !ip::is_local(*ip));
        let from_trusted_proxy = peer_ip.is_some_and(|p| config.is_trusted(p));
        let url = build_url(parts, config, from_trusted_proxy);
        let is_embedded = parts.uri.query().is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes())
                .any(|(k, v)| k.eq_ignore_ascii_case("embed") && v.eq_ignore_ascii_case("true"))
        });

        let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip", "via"]
            .iter()
            .any(|name| headers.contains_key(*name));
        Self {
            headers: Headers::new(headers.clone()),
            cookies,
            languages,
            client,
            url,
            ip_address: ip,
            peer: peer_ip,
            forwarded,
            is_embedded,
            uri: parts.uri.clone(),
        }
    }

    /// The request headers (case-insensitive; `get` gives the first value).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The request cookies.
    pub fn cookies(&self) -> &Cookies {
        &self.cookies
    }

    /// The client's preferred locale, e.g. `"en-US"`: the best
    /// `Accept-Language` entry by quality (wildcards excluded), else the
    /// browser language reported by the [script](SCRIPT), else `None`.
    pub fn locale(&self) -> Option<&str> {
        self.languages
            .iter()
            .find(|r| !r.is_wildcard())
            .map(LanguageRange::tag)
            .or(self.client.locale.as_deref())
    }

    /// The parsed `Accept-Language` entries, best first (empty without the header).
    pub fn languages(&self) -> &[LanguageRange] {
        &self.languages
    }

    /// The best of the app's `supported` locales for this client, with
    /// fallback (`en-US` → `en`, then same language); see [`negotiate`].
    /// Uses the script-reported language when there is no `Accept-Language`.
    /// `None` if nothing matches.
    pub fn negotiate_locale<'s, S: AsRef<str>>(&self, supported: &'s [S]) -> Option<&'s str> {
        if self.languages.is_empty() {
            let reported = self.client.locale.clone()?;
            negotiate(&[LanguageRange::new(reported, 1.0)], supported)
        } else {
            negotiate(&self.languages, supported)
        }
    }

    /// The browser's IANA timezone, e.g. `"Europe/Paris"` (from the script).
    pub fn timezone(&self) -> Option<&str> {
        self.client.timezone.as_deref()
    }

    /// The browser's offset from UTC in minutes, with JavaScript's sign
    /// convention (`getTimezoneOffset`: UTC − local, so Paris in winter is
    /// `-60`), from the script.
    pub fn timezone_offset(&self) -> Option<i32> {
        self.client.timezone_offset
    }

    /// The browser's preferred colour scheme (from the script).
    pub fn theme(&self) -> Option<Theme> {
        self.client.theme
    }

    /// The request URL without query string or fragment, e.g.
    /// `"https://example.com/report"`.
    ///
    /// The origin is [`ContextConfig::public_origin`] if set; otherwise the
    /// scheme and host of the request target or the `Host` header (and, from
    /// a trusted proxy only, `Forwarded` / `X-Forwarded-Proto` /
    /// `X-Forwarded-Host`), with `http` when no scheme is known. `None`
    /// without any host. The `Host` header is client-controlled: do not use
    /// this for security decisions.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The client's IP address; `None` for loopback or when unknown (see
    /// [Client address and proxies](self#client-address-and-proxies)).
    pub fn ip_address(&self) -> Option<IpAddr> {
        self.ip_address
    }

    /// The address of the connection's peer itself (loopback included),
    /// whatever proxy headers say; `None` when the server does not provide
    /// it (see [Client address and proxies](self#client-address-and-proxies)).
    pub fn peer_address(&self) -> Option<IpAddr> {
        self.peer
    }

    /// Whether the request comes from the machine the app runs on: its
    /// connection's peer is a loopback address and it carries no
    /// `Forwarded`, `X-Forwarded-For`, `X-Real-IP` or `Via` header (a
    /// reverse proxy on the same machine makes every visitor's connection
    /// local). `false` when the peer is unknown. For what only the operator
    /// may do.
    ///
    /// A proxy or tunnel on the same machine that adds none of these headers
    /// (a bare `proxy_pass`, `socat`, an SSH tunnel) cannot be told apart
    /// from a local visitor: behind one, guard operator actions with a
    /// secret of their own instead.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use state::context::{Context, ContextConfig};
    ///
    /// let local = SocketAddr::from(([127, 0, 0, 1], 50_000));
    /// let (parts, ()) = http::Request::builder().body(()).unwrap().into_parts();
    /// let config = ContextConfig::default();
    /// assert!(Context::from_parts_and_peer(&parts, Some(local), &config).is_from_this_machine());
    /// assert!(!Context::from_parts(&parts, &config).is_from_this_machine()); // peer unknown
    ///
    /// let (proxied, ()) = http::Request::builder()
    ///     .header("X-Forwarded-For", "203.0.113.7")
    ///     .body(())
    ///     .unwrap()
    ///     .into_parts();
    /// let ctx = Context::from_parts_and_peer(&proxied, Some(local), &config);
    /// assert!(!ctx.is_from_this_machine());
    /// assert_eq!(ctx.peer_address(), Some(local.ip()));
    /// ```
    pub fn is_from_this_machine(&self) -> bool {
        !self.forwarded && self.peer.is_some_and(|peer| peer.is_loopback())
    }

    /// Whether the URL has `embed=true` (any case).
    pub fn is_embedded(&self) -> bool {
        self.is_embedded
    }

    /// The request's path and query.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request's query parameters.
    ///
    /// # Errors
    ///
    /// As [`QueryMap::parse`] (the limits).
    pub fn query(&self) -> Result<QueryMap, QueryError> {
        QueryMap::from_uri(&self.uri)
    }

    /// This request's path with its query changed by `edit`; see [`url_with`].
    ///
    /// # Errors
    ///
    /// As [`url_with`].
    pub fn url_with<F>(&self, edit: F) -> Result<String, QueryError>
    where
        F: FnOnce(&mut QueryMap) -> Result<(), QueryError>,
    {
        url_with(&self.uri, edit)
    }

    /// A field by name, as JSON, like `st.context["timezone"]`. Absent values
    /// are `null`; `headers` and `cookies` are objects (a header's first
    /// value), `theme` is `{"type": "dark" | "light" | null}` as in Streamlit.
    ///
    /// # Errors
    ///
    /// [`ContextError::UnknownKey`], listing the valid names ([`KEYS`]).
    pub fn get(&self, key: &str) -> Result<Value, ContextError> {
        let opt_str = |s: Option<&str>| s.map_or(Value::Null, Value::from);
        Ok(match key {
            "cookies" => Value::Object(
                self.cookies
                    .iter()
                    .map(|(k, v)| (k.to_owned(), Value::from(v)))
                    .collect(),
            ),
            "headers" => {
                let mut map = Map::new();
                for (k, v) in self.headers.iter() {
                    map.entry(k).or_insert_with(|| Value::from(v));
                }
                Value::Object(map)
            }
            "ip_address" => self
                .ip_address
                .map_or(Value::Null, |ip| Value::from(ip.to_string())),
            "is_embedded" => Value::Bool(self.is_embedded),
            "locale" => opt_str(self.locale()),
            "theme" => {
                let mut map = Map::new();
                map.insert("type".to_owned(), opt_str(self.theme().map(Theme::as_str)));
                Value::Object(map)
            }
            "timezone" => opt_str(self.timezone()),
            "timezone_offset" => self.timezone_offset().map_or(Value::Null, Value::from),
            "url" => opt_str(self.url()),
            _ => {
                return Err(ContextError::UnknownKey {
                    key: key.to_owned(),
                });
            }
        })
    }
}

fn build_url(parts: &Parts, config: &ContextConfig, from_trusted_proxy: bool) -> Option<String> {
    let path = parts.uri.path();
    if let Some(origin) = &config.public_origin {
        return Some(format!("{origin}{path}"));
    }
    let (fwd_proto, fwd_host) = if from_trusted_proxy {
        ip::forwarded_origin(&parts.headers)
    } else {
        (None, None)
    };
    let scheme = fwd_proto
        .filter(|p| p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("https"))
        .map(|p| p.to_ascii_lowercase())
        .or_else(|| parts.uri.scheme_str().map(str::to_owned))
        .unwrap_or_else(|| "http".to_owned());
    let host = fwd_host
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
        .or_else(|| {
            parts
                .headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })?;
    // Only a well-formed host (no user info, path or spaces) makes a URL.
    let authority: http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    Some(format!("{scheme}://{authority}{path}"))
}

impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = Infallible;

    /// Uses the [`ContextConfig`] extension if there is one, else the default.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let ctx = match parts.extensions.get::<ContextConfig>() {
            Some(config) => Self::from_parts(parts, config),
            None => Self::from_parts(parts, &ContextConfig::default()),
        };
        Ok(ctx)
    }
}
