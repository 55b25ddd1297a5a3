//! `Accept-Language` parsing and locale negotiation with fallback.

use std::fmt;

/// Entries past this many in one `Accept-Language` header are ignored.
const MAX_RANGES: usize = 64;

/// One entry of an `Accept-Language` header: a language tag (or `*`) and its
/// quality.
#[derive(Debug, Clone, PartialEq)]
pub struct LanguageRange {
    tag: String,
    quality: f32,
}

impl LanguageRange {
    /// The tag in canonical case (`en-US`, `zh-Hant-TW`), or `*`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The quality, in `(0, 1]` (entries with `q=0` are dropped).
    pub fn quality(&self) -> f32 {
        self.quality
    }

    /// Whether this is the `*` wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.tag == "*"
    }

    pub(crate) fn new(tag: String, quality: f32) -> Self {
        Self { tag, quality }
    }
}

impl fmt::Display for LanguageRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};q={}", self.tag, self.quality)
    }
}

/// Parses an `Accept-Language` header into its entries, best first.
///
/// Entries are sorted by quality (stable: equal qualities keep header order).
/// Tags are put in canonical case (`EN-us` → `en-US`, `_` is read as `-`).
/// Malformed entries (bad tag, bad `q`) and `q=0` entries are skipped, never
/// an error; at most 64 entries are read.
///
/// # Examples
///
/// ```
/// use state::context::parse_accept_language;
///
/// let ranges = parse_accept_language("fr-CH;q=0.8, en-us, *;q=0.1, ??;q=0.9, de;q=0");
/// let tags: Vec<_> = ranges.iter().map(|r| r.tag()).collect();
/// assert_eq!(tags, ["en-US", "fr-CH", "*"]);
/// assert_eq!(ranges[1].quality(), 0.8);
/// ```
pub fn parse_accept_language(header: &str) -> Vec<LanguageRange> {
    let mut ranges: Vec<LanguageRange> = header
        .split(',')
        .take(MAX_RANGES)
        .filter_map(parse_range)
        .collect();
    ranges.sort_by(|a, b| b.quality.total_cmp(&a.quality));
    ranges
}

fn parse_range(entry: &str) -> Option<LanguageRange> {
    let mut params = entry.split(';');
    let tag = canonical_tag(params.next()?.trim())?;
    let mut quality = 1.0;
    for param in params {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            quality = parse_quality(value.trim())?;
        }
    }
    (quality > 0.0).then(|| LanguageRange::new(tag, quality))
}

/// RFC 9110 `qvalue`: `0`–`1` with at most three decimals.
fn parse_quality(value: &str) -> Option<f32> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let valid =
        matches!(int, "0" | "1") && frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit());
    let q: f32 = value.parse().ok()?;
    (valid && (0.0..=1.0).contains(&q)).then_some(q)
}

/// Checks a BCP 47-shaped tag (`*`, or 1–8 letters then `-`-separated 1–8
/// alphanumeric subtags) and puts it in canonical case.
pub(crate) fn canonical_tag(tag: &str) -> Option<String> {
    if tag == "*" {
        return Some(tag.to_owned());
    }
    if tag.is_empty() || tag.len() > 64 {
        return None;
    }
    let mut out = String::with_capacity(tag.len());
    for (i, sub) in tag.split(['-', '_']).enumerate() {
        let ok_len = (1..=8).contains(&sub.len());
        let ok_chars = if i == 0 {
            sub.bytes().all(|b| b.is_ascii_alphabetic())
        } else {
            sub.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !ok_len || !ok_chars {
            return None;
        }
        if i > 0 {
            out.push('-');
        }
        let alpha = sub.bytes().all(|b| b.is_ascii_alphabetic());
        match (i, sub.len()) {
            (0, _) => out.push_str(&sub.to_ascii_lowercase()),
            (_, 2) if alpha => out.push_str(&sub.to_ascii_uppercase()),
            (_, 4) if alpha => {
                out.push_str(&sub[..1].to_ascii_uppercase());
                out.push_str(&sub[1..].to_ascii_lowercase());
            }
            _ => out.push_str(&sub.to_ascii_lowercase()),
        }
    }
    Some(out)
}

/// Picks the best of the `supported` locales for the client's `ranges`
/// (best first, as [`parse_accept_language`] returns them).
///
/// 1. For each range in order, RFC 4647 *lookup*: the tag, then the tag with
///    its last subtag removed, and so on (`de-CH-1996` → `de-CH` → `de`),
///    compared case-insensitively.
/// 2. If nothing matched, for each range in order, the first supported locale
///    with the same primary language (`en-US` accepts `en-GB`).
/// 3. If nothing matched and there is a `*` range, the first supported locale.
///    (A wildcard never beats a language the client named, whatever its
///    quality.)
///
/// Returns `None` when nothing matches: use the app's default.
///
/// # Examples
///
/// ```
/// use state::context::{negotiate, parse_accept_language};
///
/// let supported = ["en", "fr", "pt-BR"];
/// let best = |header| negotiate(&parse_accept_language(header), &supported);
/// assert_eq!(best("en-US,fr;q=0.5"), Some("en"));   // en-US → en
/// assert_eq!(best("de, fr-CA;q=0.7"), Some("fr"));  // de unsupported; fr-CA → fr
/// assert_eq!(best("pt-PT"), Some("pt-BR"));         // same language, other region
/// assert_eq!(best("ja"), None);
/// ```
pub fn negotiate<'s, S: AsRef<str>>(
    ranges: &[LanguageRange],
    supported: &'s [S],
) -> Option<&'s str> {
    let find = |tag: &str| {
        supported
            .iter()
            .map(AsRef::as_ref)
            .find(|s| s.eq_ignore_ascii_case(tag))
    };
    for range in ranges.iter().filter(|r| !r.is_wildcard()) {
        let mut candidate = range.tag();
        loop {
            if let Some(found) = find(candidate) {
                return Some(found);
            }
            match candidate.rfind('-') {
                Some(i) => {
                    candidate = &candidate[..i];
                    // RFC 4647: also drop a single-letter subtag left at the end.
                    if candidate.len() >= 2 && candidate.as_bytes()[candidate.len() - 2] == b'-' {
                        candidate = &candidate[..candidate.len() - 2];
                    }
                }
                None => break,
            }
        }
    }
    for range in ranges.iter().filter(|r| !r.is_wildcard()) {
        let primary = primary_language(range.tag());
        if let Some(found) = supported
            .iter()
            .map(AsRef::as_ref)
            .find(|s| primary_language(s).eq_ignore_ascii_case(primary))
        {
            return Some(found);
        }
    }
    if ranges.iter().any(LanguageRange::is_wildcard) {
        return supported.first().map(AsRef::as_ref);
    }
    None
}

fn primary_language(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or(tag)
}
