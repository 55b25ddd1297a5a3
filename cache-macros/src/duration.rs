//! `ttl = "1h30m"`: durations with units, checked at compile time.

/// Parses `"90s"`, `"10m"`, `"1h30m"`, `"1.5h"`, `"250ms"`, `"1d"`, `"2w"`
/// (spaces allowed between parts) into nanoseconds.
pub(crate) fn parse(text: &str) -> Result<u128, String> {
    const UNITS: &[(&[&str], u128)] = &[
        (&["ns"], 1),
        (&["us", "µs"], 1_000),
        (&["ms"], 1_000_000),
        (&["s", "sec", "secs", "second", "seconds"], 1_000_000_000),
        (&["m", "min", "mins", "minute", "minutes"], 60_000_000_000),
        (&["h", "hr", "hrs", "hour", "hours"], 3_600_000_000_000),
        (&["d", "day", "days"], 86_400_000_000_000),
        (&["w", "week", "weeks"], 604_800_000_000_000),
    ];
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty duration; write e.g. \"90s\", \"10m\" or \"1h30m\"".into());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() {
            return Err(format!(
                "expected a number at `{rest}`; write e.g. \"90s\", \"10m\" or \"1h30m\""
            ));
        }
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        if unit.is_empty() {
            return Err(format!(
                "`{number}` has no unit; add one, e.g. \"{number}s\" (units: ms, s, m, h, d, w)"
            ));
        }
        let Some(&(_, nanos_per_unit)) = UNITS.iter().find(|(names, _)| names.contains(&unit))
        else {
            return Err(format!(
                "unknown unit `{unit}`; expected one of ms, s, m, h, d, w"
            ));
        };
        total = total
            .checked_add(scale(number, nanos_per_unit).map_err(|error| match error {
                ScaleError::NotANumber => format!("`{number}` is not a number"),
                ScaleError::TooLarge => "duration is too long".to_string(),
            })?)
            .ok_or_else(|| "duration is too long".to_string())?;
    }
    Ok(total)
}

/// Why [`scale`] failed.
#[derive(Debug, PartialEq)]
pub(crate) enum ScaleError {
    NotANumber,
    TooLarge,
}

/// `number` (digits, maybe with a `.` and a fraction) times `unit`, rounded
/// down, exactly (the fraction is its digits over their power of ten, so a
/// unit such as 1024 loses nothing either). Shared by durations and sizes.
pub(crate) fn scale(number: &str, unit: u128) -> Result<u128, ScaleError> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(ScaleError::NotANumber);
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| ScaleError::TooLarge)?
    };
    let scaled = whole.checked_mul(unit).ok_or(ScaleError::TooLarge)?;
    let mut numerator: u128 = 0;
    let mut denominator: u128 = 1;
    // Digits past the 20th are worth less than 10^-20 of a unit (and would
    // overflow the numerator times a week in nanoseconds): ignored.
    for digit in fraction.chars().take(20) {
        let digit = digit.to_digit(10).ok_or(ScaleError::NotANumber)?;
        numerator = numerator * 10 + u128::from(digit);
        denominator *= 10;
    }
    scaled
        .checked_add(numerator.checked_mul(unit).ok_or(ScaleError::TooLarge)? / denominator)
        .ok_or(ScaleError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_units_and_compounds() {
        assert_eq!(parse("90s"), Ok(90_000_000_000));
        assert_eq!(parse("10m"), Ok(600_000_000_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse("1h 30m"), Ok(5_400_000_000_000));
        assert_eq!(parse("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse("1d"), Ok(86_400_000_000_000));
        assert_eq!(parse("250ms"), Ok(250_000_000));
        assert_eq!(parse("0.5s"), Ok(500_000_000));
        assert_eq!(
            parse("0.99999999999m"),
            Ok(59_999_999_999),
            "exact, rounded down"
        );
        assert_eq!(
            parse("1.123456789012345678901234567890s"),
            Ok(1_123_456_789)
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("10").unwrap_err().contains("no unit"));
        assert!(parse("10x").unwrap_err().contains("unknown unit"));
        assert!(parse("").is_err());
        assert!(parse("m").is_err());
        assert!(parse("1..2s").is_err());
    }
}
