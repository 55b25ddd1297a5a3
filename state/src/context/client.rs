//! The browser-reported fields, read from the cookie the shipped script sets.

use std::fmt;

use super::locale::canonical_tag;

/// The colour scheme the browser prefers (`prefers-color-scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Theme {
    /// A light background.
    Light,
    /// A dark background.
    Dark,
}

impl Theme {
    /// `"light"` or `"dark"`, as Streamlit's `st.context.theme.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the script reported. Every field is checked; garbage is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientInfo {
    pub(crate) timezone: Option<String>,
    pub(crate) timezone_offset: Option<i32>,
    pub(crate) theme: Option<Theme>,
    pub(crate) locale: Option<String>,
}

impl ClientInfo {
    /// Parses a cookie value such as `tz=Europe%2FParis&tzo=-60&theme=dark&lang=fr-FR`.
    /// Unknown fields are ignored; a repeated field keeps its last value.
    pub(crate) fn parse(value: &str) -> Self {
        let mut info = Self::default();
        // Cap the work on a hostile cookie; the real one has four fields.
        for (key, value) in form_urlencoded::parse(value.as_bytes()).take(16) {
            match &*key {
                "tz" => info.timezone = valid_timezone(&value),
                "tzo" => info.timezone_offset = valid_offset(&value),
                "theme" => {
                    info.theme = match &*value {
                        "light" => Some(Theme::Light),
                        "dark" => Some(Theme::Dark),
                        _ => None,
                    }
                }
                "lang" => info.locale = canonical_tag(&value).filter(|t| t != "*"),
                _ => {}
            }
        }
        info
    }
}

/// An IANA name such as `Europe/Paris`, `America/Argentina/Buenos_Aires`,
/// `Etc/GMT+5` or `UTC`.
fn valid_timezone(value: &str) -> Option<String> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && value
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && value.as_bytes()[0].is_ascii_alphabetic();
    ok.then(|| value.to_owned())
}

/// Minutes, JavaScript's `getTimezoneOffset` (UTC − local); less than a day.
fn valid_offset(value: &str) -> Option<i32> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|m: &i32| m.abs() < 24 * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_script_cookie() {
        let info = ClientInfo::parse("tz=Europe%2FParis&tzo=-60&theme=dark&lang=fr-FR");
        assert_eq!(info.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(info.timezone_offset, Some(-60));
        assert_eq!(info.theme, Some(Theme::Dark));
        assert_eq!(info.locale.as_deref(), Some("fr-FR"));
    }

    #[test]
    fn garbage_is_none() {
        let info = ClientInfo::parse("tz=..%2Fetc&tzo=1e3&theme=blue&lang=%3Cscript%3E&tz=&x");
        assert_eq!(info, ClientInfo::default());
        assert_eq!(ClientInfo::parse("tzo=99999").timezone_offset, None);
        assert_eq!(ClientInfo::parse("tzo=+60").timezone_offset, None);
        assert_eq!(ClientInfo::parse("tzo=330").timezone_offset, Some(330));
        assert_eq!(
            ClientInfo::parse("tz=Etc%2FGMT%2B5").timezone.as_deref(),
            Some("Etc/GMT+5")
        );
    }
}
