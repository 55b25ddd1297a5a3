//! [`ContextConfig`] and [`TrustedProxy`].

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::error::ContextError;

/// The default name of the cookie the script writes.
pub const DEFAULT_COOKIE: &str = "st_ctx";

/// How a [`Context`](crate::context::Context) is built: which proxies are
/// trusted, the name of the cookie the [shipped script](crate::context::SCRIPT)
/// writes, and optionally the app's public origin.
///
/// With axum, add it as an extension layer; the extractor uses
/// [`ContextConfig::default`] when there is none.
///
/// ```rust,no_run
/// use axum::{routing::get, Extension, Router};
/// use state::context::{Context, ContextConfig};
///
/// let config = ContextConfig::new()
///     .trust_proxy("10.0.0.0/8".parse()?)
///     .public_origin("https://app.example.com");
/// let app = Router::new()
///     .route("/", get(|ctx: Context| async move { format!("{:?}", ctx.ip_address()) }))
///     .layer(Extension(config));
/// # let _: Router = app;
/// # Ok::<(), state::context::ContextError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextConfig {
    pub(crate) trusted_proxies: Vec<TrustedProxy>,
    pub(crate) cookie_name: String,
    pub(crate) public_origin: Option<String>,
    /// Whether the script reloads the page when it stores or changes its
    /// cookie ([`ContextConfig::reload_on_change`]).
    pub(crate) reload: bool,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            cookie_name: DEFAULT_COOKIE.to_owned(),
            public_origin: None,
            reload: true,
        }
    }
}

impl ContextConfig {
    /// No trusted proxy, the cookie `st_ctx`, no public origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `proxy`: when the connection comes from it, `Forwarded` /
    /// `X-Forwarded-For` (and the forwarded host and scheme) are believed.
    /// Nothing is trusted by default.
    #[must_use]
    pub fn trust_proxy(mut self, proxy: TrustedProxy) -> Self {
        self.trusted_proxies.push(proxy);
        self
    }

    /// Trusts every proxy of `proxies` (see [`trust_proxy`](Self::trust_proxy)).
    #[must_use]
    pub fn trust_proxies(mut self, proxies: impl IntoIterator<Item = TrustedProxy>) -> Self {
        self.trusted_proxies.extend(proxies);
        self
    }

    /// The name of the cookie written by the [shipped script](crate::context::SCRIPT)
    /// (default `st_ctx`); set the same name on the script tag with
    /// `data-cookie` (see [`script_tag`](crate::context::script_tag)).
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The scheme and host the app is reached at, e.g.
    /// `https://app.example.com`, used for [`Context::url`](crate::context::Context::url)
    /// instead of the (client-controlled) `Host` header.
    #[must_use]
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        let origin: String = origin.into();
        self.public_origin = Some(origin.trim_end_matches('/').to_owned());
        self
    }

    /// Whether the [shipped script](crate::context::SCRIPT) reloads the page
    /// once when it stores or changes its cookie (default `true`), so that
    /// the server sees the browser's fields from the first rendered page on.
    ///
    /// With `false`, [`script_tag`](crate::context::script_tag) adds
    /// `data-reload="false"`: a new visitor's first page (or the first page
    /// after the browser's fields changed: a new timezone, a switch to a dark
    /// theme) is rendered once, with the old fields or none, and the script
    /// marks it (`<html data-st-context="updated">`) so the page's own script
    /// can fetch what depends on them; the next request carries the cookie.
    ///
    /// ```
    /// use state::context::{script_tag, ContextConfig};
    ///
    /// assert_eq!(
    ///     script_tag(&ContextConfig::new().reload_on_change(false)),
    ///     r#"<script src="/_state/context.js" data-cookie="st_ctx" data-reload="false"></script>"#,
    /// );
    /// ```
    #[must_use]
    pub fn reload_on_change(mut self, reload: bool) -> Self {
        self.reload = reload;
        self
    }

    /// The trusted proxies.
    pub fn trusted_proxies(&self) -> &[TrustedProxy] {
        &self.trusted_proxies
    }

    pub(crate) fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|p| p.contains(ip))
    }
}

/// A trusted proxy: one IP address or a CIDR block, parsed from
/// `"203.0.113.7"`, `"10.0.0.0/8"`, `"::1"` or `"fd00::/8"`.
///
/// IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) match IPv4 blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// A block of `prefix` leading bits; `None` if `prefix` is longer than
    /// the address (32 or 128).
    pub fn new(network: IpAddr, prefix: u8) -> Option<Self> {
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { network, prefix })
    }

    /// Exactly one address.
    pub fn addr(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        Self {
            network: ip,
            prefix,
        }
    }

    /// `127.0.0.0/8` and `::1`: a proxy on the same machine.
    pub fn loopback() -> [Self; 2] {
        [
            Self {
                network: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Self::addr(IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1])),
        ]
    }

    /// Whether `ip` is in this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(net.to_bits()) << 96,
                u128::from(ip.to_bits()) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = 128 - u32::from(prefix);
    (a >> shift) == (b >> shift)
}

impl FromStr for TrustedProxy {
    type Err = ContextError;

    fn from_str(s: &str) -> Result<Self, ContextError> {
        let err = || ContextError::InvalidProxy {
            input: s.to_owned(),
        };
        let s = s.trim();
        match s.split_once('/') {
            None => s.parse().map(Self::addr).map_err(|_| err()),
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(|_| err())?;
                if !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err());
                }
                let prefix: u8 = prefix.parse().map_err(|_| err())?;
                // `::ffff:10.0.0.0/104` is read as `10.0.0.0/8`.
                let prefix = match addr {
                    IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
                        prefix.checked_sub(96).ok_or_else(err)?
                    }
                    _ => prefix,
                };
                Self::new(addr, prefix).ok_or_else(err)
            }
        }
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}
