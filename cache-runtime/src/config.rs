//! The shared vocabulary at the bottom of the crate: who a cached function is
//! ([`Identity`], [`Kind`]), how it is configured ([`Config`], [`Persist`]) and
//! where a value can come from ([`Tier`]). Every other module builds on these;
//! this one imports nothing of the crate.

use std::time::Duration;

/// Which macro made a cached function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `#[cache_data]`: each caller gets its own copy.
    Data,
    /// `#[cache_resource]`: every caller shares one `Arc`.
    Resource,
}

/// Whose entries a cached function keeps apart (Streamlit's `scope`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// One cache shared by every caller (the default).
    #[default]
    Global,
    /// `scope = "session"`: each browser session has entries of its own
    /// (see [`crate::session`]).
    Session,
}

/// What a miss shows while it computes (Streamlit's `show_spinner`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Spinner {
    /// Streamlit's text: "Running `load_rows(...)`." (`()` for a function
    /// without arguments).
    #[default]
    Default,
    /// Nothing (`show_spinner = false`).
    Hidden,
    /// This text (`show_spinner = "Loading rows…"`).
    Text(&'static str),
}

impl Spinner {
    /// The text to show for `function` (its full name), if any.
    pub(crate) fn text(self, function: &str, has_arguments: bool) -> Option<String> {
        match self {
            Spinner::Default => {
                let short = function.rsplit("::").next().unwrap_or(function);
                let arguments = if has_arguments { "..." } else { "" };
                Some(format!("Running `{short}({arguments})`."))
            }
            Spinner::Hidden => None,
            Spinner::Text(text) => Some(text.to_owned()),
        }
    }
}

/// Who a cached function is.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// Full path, `module_path!()` and the function name (or its `name = ..`).
    pub name: &'static str,
    /// A hash of the function's tokens: an edited body is a different function.
    pub code_hash: u64,
}

impl Identity {
    /// The function's id in the persistent tiers: its path and code hash.
    pub(crate) fn persist_id(&self) -> u64 {
        let mut bytes = self.name.as_bytes().to_vec();
        bytes.extend_from_slice(&self.code_hash.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64(&bytes)
    }
}

/// Which persistent tier a function keeps its values in, behind memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Persist {
    /// A folder on this machine ([`crate::persist::Settings::dir`]).
    Disk,
    /// A Redis server shared by several processes (the `redis` feature).
    #[cfg(feature = "redis")]
    Redis,
}

/// What a `persist = <expression>` may evaluate to: a [`Persist`], or an
/// `Option<Persist>` where `None` keeps the function in memory only.
#[diagnostic::on_unimplemented(
    message = "`persist = <expression>` must evaluate to a `Persist` or an `Option<Persist>`, not `{Self}`",
    label = "this evaluates to `{Self}`",
    note = "e.g. `persist = Persist::Disk`, `persist = Persist::auto()`, or `None::<Persist>` to cache in memory only"
)]
pub trait IntoPersist {
    /// The tier, if any.
    fn into_persist(self) -> Option<Persist>;
}

impl IntoPersist for Persist {
    fn into_persist(self) -> Option<Persist> {
        Some(self)
    }
}

impl IntoPersist for Option<Persist> {
    fn into_persist(self) -> Option<Persist> {
        self
    }
}

/// How a cached function is configured: the macro arguments, resolved once at
/// its first call and passed down from there.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct Config {
    /// Entries expire this long after they were written; reads do not extend it.
    pub ttl: Option<Duration>,
    /// At most this many entries in memory; the least recently used one is evicted.
    pub max_entries: Option<u64>,
    /// The persistent tier behind memory, if any.
    pub persist: Option<Persist>,
    /// At most this many bytes of values in memory (each value weighed by
    /// its serialized size, or by the function's `size_with`); the least
    /// recently used ones are evicted.
    pub max_size: Option<u64>,
    /// `refresh_mode = "background"`: how long past its `ttl` a value is
    /// still served (while it is refreshed behind); `None` in foreground mode.
    pub stale_for: Option<Duration>,
    /// Whether entries are shared or kept per session.
    pub scope: Scope,
    /// What a miss shows while it computes.
    pub spinner: Spinner,
    /// Whether the spinner shows the time elapsed (`show_time = true`).
    pub show_time: bool,
}

impl Config {
    /// A configuration from the macro's arguments.
    pub const fn new(
        ttl: Option<Duration>,
        max_entries: Option<u64>,
        persist: Option<Persist>,
    ) -> Self {
        Self {
            ttl,
            max_entries,
            persist,
            max_size: None,
            stale_for: None,
            scope: Scope::Global,
            spinner: Spinner::Default,
            show_time: false,
        }
    }

    /// The same configuration in `refresh_mode = "background"`: values are
    /// served up to `max_stale` past their `ttl` (by default one more `ttl`,
    /// Streamlit's hard deadline of twice the `ttl`) while they are refreshed.
    pub const fn with_background_refresh(self, max_stale: Option<Duration>) -> Self {
        let stale_for = match max_stale {
            Some(max_stale) => Some(max_stale),
            None => self.ttl,
        };
        Self { stale_for, ..self }
    }

    /// The same configuration with entries kept per session
    /// (`scope = "session"`).
    pub const fn with_session_scope(self) -> Self {
        Self {
            scope: Scope::Session,
            ..self
        }
    }

    /// The same configuration with `show_spinner` / `show_time`.
    pub const fn with_spinner(self, spinner: Spinner, show_time: bool) -> Self {
        Self {
            spinner,
            show_time,
            ..self
        }
    }

    /// The same configuration, bounded to `max_size` bytes in memory.
    pub const fn with_max_size(self, max_size: Option<u64>) -> Self {
        Self { max_size, ..self }
    }
}

/// Why an entry left memory on its own (not by a clear or an invalidate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Eviction {
    /// Its `ttl` passed.
    Ttl,
    /// `max_entries` made room for a newer entry.
    MaxEntries,
    /// `max_size` made room for a newer entry.
    MaxSize,
    /// A resource's `validate` rejected it.
    Validate,
    /// The process-wide memory budget made room for a newer entry.
    Budget,
}

/// Where a persistent value was found, for counters and call records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    Disk,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Redis,
}
