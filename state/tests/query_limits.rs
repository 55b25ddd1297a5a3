//! Streamlit's query-string limits, reported as errors.

use state::query::{self, MAX_FIELDS, MAX_QUERY_LEN, Query, QueryError, QueryMap};

#[test]
fn a_query_over_512_kib_is_rejected() {
    let ok = format!("a={}", "x".repeat(MAX_QUERY_LEN - 2));
    assert_eq!(
        QueryMap::parse(&ok).unwrap().get("a").map(str::len),
        Some(MAX_QUERY_LEN - 2)
    );
    let too_long = format!("a={}", "x".repeat(MAX_QUERY_LEN - 1));
    let err = QueryMap::parse(&too_long).unwrap_err();
    assert_eq!(
        err,
        QueryError::TooLong {
            len: MAX_QUERY_LEN + 1,
            max: MAX_QUERY_LEN
        }
    );
    assert_eq!(
        err.to_string(),
        "query string is too long: 524289 bytes, the limit is 524288 bytes"
    );
}

#[test]
fn more_than_1000_fields_are_rejected() {
    let fields = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&")
    };
    assert_eq!(
        QueryMap::parse(&fields(MAX_FIELDS)).unwrap().len(),
        MAX_FIELDS
    );
    let err = QueryMap::parse(&fields(MAX_FIELDS + 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "query string has too many fields: 1001, the limit is 1000"
    );
    // Empty fields count, as in Python's `parse_qs`.
    assert!(QueryMap::parse(&"&".repeat(MAX_FIELDS)).is_err());
    // A huge run of `&` is still answered quickly with the same error.
    let err = QueryMap::parse(&"&".repeat(MAX_QUERY_LEN)).unwrap_err();
    assert!(matches!(err, QueryError::TooManyFields { .. }));
}

#[test]
fn typed_readers_and_extractors_apply_the_limits() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Any {
        a: Option<String>,
    }
    let long = format!("a={}", "x".repeat(MAX_QUERY_LEN));
    assert!(matches!(
        query::from_str::<Any>(&long),
        Err(QueryError::TooLong { .. })
    ));
    let uri: http::Uri = format!("/?{}", "a=1&".repeat(MAX_FIELDS)).parse().unwrap();
    let rejection = Query::<Any>::try_from_uri(&uri).unwrap_err();
    assert_eq!(rejection.status(), http::StatusCode::BAD_REQUEST);
    assert!(rejection.body_text().contains("too many fields"));
}
