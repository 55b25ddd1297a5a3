//! Where the persistent tiers live: [`Settings`], from [`configure`] or the
//! `CACHE_RUNTIME_*` environment variables, fixed at first use.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::config::Persist;

/// Where persistent tiers keep their data. See the [module docs](crate::persist).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// The disk tier's folder.
    pub dir: PathBuf,
    /// The disk tier's size bound, in bytes.
    pub disk_max_bytes: u64,
    /// The Redis URL, e.g. `redis://127.0.0.1:6379/`, or a Redis Cluster's
    /// node URLs separated by commas.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this crate writes; without `{` or `}` (a
    /// prefix with braces is refused, logged: they would change the keys'
    /// hash tags on a Redis Cluster).
    pub redis_prefix: String,
    /// Timeout of each Redis operation (and of connecting).
    pub redis_timeout: Duration,
    /// How long a replica waits for another replica's computation of the same key.
    pub lock_wait: Duration,
    /// How long a replica's computation lock lives if it never releases it.
    pub lock_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            dir: default_dir(),
            disk_max_bytes: 1 << 30,
            redis_url: None,
            redis_prefix: "cache-runtime:".into(),
            redis_timeout: Duration::from_millis(250),
            lock_wait: Duration::from_secs(5),
            lock_ttl: Duration::from_secs(30),
        }
    }
}

fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    base.unwrap_or_else(|| PathBuf::from(".cache"))
        .join("cache-runtime")
}

impl Settings {
    /// The defaults, overridden by the `CACHE_RUNTIME_*` environment variables.
    /// An unparsable value is logged and ignored.
    pub fn from_env() -> Self {
        let mut settings = Self::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let number = |name: &str| {
            var(name).and_then(|text| match text.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    tracing::warn!(
                        variable = name,
                        value = text,
                        "not a whole number; using the default"
                    );
                    None
                }
            })
        };
        if let Some(dir) = var("CACHE_RUNTIME_DIR") {
            settings.dir = dir.into();
        }
        if let Some(bytes) = number("CACHE_RUNTIME_DISK_MAX_BYTES") {
            settings.disk_max_bytes = bytes;
        }
        settings.redis_url = var("CACHE_RUNTIME_REDIS_URL");
        if let Some(prefix) = var("CACHE_RUNTIME_REDIS_PREFIX") {
            settings.redis_prefix = prefix;
        }
        if let Some(ms) = number("CACHE_RUNTIME_REDIS_TIMEOUT_MS") {
            settings.redis_timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = number("CACHE_RUNTIME_LOCK_WAIT_MS") {
            settings.lock_wait = Duration::from_millis(ms);
        }
        settings
    }

    /// Sets [`Settings::dir`].
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// Sets [`Settings::disk_max_bytes`].
    pub fn disk_max_bytes(mut self, bytes: u64) -> Self {
        self.disk_max_bytes = bytes;
        self
    }

    /// Sets [`Settings::redis_url`].
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// Sets [`Settings::redis_prefix`].
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_prefix = prefix.into();
        self
    }

    /// Sets [`Settings::redis_timeout`].
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// Sets [`Settings::lock_wait`].
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// [`configure`] was called after the settings were already fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyConfigured;

impl std::fmt::Display for AlreadyConfigured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the persistent tiers were already configured, by an earlier `configure` or by a first \
             persistent call (which reads the environment); call `configure` once at start-up",
        )
    }
}

impl std::error::Error for AlreadyConfigured {}

/// Sets where the persistent tiers live. Call it once at start-up, before the
/// first persistent call.
///
/// # Errors
/// [`AlreadyConfigured`] when the settings were already fixed; the earlier
/// settings stay in force.
pub fn configure(settings: Settings) -> Result<(), AlreadyConfigured> {
    let mut offered = Some(settings);
    SETTINGS.get_or_init(|| offered.take().expect("taken once"));
    if offered.is_none() {
        Ok(())
    } else {
        Err(AlreadyConfigured)
    }
}

/// The settings in force (from the environment if [`configure`] was not called).
pub fn settings() -> &'static Settings {
    SETTINGS.get_or_init(Settings::from_env)
}

impl Persist {
    /// `persist = "auto"`: [`Persist::Redis`] when a Redis URL is configured
    /// (and the `redis` feature is on), otherwise [`Persist::Disk`]. Read from
    /// [`settings`], so call it after [`configure`].
    pub fn auto() -> Persist {
        #[cfg(feature = "redis")]
        if settings().redis_url.is_some() {
            return Persist::Redis;
        }
        Persist::Disk
    }
}
