//! Session ids: 128 bits from the operating system's random source.

use std::fmt;
use std::str::FromStr;

/// A session id: 128 bits from the operating system's random source
/// (`getrandom`), written as 32 lowercase hexadecimal digits in the cookie and in
/// store keys.
///
/// `Debug` shows only the first eight digits, so ids logged with `{:?}` cannot be
/// replayed; `Display` shows the whole id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(u128);

impl SessionId {
    /// A new random id.
    ///
    /// # Panics
    ///
    /// When the operating system's random source fails, which `getrandom`
    /// reports only on broken platforms; a predictable id would be worse.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the OS random source failed; cannot mint a session id");
        Self(u128::from_le_bytes(bytes))
    }

    /// Parses the 32-digit lowercase hexadecimal form; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = self.to_string();
        write!(f, "SessionId({}…)", &full[..8])
    }
}

/// The error of [`SessionId::from_str`]: the text is not 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a session id is 32 lowercase hexadecimal digits")]
pub struct ParseSessionIdError;

impl FromStr for SessionId {
    type Err = ParseSessionIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text).ok_or(ParseSessionIdError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let id = SessionId::random();
        assert_eq!(SessionId::parse(&id.to_string()), Some(id));
        assert_ne!(SessionId::random(), id);
        for bad in [
            "",
            "xyz",
            &"A".repeat(32),
            &"0".repeat(31),
            &"0".repeat(33),
            "+0000000000000000000000000000000",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
        let debug = format!("{id:?}");
        assert!(
            !debug.contains(&id.to_string()),
            "{debug} must not reveal the whole id"
        );
        assert!(
            debug.starts_with("SessionId(") && debug.contains(&id.to_string()[..8]),
            "{debug}"
        );
    }
}
