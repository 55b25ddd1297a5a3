//! Per-browser session state with compile-time checked keys: the Rust
//! counterpart of Streamlit's `st.session_state`.
//!
//! * Declare keys with [`state_keys!`](crate::state_keys): each is a typed
//!   [`StateKey<T>`] constant with a default, so a misspelt key or a value of the
//!   wrong type does not compile.
//! * Install a [`SessionLayer`] over a [`SessionStore`] ([`MemoryStore`], or
//!   `RedisStore` with the `redis` feature to share sessions between replicas)
//!   and extract [`Session`] in handlers.
//! * Reads are lazy, writes go to the store per key, and
//!   [`Session::update`] is an atomic read-modify-write in the store, so
//!   concurrent requests of one session never lose each other's writes.
//!
//! The crate-level docs have a complete example; see [`Session`] for the
//! guarantees and [`SessionLayer`] for the cookie.

mod counts;
mod error;
mod handle;
mod id;
mod key;
mod layer;
mod memory;
#[cfg(feature = "redis")]
mod redis_store;
mod shared;
mod store;

pub use cookie::{Key, SameSite};
pub use counts::{SessionCounts, session_counts};
pub use error::{MissingSessionLayer, SessionError};
pub use handle::Session;
pub use id::{ParseSessionIdError, SessionId};
#[doc(hidden)]
pub use key::__private;
pub use key::{RESERVED_PREFIX, StateKey, StateValue};
pub use layer::{
    DEFAULT_COOKIE_NAME, DEFAULT_MAX_SESSION_BYTES, DEFAULT_MAX_VALUE_BYTES, SessionLayer,
    SessionService,
};
pub use memory::{DEFAULT_IDLE_TIMEOUT, MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "redis")]
pub use redis_store::{DEFAULT_KEY_PREFIX, RedisStore};
pub use store::{EndReason, ExpiryListener, Record, SessionStore, UpdateFn, entry_size};
