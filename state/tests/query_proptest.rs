//! Property tests: any strings survive parse → to_string → parse, and the
//! parser never panics on any input.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use state::query::{self, QueryMap};

/// Case counts keep each test to a few seconds in a debug build (the tests
/// run in parallel); the never-panic test gets the most.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any Unicode, with the characters that matter for encoding made frequent.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z&=+% ?#;/é😀\\[\\]\"]{0,12}",]
}

fn non_embed_key() -> impl Strategy<Value = String> {
    text().prop_filter("embed keys are reserved", |k| {
        !k.eq_ignore_ascii_case("embed") && !k.eq_ignore_ascii_case("embed_options")
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Typed {
    name: String,
    // An empty `Vec` writes nothing, so it needs a default to read back.
    #[serde(default)]
    tags: Vec<String>,
    page: Option<u32>,
    ratio: f64,
    flag: bool,
    level: i16,
    note: Option<String>,
}

fn typed() -> impl Strategy<Value = Typed> {
    (
        text(),
        prop::collection::vec(text(), 0..5),
        any::<Option<u32>>(),
        any::<f64>().prop_filter("NaN != NaN", |f| !f.is_nan()),
        any::<bool>(),
        any::<i16>(),
        // `Some("")` is written `note=` and read back as `None` (documented).
        prop::option::of(text().prop_filter("non-empty", |s| !s.is_empty())),
    )
        .prop_map(|(name, tags, page, ratio, flag, level, note)| Typed {
            name,
            tags,
            page,
            ratio,
            flag,
            level,
            note,
        })
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn typed_structs_round_trip(value in typed()) {
        let s = query::to_string(&value).unwrap();
        let back: Typed = query::from_str(&s).unwrap();
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(query::to_string(&back).unwrap(), s);
    }

}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn maps_round_trip(pairs in prop::collection::vec((non_embed_key(), prop::collection::vec(text(), 1..4)), 0..8)) {
        let mut map = QueryMap::new();
        for (k, vs) in &pairs {
            map.set(k.clone(), vs.clone()).unwrap();
        }
        let s = map.to_string();
        let back = QueryMap::parse(&s).unwrap();
        prop_assert_eq!(&back, &map);
        prop_assert_eq!(back.to_string(), s);
        // The last `set` of a key decides its values.
        let mut last: BTreeMap<&str, &[String]> = BTreeMap::new();
        for (k, vs) in &pairs {
            last.insert(k, vs);
        }
        prop_assert_eq!(back.len(), last.len());
        for (k, vs) in last {
            prop_assert_eq!(back.get_all(k), vs);
            prop_assert_eq!(back.get(k), vs.last().map(String::as_str));
        }
    }

    #[test]
    fn pairs_survive_and_group_like_a_multimap(pairs in prop::collection::vec((non_embed_key(), text()), 0..10)) {
        let s = form_encode(&pairs);
        let map = QueryMap::parse(&s).unwrap();
        let mut expected: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in &pairs {
            expected.entry(k.as_str()).or_default().push(v.as_str());
        }
        prop_assert_eq!(map.len(), expected.len());
        for (k, vs) in &expected {
            prop_assert_eq!(map.get_all(k), vs.as_slice());
        }
        let typed: BTreeMap<String, Vec<String>> = query::from_str(&s).unwrap();
        prop_assert_eq!(typed.len(), expected.len());
    }

}

proptest! {
    #![proptest_config(config(8000))]

    #[test]
    fn parsers_never_panic(raw in prop_oneof![any::<String>(), "[a-z0-9&=+%;?#\\[\\] ]{0,64}", "(%[0-9A-Fa-f]{0,2}|[&=+]|[a-z]){0,40}"]) {
        let _ = QueryMap::parse(&raw);
        let _ = query::from_str::<Typed>(&raw);
        let _ = query::from_str::<BTreeMap<String, Vec<String>>>(&raw);
        let _ = query::from_str::<BTreeMap<String, u8>>(&raw);
        if let Ok(uri) = format!("/p?{raw}").parse::<http::Uri>() {
            let _ = query::url_with(&uri, |q| q.set("page", "2"));
        }
    }
}

fn form_encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}
