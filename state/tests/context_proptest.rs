//! Property tests: building a `Context` never panics on any header, and a
//! field is either `None` or a non-empty, well-formed value.

use std::net::SocketAddr;

use http::{HeaderValue, Request};
use proptest::prelude::*;
use state::context::{Context, ContextConfig, KEYS, negotiate, parse_accept_language};

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        any::<Vec<u8>>(),
        "[a-zA-Z0-9 ,;=:.\\[\\]\"%_*/+-]{0,40}".prop_map(String::into_bytes),
        "(tz=[A-Za-z%2F_]{0,12}|tzo=-?[0-9]{0,5}|theme=[a-z]{0,5}|lang=[a-zA-Z_-]{0,8}|&){0,8}"
            .prop_map(|s| format!("st_ctx={s}").into_bytes()),
    ]
    .prop_filter_map("not a valid header value", |bytes| {
        HeaderValue::from_bytes(&bytes).ok()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_headers_give_a_well_formed_context(
        headers in prop::collection::vec((0..6usize, header_value()), 0..6),
        peer in any::<SocketAddr>(),
        trust_peer in any::<bool>(),
        path_and_query in "/[a-z]{0,5}(\\?[a-z=&%0-9+]{0,20})?",
    ) {
        const NAMES: [&str; 6] = ["accept-language", "cookie", "x-forwarded-for", "forwarded", "host", "x-forwarded-host"];
        let mut builder = Request::builder().uri(path_and_query.as_str());
        for (name, value) in headers {
            builder = builder.header(NAMES[name], value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let mut config = ContextConfig::new();
        if trust_peer {
            config = config.trust_proxy(state::context::TrustedProxy::addr(peer.ip()));
        }
        let ctx = Context::from_parts_and_peer(&parts, Some(peer), &config);

        prop_assert!(ctx.locale().is_none_or(|l| !l.is_empty() && l != "*"));
        prop_assert!(ctx.timezone().is_none_or(|t| !t.is_empty()));
        prop_assert!(ctx.timezone_offset().is_none_or(|o| o.abs() < 1440));
        prop_assert!(ctx.url().is_none_or(|u| u.starts_with("http")));
        prop_assert!(ctx.ip_address().is_none_or(|ip| !ip.to_canonical().is_loopback()));
        if !trust_peer && !peer.ip().to_canonical().is_loopback() {
            prop_assert_eq!(ctx.ip_address(), Some(peer.ip().to_canonical()));
        }
        for key in KEYS {
            prop_assert!(ctx.get(key).is_ok());
        }
        let _ = ctx.negotiate_locale(&["en", "fr-CA", "zh-Hant"]);
    }

    #[test]
    fn accept_language_never_panics(header in any::<String>()) {
        let ranges = parse_accept_language(&header);
        prop_assert!(ranges.len() <= 64);
        prop_assert!(ranges.windows(2).all(|w| w[0].quality() >= w[1].quality()));
        prop_assert!(ranges.iter().all(|r| r.quality() > 0.0 && r.quality() <= 1.0));
        let _ = negotiate(&ranges, &["en", "de-CH-1996", "x"]);
    }
}
