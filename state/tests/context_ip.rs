//! `Context::ip_address`: loopback, spoofed and trusted forwarding headers.

use std::net::{IpAddr, SocketAddr};

use http::Request;
use state::context::{Context, ContextConfig, ContextError, TrustedProxy};

fn ip(peer: &str, headers: &[(&str, &str)], config: &ContextConfig) -> Option<IpAddr> {
    let mut builder = Request::builder();
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    let peer: SocketAddr = peer.parse().unwrap();
    Context::from_parts_and_peer(&parts, Some(peer), config).ip_address()
}

fn addr(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn trusting(proxies: &[&str]) -> ContextConfig {
    ContextConfig::new().trust_proxies(proxies.iter().map(|p| p.parse().unwrap()))
}

#[test]
fn loopback_is_none_as_in_streamlit() {
    let none = ContextConfig::default();
    assert_eq!(ip("127.0.0.1:5000", &[], &none), None);
    assert_eq!(ip("[::1]:5000", &[], &none), None);
    assert_eq!(ip("[::ffff:127.0.0.1]:5000", &[], &none), None);
    assert_eq!(ip("203.0.113.9:5000", &[], &none), addr("203.0.113.9"));
    assert_eq!(
        ip("[::ffff:203.0.113.9]:1", &[], &none),
        addr("203.0.113.9")
    );
}

#[test]
fn unknown_peer_is_none() {
    let (parts, ()) = Request::builder()
        .header("X-Forwarded-For", "198.51.100.1")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(
        Context::from_parts(&parts, &ContextConfig::default()).ip_address(),
        None
    );
}

#[test]
fn spoofed_forwarding_headers_are_ignored_without_a_trusted_proxy() {
    let none = ContextConfig::default();
    let spoof = [("X-Forwarded-For", "1.2.3.4"), ("Forwarded", "for=5.6.7.8")];
    assert_eq!(ip("203.0.113.9:443", &spoof, &none), addr("203.0.113.9"));
    // Trusting some other proxy does not help a direct client either.
    let other = trusting(&["10.0.0.0/8"]);
    assert_eq!(ip("203.0.113.9:443", &spoof, &other), addr("203.0.113.9"));
    // A loopback peer is still None, whatever it claims.
    assert_eq!(ip("127.0.0.1:1", &spoof, &none), None);
}

#[test]
fn x_forwarded_for_is_honoured_from_a_trusted_proxy() {
    let config = trusting(&["10.0.0.0/8"]);
    let xff = |v| [("X-Forwarded-For", v)];
    assert_eq!(
        ip("10.0.0.2:1", &xff("198.51.100.7"), &config),
        addr("198.51.100.7")
    );
    // The client cannot prepend a fake entry: the rightmost untrusted wins.
    assert_eq!(
        ip(
            "10.0.0.2:1",
            &xff("1.2.3.4, 198.51.100.7, 10.0.0.5"),
            &config
        ),
        addr("198.51.100.7")
    );
    // Ports and brackets are accepted.
    assert_eq!(
        ip("10.0.0.2:1", &xff("198.51.100.7:5555"), &config),
        addr("198.51.100.7")
    );
    assert_eq!(
        ip("10.0.0.2:1", &xff("[2001:db8::7]:5555"), &config),
        addr("2001:db8::7")
    );
    // Several headers form one chain.
    assert_eq!(
        ip(
            "10.0.0.2:1",
            &[
                ("X-Forwarded-For", "1.2.3.4"),
                ("X-Forwarded-For", "198.51.100.7")
            ],
            &config
        ),
        addr("198.51.100.7")
    );
    // Garbage next to us: no answer rather than a guess.
    assert_eq!(ip("10.0.0.2:1", &xff("1.2.3.4, nonsense"), &config), None);
    // Every hop trusted: the leftmost; no header at all: the proxy itself.
    assert_eq!(
        ip("10.0.0.2:1", &xff("10.1.1.1, 10.2.2.2"), &config),
        addr("10.1.1.1")
    );
    assert_eq!(ip("10.0.0.2:1", &[], &config), addr("10.0.0.2"));
    // A forwarded loopback client is None, as a direct one.
    assert_eq!(ip("10.0.0.2:1", &xff("127.0.0.1"), &config), None);
}

#[test]
fn forwarded_is_preferred_and_parsed() {
    let config = trusting(&["10.0.0.0/8", "::1"]);
    let headers = [
        (
            "Forwarded",
            r#"for=192.0.2.60;proto=https;by=10.0.0.1, for="[2001:db8:cafe::17]:4711""#,
        ),
        ("X-Forwarded-For", "1.2.3.4"),
    ];
    assert_eq!(
        ip("10.9.9.9:1", &headers, &config),
        addr("2001:db8:cafe::17")
    );
    assert_eq!(ip("[::1]:1", &headers, &config), addr("2001:db8:cafe::17"));
    assert_eq!(
        ip("10.9.9.9:1", &[("Forwarded", "For=192.0.2.43")], &config),
        addr("192.0.2.43")
    );
    assert_eq!(
        ip("10.9.9.9:1", &[("Forwarded", "for=unknown")], &config),
        None
    );
    assert_eq!(
        ip("10.9.9.9:1", &[("Forwarded", "for=_hidden")], &config),
        None
    );
}

#[test]
fn forwarded_host_and_proto_only_from_a_trusted_proxy() {
    let build = |peer: &str, config: &ContextConfig| {
        let (parts, ()) = Request::builder()
            .uri("/p?x=1")
            .header("Host", "internal:8080")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "public.example")
            .body(())
            .unwrap()
            .into_parts();
        Context::from_parts_and_peer(&parts, Some(peer.parse().unwrap()), config)
    };
    let config = trusting(&["10.0.0.0/8"]);
    assert_eq!(
        build("10.0.0.2:1", &config).url(),
        Some("https://public.example/p")
    );
    assert_eq!(
        build("203.0.113.9:1", &config).url(),
        Some("http://internal:8080/p")
    );
}

#[test]
fn trusted_proxy_parsing() {
    let p: TrustedProxy = "10.0.0.0/8".parse().unwrap();
    assert!(p.contains("10.255.0.1".parse().unwrap()));
    assert!(p.contains("::ffff:10.1.2.3".parse().unwrap()));
    assert!(!p.contains("11.0.0.1".parse().unwrap()));
    let p: TrustedProxy = "fd00::/8".parse().unwrap();
    assert!(p.contains("fd12::1".parse().unwrap()));
    assert!(!p.contains("fe80::1".parse().unwrap()));
    let p: TrustedProxy = "::ffff:192.168.0.0/112".parse().unwrap();
    assert!(p.contains("192.168.3.4".parse().unwrap()));
    let all: TrustedProxy = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains("8.8.8.8".parse().unwrap()));
    assert_eq!(p.to_string(), "192.168.0.0/16");
    for bad in [
        "",
        "10.0.0.0/33",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "::/129",
        "host",
        "10.0.0/8",
    ] {
        assert!(
            matches!(
                bad.parse::<TrustedProxy>(),
                Err(ContextError::InvalidProxy { .. })
            ),
            "{bad}"
        );
    }
    let [v4, v6] = TrustedProxy::loopback();
    assert!(v4.contains("127.1.2.3".parse().unwrap()));
    assert!(v6.contains("::1".parse().unwrap()));
}
