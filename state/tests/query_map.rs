//! `QueryMap`: Streamlit's verified `st.query_params` behaviours.

use state::query::{QueryError, QueryMap};

#[test]
fn last_value_wins_and_get_all_lists_every_value() {
    let q = QueryMap::parse("a=1&a=2&b=").unwrap();
    assert_eq!(q.get("a"), Some("2"));
    assert_eq!(q.get_all("a"), ["1", "2"]);
    assert_eq!(q.get("b"), Some(""));
    assert_eq!(q.get("missing"), None);
    assert!(q.get_all("missing").is_empty());
    assert_eq!(q.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "")]);
}

#[test]
fn blank_values_are_kept() {
    let q = QueryMap::parse("?e&f=").unwrap();
    assert_eq!(q.get("e"), Some(""));
    assert_eq!(q.get("f"), Some(""));
}

#[test]
fn embed_params_are_hidden_from_reads_and_iteration() {
    let q = QueryMap::parse("embed=true&Embed_Options=show_toolbar&p=2&q=3&q=4").unwrap();
    assert_eq!(q.get("embed"), None);
    assert_eq!(q.get("EMBED"), None);
    assert!(q.get_all("embed_options").is_empty());
    assert!(!q.contains_key("embed"));
    assert_eq!(q.len(), 2);
    assert_eq!(q.keys().collect::<Vec<_>>(), ["p", "q"]);
    assert!(q.is_embedded());
    // Like Streamlit's `str(qp)`, the raw view shows them.
    assert_eq!(
        format!("{q:?}"),
        r#"{"embed": "true", "Embed_Options": "show_toolbar", "p": "2", "q": ["3", "4"]}"#
    );
    assert_eq!(
        q.to_string(),
        "embed=true&Embed_Options=show_toolbar&p=2&q=3&q=4"
    );
}

#[test]
fn embed_params_are_refused_on_write() {
    let mut q = QueryMap::parse("embed=true").unwrap();
    for key in ["embed", "EMBED", "embed_options", "Embed_Options"] {
        let err = q.set(key, "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Query param embed and embed_options (case-insensitive) cannot be set programmatically."
        );
        assert!(q.append(key, "x").is_err());
    }
    assert_eq!(q.remove("embed"), None);
    assert!(q.is_embedded());
    // A bulk write with one bad key changes nothing.
    assert!(q.update([("a", "1"), ("embed", "false")]).is_err());
    assert_eq!(q.to_string(), "embed=true");
}

#[test]
fn clear_keeps_embed_params() {
    let mut q = QueryMap::parse("a=1&embed=true&b=2&embed_options=light_theme").unwrap();
    q.clear();
    assert!(q.is_empty());
    assert_eq!(q.to_string(), "embed=true&embed_options=light_theme");
}

#[test]
fn set_scalar_list_and_empty_list() {
    let mut q = QueryMap::new();
    q.set("page", "2").unwrap();
    q.set("tag", ["x", "y"]).unwrap();
    q.set("name", String::from("Zoë Ann")).unwrap();
    assert_eq!(q.get("tag"), Some("y"));
    assert_eq!(q.get_all("tag"), ["x", "y"]);
    assert_eq!(q.to_string(), "page=2&tag=x&tag=y&name=Zo%C3%AB+Ann");
    // Re-setting keeps the position; an empty list removes the key.
    q.set("page", "3").unwrap();
    q.set("tag", Vec::<String>::new()).unwrap();
    assert_eq!(q.to_string(), "page=3&name=Zo%C3%AB+Ann");
    // Values are strings: numbers and booleans are converted by the caller.
    q.set("n", 5.to_string()).unwrap();
    q.set("flag", true.to_string()).unwrap();
    assert_eq!(q.get("flag"), Some("true"));
}

#[test]
fn from_pairs_overwrites_repeated_keys() {
    let q = QueryMap::from_pairs([("p", "1"), ("p", "2")]).unwrap();
    assert_eq!(q.get_all("p"), ["2"]);
    assert_eq!(q.to_string(), "p=2");
    let q = QueryMap::from_pairs([("p", vec!["1", "2"])]).unwrap();
    assert_eq!(q.to_string(), "p=1&p=2");
    assert!(QueryMap::from_pairs([("embed", "true")]).is_err());
}

#[test]
fn replace_all_is_from_dict_and_keeps_embed() {
    let mut q = QueryMap::parse("old=1&embed=true").unwrap();
    q.replace_all([("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(q.to_string(), "embed=true&a=1&b=2");
    let before = q.clone();
    assert!(q.replace_all([("c", "3"), ("embed_options", "x")]).is_err());
    assert_eq!(q, before);
}

#[test]
fn update_remove_and_with() {
    let mut q = QueryMap::parse("a=1&b=2").unwrap();
    q.update([("b", "3"), ("c", "4"), ("b", "5")]).unwrap();
    assert_eq!(q.to_string(), "a=1&b=5&c=4");
    assert_eq!(q.remove("a"), Some(vec!["1".to_owned()]));
    assert_eq!(q.remove("a"), None);
    let next = q.with("c", "9").unwrap();
    assert_eq!(next.to_url("/x"), "/x?b=5&c=9");
    assert_eq!(q.get("c"), Some("4"));
    assert_eq!(q.without("c").without("b").to_url("/x"), "/x");
}

#[test]
fn pairs_round_trip_through_the_url() {
    let q = QueryMap::from_pairs([("k y", "a&b=c+d%e"), ("emoji", "😀")]).unwrap();
    let s = q.to_string();
    assert_eq!(s, "k+y=a%26b%3Dc%2Bd%25e&emoji=%F0%9F%98%80");
    let back: QueryMap = s.parse().unwrap();
    assert_eq!(back, q);
    assert_eq!(
        back.to_pairs(),
        [
            ("k y".to_owned(), "a&b=c+d%e".to_owned()),
            ("emoji".to_owned(), "😀".to_owned())
        ]
    );
}

#[test]
fn typed_view_and_merge() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Paging {
        page: u32,
        size: Option<u32>,
    }
    let mut q = QueryMap::parse("q=rust&page=1&size=10&embed=true").unwrap();
    assert_eq!(
        q.deserialize::<Paging>().unwrap(),
        Paging {
            page: 1,
            size: Some(10)
        }
    );
    q.merge(&Paging {
        page: 2,
        size: None,
    })
    .unwrap();
    assert_eq!(q.to_string(), "q=rust&page=2&embed=true");
    let err = QueryMap::parse("page=x")
        .unwrap()
        .deserialize::<Paging>()
        .unwrap_err();
    assert!(matches!(err, QueryError::InvalidValue { .. }));
}

#[test]
#[allow(deprecated)]
fn removed_experimental_functions() {
    use state::query::{experimental_get_query_params, experimental_set_query_params};
    let current = QueryMap::parse("a=1&a=2&b=x&EMBED=True&embed_options=dark").unwrap();
    let got = experimental_get_query_params(&current);
    assert_eq!(got.len(), 2);
    assert_eq!(got["a"], ["1", "2"]);
    assert_eq!(got["b"], ["x"]);

    let next = experimental_set_query_params(&current, [("c", vec!["True"])]).unwrap();
    assert_eq!(next.to_string(), "c=True&embed=True&embed_options=dark");

    let err = experimental_set_query_params(&current, [("Embed", "true")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Query param embed and embed_options (case-insensitive) cannot be set using set_query_params method."
    );
}
