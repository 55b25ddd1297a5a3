//! What generated code gives a persistent function: how its values are
//! written and read back.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Checked for the value of a `persist` function.
#[diagnostic::on_unimplemented(
    message = "`persist` stores `{Self}` outside the process, so it must implement `Serialize` and `DeserializeOwned`",
    label = "this value is written to the persistent tier",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it, or remove `persist` to cache in memory only"
)]
pub trait PersistValue: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> PersistValue for T {}

/// How a persistent function's values are encoded for its tier.
#[derive(Debug)]
pub struct Persistence<V> {
    pub(crate) encode: fn(&V) -> Result<Vec<u8>, postcard::Error>,
    pub(crate) decode: fn(&[u8]) -> Result<V, postcard::Error>,
}

impl<V: PersistValue> Persistence<V> {
    /// Postcard encoding.
    pub const fn postcard() -> Self {
        Self {
            encode: |value| postcard::to_allocvec(value),
            decode: |bytes| postcard::from_bytes(bytes),
        }
    }
}
