//! `max_size = "256MiB"`: byte sizes with units, checked at compile time, as
//! Streamlit reads them.

use crate::duration::{ScaleError, scale};

/// Parses `"256MiB"`, `"2 gb"`, `"1.1KB"` into bytes. A unit is required
/// (`b`, `kb`/`kib`, `mb`/`mib`, `gb`/`gib`, `tb`/`tib`, any case, every one
/// a power of 1024, as in Streamlit); a space may separate it from the
/// number; fractions round down (`"1.1KB"` is 1126 bytes).
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    const UNITS: &[(&[&str], u128)] = &[
        (&["b"], 1),
        (&["kb", "kib"], 1 << 10),
        (&["mb", "mib"], 1 << 20),
        (&["gb", "gib"], 1 << 30),
        (&["tb", "tib"], 1 << 40),
    ];
    const EXAMPLE: &str = "e.g. \"256MiB\", \"2GB\" or \"512 kb\"";
    let text = text.trim();
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let unit = unit.trim_start().to_ascii_lowercase();
    if number.is_empty() {
        return Err(format!("expected a number first; {EXAMPLE}"));
    }
    if number.len() > 100 {
        return Err("more than 100 digits".to_string());
    }
    if unit.is_empty() {
        return Err(format!(
            "`{number}` has no unit; write bytes as an integer (`max_size = {number}`) or add a unit, {EXAMPLE}"
        ));
    }
    let Some(&(_, per_unit)) = UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit.as_str()))
    else {
        return Err(format!(
            "unknown unit `{unit}`; expected one of b, kb, mb, gb, tb (or kib, mib, gib, tib: all powers of 1024)"
        ));
    };
    let too_large = || "too large: at most 2^64 - 1 bytes".to_string();
    let bytes = scale(number, per_unit).map_err(|error| match error {
        ScaleError::NotANumber => format!("`{number}` is not a number"),
        ScaleError::TooLarge => too_large(),
    })?;
    if bytes == 0 {
        return Err(
            "must be more than 0 bytes; remove `max_size` for a cache unbounded in bytes".into(),
        );
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn binary_units_in_any_case() {
        assert_eq!(parse("256MiB"), Ok(256 << 20));
        assert_eq!(parse("256mb"), Ok(256 << 20));
        assert_eq!(parse("2 GB"), Ok(2 << 30));
        assert_eq!(parse("1tib"), Ok(1 << 40));
        assert_eq!(parse("10b"), Ok(10));
        assert_eq!(parse("1.1KB"), Ok(1126));
        assert_eq!(parse(".5kb"), Ok(512));
        assert_eq!(parse("1.5kb"), Ok(1536));
    }

    #[test]
    fn rejects_what_streamlit_rejects() {
        assert!(parse("500").unwrap_err().contains("no unit"));
        assert!(parse("0mb").unwrap_err().contains("more than 0"));
        assert!(parse("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("mb").unwrap_err().contains("number"));
        assert!(
            parse(&format!("{}b", "1".repeat(101)))
                .unwrap_err()
                .contains("100 digits")
        );
        assert!(parse("99999999999tb").unwrap_err().contains("too large"));
        assert!(parse("1.2.3kb").is_err());
    }
}
