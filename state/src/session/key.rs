//! Typed keys: [`StateKey`] and the [`state_keys!`](crate::state_keys) macro.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::SessionError;

/// The prefix reserved for the session's own bookkeeping fields in a store.
///
/// Stored names must not begin with it (the same rule as Streamlit's reserved
/// `$$ID` prefix); [`state_keys!`](crate::state_keys) rejects such names at
/// compile time.
pub const RESERVED_PREFIX: &str = "$$";

/// A type that can be kept in session state.
///
/// Implemented for every `T: Serialize + DeserializeOwned + Send + Sync + 'static`;
/// values are stored as JSON, so any serde-compatible type works. There is no
/// need (and no way) to implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be kept in session state",
    label = "session values must implement `Serialize + DeserializeOwned + Send + Sync + 'static`",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to `{Self}`, or store a serde-compatible representation of it"
)]
pub trait StateValue: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T> StateValue for T where T: Serialize + DeserializeOwned + Send + Sync + 'static {}

/// A typed, declared session-state key: its stored name, value type and default.
///
/// Keys are made by [`state_keys!`](crate::state_keys), which declares each one as a
/// `static`. Every [`Session`](super::Session) method takes `&StateKey<T>` and
/// returns or accepts a `T`, so a misspelt key or a value of the wrong type does
/// not compile.
///
/// # Stored name
///
/// A key is stored under its identifier exactly as written (`VISITS` is stored as
/// `"VISITS"`), or under the string given with `=> "name"`. The module path is
/// deliberately *not* part of the name: moving a declaration to another module
/// must not orphan every stored session. Two distinct keys sharing a stored name
/// are rejected:
///
/// * inside one `state_keys!` block, at compile time;
/// * across blocks, on the first use of the second key (or when
///   [`StateKey::register`] is called at start-up): every operation on it fails
///   with [`SessionError::DuplicateKeyName`], so the two are never mixed.
pub struct StateKey<T> {
    name: &'static str,
    default: fn() -> T,
    registered: OnceLock<Result<(), &'static str>>,
    _value: PhantomData<fn() -> T>,
}

impl<T: StateValue> StateKey<T> {
    /// A fresh copy of the key's default value.
    pub fn default_value(&self) -> T {
        (self.default)()
    }

    /// Registers the key in the process-wide registry of stored names.
    ///
    /// Every session operation does this implicitly on a key's first use; call it
    /// at start-up to surface a clash before serving traffic.
    ///
    /// # Errors
    ///
    /// [`SessionError::DuplicateKeyName`] when another key (another `static`)
    /// already uses the same stored name.
    pub fn register(&'static self) -> Result<(), SessionError> {
        self.check()
    }

    pub(crate) fn check(&self) -> Result<(), SessionError> {
        let outcome = self.registered.get_or_init(|| {
            let address = std::ptr::from_ref(self).cast::<()>() as usize;
            let mut registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
            let entry = registry
                .entry(self.name)
                .or_insert((address, std::any::type_name::<T>()));
            if entry.0 == address {
                Ok(())
            } else {
                tracing::error!(
                    key = self.name,
                    first = entry.1,
                    second = std::any::type_name::<T>(),
                    "two session-state keys share one stored name; the second is rejected"
                );
                Err(entry.1)
            }
        });
        outcome.map_err(|first| SessionError::DuplicateKeyName {
            name: self.name,
            first_type: first,
            second_type: std::any::type_name::<T>(),
        })
    }
}

impl<T> StateKey<T> {
    /// Used by [`state_keys!`](crate::state_keys), which checks `T: StateValue`
    /// separately for a clearer error; not public API.
    #[doc(hidden)]
    pub const fn __new(name: &'static str, default: fn() -> T) -> Self {
        Self {
            name,
            default,
            registered: OnceLock::new(),
            _value: PhantomData,
        }
    }

    /// The name this key is stored under (see "Stored name" above).
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> fmt::Debug for StateKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKey")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

type Registry = Mutex<HashMap<&'static str, (usize, &'static str)>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// Compile-time checks used by [`state_keys!`](crate::state_keys); not public API.
#[doc(hidden)]
pub mod __private {
    use super::StateValue;

    /// Fails to compile, with [`StateValue`]'s explanation, unless `T` can be kept in session state.
    pub const fn assert_state_value<T: StateValue>() {}

    /// Panics (a compile error in a `const`) on an invalid or repeated stored name.
    pub const fn check_names(names: &[&str]) {
        let mut i = 0;
        while i < names.len() {
            let name = names[i].as_bytes();
            if name.is_empty() {
                panic!("a session-state key's stored name must not be empty");
            }
            if name.len() >= 2 && name[0] == b'$' && name[1] == b'$' {
                panic!(
                    "stored names beginning with `$$` are reserved for the session's own fields"
                );
            }
            let mut j = i + 1;
            while j < names.len() {
                if bytes_eq(name, names[j].as_bytes()) {
                    panic!(
                        "two keys in this `state_keys!` block share a stored name: rename one, or give it another name with `=> \"name\"`"
                    );
                }
                j += 1;
            }
            i += 1;
        }
    }

    const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// Declares typed session-state keys.
///
/// Each line declares a `static` [`StateKey`]: visibility, name, value type, an
/// optional default (`= expr`; otherwise `Default::default()`) and an optional
/// stored name (`=> "name"`; otherwise the identifier). Doc comments and other
/// attributes are kept.
///
/// ```
/// use state::state_keys;
///
/// state_keys! {
///     /// Pages viewed in this browser session.
///     pub VISITS: u64 = 0;
///     /// The signed-in user, if any.
///     pub USER: Option<String>;
///     /// Stored as `"ui.theme"`, so the constant can be renamed freely.
///     pub(crate) THEME: String = "light".to_owned() => "ui.theme";
/// }
///
/// assert_eq!(VISITS.name(), "VISITS");
/// assert_eq!(THEME.name(), "ui.theme");
/// assert_eq!(USER.default_value(), None);
/// ```
///
/// Two keys of one block with the same stored name do not compile, nor does a
/// value type that is not `Serialize + DeserializeOwned + Send + Sync + 'static`.
#[macro_export]
macro_rules! state_keys {
    ($(
        $(#[$attr:meta])*
        $vis:vis $name:ident : $ty:ty $(= $default:expr)? $(=> $stored:literal)?
    );+ $(;)?) => {
        $(
            $(#[$attr])*
            $vis static $name: $crate::session::StateKey<$ty> =
                $crate::session::StateKey::<$ty>::__new(
                    $crate::__state_key_name!($name $(, $stored)?),
                    {
                        fn __default() -> $ty {
                            $crate::__state_key_default!($ty $(, $default)?)
                        }
                        __default
                    },
                );
        )+
        $(const _: () = $crate::session::__private::assert_state_value::<$ty>();)+
        const _: () = $crate::session::__private::check_names(
            &[$($crate::__state_key_name!($name $(, $stored)?)),+]
        );
    };
}

/// Implementation detail of [`state_keys!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __state_key_name {
    ($name:ident) => {
        ::core::stringify!($name)
    };
    ($name:ident, $stored:literal) => {
        $stored
    };
}

/// Implementation detail of [`state_keys!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __state_key_default {
    ($ty:ty) => {
        <$ty as ::core::default::Default>::default()
    };
    ($ty:ty, $default:expr) => {
        $default
    };
}
