//! `Accept-Language` parsing (qualities, wildcards, garbage) and negotiation.

use http::Request;
use state::context::{Context, ContextConfig, negotiate, parse_accept_language};

fn tags(header: &str) -> Vec<(String, f32)> {
    parse_accept_language(header)
        .iter()
        .map(|r| (r.tag().to_owned(), r.quality()))
        .collect()
}

fn t(tag: &str, q: f32) -> (String, f32) {
    (tag.to_owned(), q)
}

#[test]
fn sorted_by_quality_stable_for_ties() {
    assert_eq!(
        tags("da, en-gb;q=0.8, en;q=0.7"),
        [t("da", 1.0), t("en-GB", 0.8), t("en", 0.7)]
    );
    assert_eq!(
        tags("fr;q=0.5, de;q=0.9, it;q=0.5, es"),
        [t("es", 1.0), t("de", 0.9), t("fr", 0.5), t("it", 0.5)]
    );
    assert_eq!(tags("en;Q=0.5"), [t("en", 0.5)]);
    assert_eq!(tags(" en-US ; q=1.000 "), [t("en-US", 1.0)]);
}

#[test]
fn canonical_case_and_underscores() {
    assert_eq!(
        tags("EN-us, zh_hant_tw, sr-LATN-rs, de-CH-1996"),
        [
            t("en-US", 1.0),
            t("zh-Hant-TW", 1.0),
            t("sr-Latn-RS", 1.0),
            t("de-CH-1996", 1.0)
        ]
    );
}

#[test]
fn wildcards_are_kept_and_q_zero_dropped() {
    assert_eq!(tags("*;q=0.1, fr"), [t("fr", 1.0), t("*", 0.1)]);
    assert_eq!(tags("en;q=0, fr;q=0.0"), []);
}

#[test]
fn garbage_is_skipped_never_an_error() {
    for header in [
        "",
        ",,,",
        ";q=1",
        "en;q=2",
        "en;q=-1",
        "en;q=0.1234",
        "en;q=abc",
        "en;q",
        "toolonglanguage",
        "e1",
        "en--US",
        "en-",
        "<script>",
        "en US",
        "\u{0}",
    ] {
        assert_eq!(tags(header), [], "{header:?}");
    }
    assert_eq!(
        tags("??, fr;q=0.3, en;q=x, de"),
        [t("de", 1.0), t("fr", 0.3)]
    );
    // A huge header is bounded.
    let huge = vec!["en"; 10_000].join(",");
    assert_eq!(parse_accept_language(&huge).len(), 64);
}

#[test]
fn negotiation_falls_back_from_region_to_language() {
    let supported = ["en", "fr", "de-CH", "pt-BR"];
    let best = |header: &str| negotiate(&parse_accept_language(header), &supported);
    assert_eq!(best("en-US"), Some("en"));
    assert_eq!(best("EN-us"), Some("en"));
    assert_eq!(best("de-CH-1996"), Some("de-CH"));
    assert_eq!(best("zh-Hant-TW-x-private"), None);
    assert_eq!(best("ja, fr-CA;q=0.5, en;q=0.4"), Some("fr"));
    // Quality order wins over header order.
    assert_eq!(best("en;q=0.2, fr"), Some("fr"));
    // Same language, another region, when nothing matches exactly.
    assert_eq!(best("pt-PT"), Some("pt-BR"));
    assert_eq!(best("de"), Some("de-CH"));
    // Lookup beats the same-language pass, even from a lower-quality range.
    assert_eq!(best("pt-PT, en;q=0.5"), Some("en"));
    // The wildcard takes the first supported, only when nothing named matches.
    assert_eq!(best("ja, *;q=0.1"), Some("en"));
    assert_eq!(best("*, fr;q=0.1"), Some("fr"));
    assert_eq!(best("ja"), None);
    assert_eq!(best(""), None);
    assert_eq!(negotiate::<&str>(&parse_accept_language("*"), &[]), None);
}

#[test]
fn context_locale_is_the_best_entry() {
    let build = |value: &str| {
        let (parts, ()) = Request::builder()
            .header("Accept-Language", value)
            .header("Cookie", "st_ctx=lang=it-IT")
            .body(())
            .unwrap()
            .into_parts();
        Context::from_parts(&parts, &ContextConfig::default())
    };
    let c = build("*, en-us;q=0.9");
    assert_eq!(c.locale(), Some("en-US"));
    assert_eq!(c.negotiate_locale(&["en-GB", "en"]), Some("en"));
    assert_eq!(c.languages().len(), 2);
    // With only a wildcard or garbage, the script's language is used.
    assert_eq!(build("*").locale(), Some("it-IT"));
    assert_eq!(build("@@@").locale(), Some("it-IT"));
    assert_eq!(build("@@@").negotiate_locale(&["it"]), Some("it"));
}
