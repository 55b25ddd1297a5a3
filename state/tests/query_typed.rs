//! Typed query parameters: reading and writing serde structs.

use serde::{Deserialize, Serialize};
use state::query::{self, Query, QueryError};

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Filters {
    region: Vec<String>,
    show_all: bool,
    page: Option<u32>,
}

#[test]
fn reads_the_issue_example_and_writes_it_back() {
    let q = "region=asia&region=america&show_all=true";
    let filters: Filters = query::from_str(q).unwrap();
    assert_eq!(
        filters,
        Filters {
            region: vec!["asia".into(), "america".into()],
            show_all: true,
            page: None,
        }
    );
    assert_eq!(query::to_string(&filters).unwrap(), q);
    // A leading `?` is accepted.
    assert_eq!(
        query::from_str::<Filters>(&format!("?{q}")).unwrap(),
        filters
    );
}

#[test]
fn absent_keys_take_defaults_and_empty_option_is_none() {
    assert_eq!(query::from_str::<Filters>("").unwrap(), Filters::default());
    let f: Filters = query::from_str("page=").unwrap();
    assert_eq!(f.page, None);
    let f: Filters = query::from_str("page=7").unwrap();
    assert_eq!(f.page, Some(7));
}

#[test]
fn scalar_takes_the_last_value() {
    #[derive(Deserialize)]
    struct P {
        page: u32,
    }
    assert_eq!(query::from_str::<P>("page=1&page=2").unwrap().page, 2);
}

#[test]
fn bad_value_names_parameter_and_type() {
    let err = query::from_str::<Filters>("page=abc").unwrap_err();
    assert_eq!(
        err,
        QueryError::InvalidValue {
            key: "page".into(),
            expected: "an integer (u32)".into(),
            value: "abc".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        r#"invalid value "abc" for query parameter `page`: expected an integer (u32)"#
    );
    let err = query::from_str::<Filters>("show_all=maybe").unwrap_err();
    assert_eq!(err.key(), Some("show_all"));
    assert!(err.to_string().contains("expected a boolean"), "{err}");

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Ids {
        id: Vec<i64>,
    }
    let err = query::from_str::<Ids>("id=1&id=x").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid value "x" for query parameter `id`: expected an integer (i64)"#
    );
}

#[test]
fn empty_value_for_a_required_number_is_an_error() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct P {
        page: u32,
    }
    let err = query::from_str::<P>("page=").unwrap_err();
    assert_eq!(err.key(), Some("page"));
    let err = query::from_str::<P>("").unwrap_err();
    assert_eq!(err, QueryError::MissingParameter { key: "page".into() });
    assert_eq!(err.to_string(), "missing query parameter `page`");
}

#[test]
fn bool_spellings() {
    #[derive(Deserialize)]
    struct B {
        b: bool,
    }
    for t in ["true", "True", "TRUE", "1", "on", "yes"] {
        assert!(query::from_str::<B>(&format!("b={t}")).unwrap().b, "{t}");
    }
    for f in ["false", "False", "0", "off", "no"] {
        assert!(!query::from_str::<B>(&format!("b={f}")).unwrap().b, "{f}");
    }
    assert!(query::from_str::<B>("b=").is_err());
}

#[test]
fn enums_chars_floats_and_strings() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Sort {
        Asc,
        Desc,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct S {
        sort: Sort,
        initial: char,
        ratio: f64,
        name: String,
        tags: Vec<Option<u8>>,
    }
    let s: S =
        query::from_str("sort=desc&initial=%C3%A9&ratio=-1.5e3&name=&tags=1&tags=&tags=3").unwrap();
    assert_eq!(
        s,
        S {
            sort: Sort::Desc,
            initial: 'é',
            ratio: -1500.0,
            name: String::new(),
            tags: vec![Some(1), None, Some(3)],
        }
    );
    let back = query::to_string(&s).unwrap();
    assert_eq!(
        back,
        "sort=desc&initial=%C3%A9&ratio=-1500&name=&tags=1&tags=&tags=3"
    );
    assert_eq!(query::from_str::<S>(&back).unwrap(), s);

    let err = query::from_str::<S>("sort=up&initial=a&ratio=1&name=x").unwrap_err();
    assert_eq!(err.key(), Some("sort"));
    assert!(err.to_string().contains("unknown variant `up`"), "{err}");
}

