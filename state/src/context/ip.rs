//! The client address: the peer, or what trusted proxies forwarded.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::FORWARDED;

use super::config::ContextConfig;

/// Longest forwarding chain considered.
const MAX_HOPS: usize = 32;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// One hop of a forwarding chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    Ip(IpAddr),
    /// `unknown`, an obfuscated identifier (`_hidden`) or garbage.
    Opaque,
}

/// Resolves the client address, before the loopback rule.
///
/// Forwarding headers are read only when the peer is a trusted proxy. The
/// chain (`Forwarded` `for=` values if that header is present, else
/// `X-Forwarded-For`) is walked from the right, skipping trusted proxies;
/// the first untrusted address is the client. An opaque or malformed hop
/// stops the walk with no answer, since nothing to its left can be trusted.
/// When every hop is trusted, the leftmost one is the client.
pub(crate) fn resolve(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    config: &ContextConfig,
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !config.is_trusted(peer) {
        return Some(peer);
    }
    let chain = forwarded_chain(headers);
    let mut leftmost = peer;
    for hop in chain.iter().rev() {
        match *hop {
            Hop::Ip(ip) if config.is_trusted(ip) => leftmost = ip,
            Hop::Ip(ip) => return Some(ip),
            Hop::Opaque => return None,
        }
    }
    Some(leftmost)
}

/// Whether the address is `None`'d as local, as Streamlit does for
/// `127.0.0.1` and `::1` (and the IPv4-mapped form).
pub(crate) fn is_local(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn forwarded_chain(headers: &HeaderMap) -> Vec<Hop> {
    let mut chain = Vec::new();
    if headers.contains_key(FORWARDED) {
        for value in headers.get_all(FORWARDED) {
            let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
                chain.push(Hop::Opaque);
                continue;
            };
            for element in value.split(',') {
                // An element without `for=` says nothing about this hop's client.
                let node = element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| value.trim())
                });
                if let Some(node) = node {
                    chain.push(parse_node(node.trim_matches('"')));
                }
            }
        }
    } else {
        for value in headers.get_all(X_FORWARDED_FOR) {
            let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
                chain.push(Hop::Opaque);
                continue;
            };
            chain.extend(value.split(',').map(|node| parse_node(node.trim())));
        }
    }
    if chain.len() > MAX_HOPS {
        // Keep the hops nearest to us, where the trusted proxies are.
        chain.drain(..chain.len() - MAX_HOPS);
        chain.insert(0, Hop::Opaque);
    }
    chain
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Hop {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Hop::Ip(ip.to_canonical());
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Hop::Ip(addr.ip().to_canonical());
    }
    if let Some(inner) = node.strip_prefix('[').and_then(|n| n.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<IpAddr>()
    {
        return Hop::Ip(ip.to_canonical());
    }
    Hop::Opaque
}

/// The `proto` / `host` a trusted proxy forwarded (`Forwarded` first, then
/// `X-Forwarded-Proto` / `X-Forwarded-Host`); the first value counts, as it is
/// the one the client-facing proxy saw.
pub(crate) fn forwarded_origin(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let mut proto = None;
    let mut host = None;
    if let Some(first) = headers
        .get(FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
    {
        for pair in first.split(';') {
            if let Some((name, value)) = pair.split_once('=') {
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "proto" => proto = Some(value.to_owned()),
                    "host" => host = Some(value.to_owned()),
                    _ => {}
                }
            }
        }
    }
    let first_of = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
    };
    proto = proto.or_else(|| first_of("x-forwarded-proto"));
    host = host.or_else(|| first_of("x-forwarded-host"));
    (proto, host)
}