#[test]
fn unknown_fields_are_ignored_or_refused() {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        page: Option<u32>,
    }
    let err = query::from_str::<Strict>("pgae=2").unwrap_err();
    assert!(err.to_string().contains("unknown field `pgae`"), "{err}");
    // Embed parameters are never passed to a struct, even a strict one.
    assert!(query::from_str::<Strict>("embed=true&embed_options=dark_theme").is_ok());
    // By default unknown parameters are ignored.
    assert_eq!(
        query::from_str::<Filters>("utm=x").unwrap(),
        Filters::default()
    );
}

#[test]
fn maps_borrowed_strs_and_newtypes() {
    use std::collections::{BTreeMap, HashMap};
    let m: BTreeMap<String, Vec<String>> = query::from_str("a=1&b=2&a=3").unwrap();
    assert_eq!(m["a"], ["1", "3"]);
    let m: HashMap<String, String> = query::from_str("a=1&a=3").unwrap();
    assert_eq!(m["a"], "3");

    #[derive(Deserialize)]
    struct Borrowed<'a> {
        #[serde(borrow)]
        q: std::borrow::Cow<'a, str>,
    }
    assert_eq!(query::from_str::<Borrowed<'_>>("q=a+b").unwrap().q, "a b");

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Page(u32);
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct P {
        page: Page,
    }
    assert_eq!(query::from_str::<P>("page=4").unwrap(), P { page: Page(4) });
    assert_eq!(query::to_string(&P { page: Page(4) }).unwrap(), "page=4");
}

#[test]
fn unsupported_shapes_are_errors_not_panics() {
    #[derive(Debug, Serialize, Deserialize)]
    struct Inner {
        x: u32,
    }
    #[derive(Debug, Serialize, Deserialize)]
    struct Outer {
        inner: Inner,
    }
    let err = query::from_str::<Outer>("inner=1").unwrap_err();
    assert!(matches!(err, QueryError::Unsupported { .. }), "{err}");
    assert_eq!(err.key(), Some("inner"));
    let err = query::to_string(&Outer {
        inner: Inner { x: 1 },
    })
    .unwrap_err();
    assert!(matches!(err, QueryError::Unsupported { .. }), "{err}");
    assert!(query::to_string(&5_u32).is_err());
    assert!(query::from_str::<u32>("5").is_err());
    assert!(query::from_str::<Vec<Vec<u8>>>("a=1").is_err());

    #[derive(Serialize)]
    struct Embedded {
        embed: bool,
    }
    assert!(matches!(
        query::to_string(&Embedded { embed: true }),
        Err(QueryError::EmbedKey { .. })
    ));
}

#[test]
fn encoding_round_trips_special_characters() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        text: String,
    }
    let t = T {
        text: "a&b=c+d%e f/ü😀?#".into(),
    };
    let s = query::to_string(&t).unwrap();
    assert_eq!(s, "text=a%26b%3Dc%2Bd%25e+f%2F%C3%BC%F0%9F%98%80%3F%23");
    assert_eq!(query::from_str::<T>(&s).unwrap(), t);
}

#[test]
fn extractor_constructor_and_url_helpers() {
    let uri: http::Uri = "/list?region=asia&page=2&utm=x&embed=true".parse().unwrap();
    let Query(filters) = Query::<Filters>::try_from_uri(&uri).unwrap();
    assert_eq!(filters.page, Some(2));

    let next = Filters {
        page: None,
        ..filters
    };
    // `page` is removed, `region` rewritten in place, a new key appended,
    // unknown and embed params kept.
    assert_eq!(
        query::url_with_params(&uri, &next).unwrap(),
        "/list?region=asia&utm=x&embed=true&show_all=false"
    );
    let rejection = Query::<Filters>::try_from_uri(&"/?page=x".parse().unwrap()).unwrap_err();
    assert_eq!(rejection.status(), http::StatusCode::BAD_REQUEST);
    assert!(rejection.body_text().contains("`page`"));
}
