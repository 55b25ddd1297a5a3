//! The events channel (`{prefix}events`): every process publishes its clears
//! and invalidations there and applies the others'. On a cluster, `PUBLISH`
//! reaches every node, so one subscription (to any node) hears them all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::{Client, RedisError};

/// Subscribes to the events channel and applies what arrives, until the
/// subscription fails: `live(true)` once subscribed, and again whenever the
/// server is heard (a message, or the answer to the `PING` a quiet second
/// sends, so that a server that hangs, stopped rather than closed, is
/// noticed within two seconds too).
pub(super) fn subscribe_once(
    client: &Client,
    channel: &str,
    instance: &str,
    timeout: Duration,
    ready: &std::sync::mpsc::Sender<()>,
    apply: fn(Event),
    live: fn(bool),
) -> Result<(), RedisError> {
    let mut connection = client.get_connection_with_timeout(timeout)?;
    let mut pubsub = connection.as_pubsub();
    pubsub.set_read_timeout(Some(Duration::from_secs(1)))?;
    pubsub.subscribe(channel)?;
    live(true);
    let _ = ready.send(());
    loop {
        let message = match pubsub.get_message() {
            Ok(message) => message,
            Err(error) if error.is_timeout() => {
                pubsub.ping::<()>()?;
                // Heard: clears cannot have been missed (a failed operation
                // may have called the subscription suspect meanwhile).
                live(true);
                continue;
            }
            Err(error) => return Err(error),
        };
        live(true);
        let Ok(payload) = message.get_payload::<String>() else {
            continue;
        };
        let mut words = payload.split(' ');
        if words.next() == Some(instance) {
            continue; // our own event: already applied locally
        }
        match Event::parse(words) {
            Some(event) => apply(event),
            None => warn_once(
                &MALFORMED_EVENT_WARNED,
                format_args!(
                    "ignoring a malformed cache event ({payload:?}); later ones are ignored silently"
                ),
            ),
        }
    }
}

static MALFORMED_EVENT_WARNED: AtomicBool = AtomicBool::new(false);

/// Logs `message` the first time only (`warned` remembers): bad data another
/// program keeps writing must not flood the log.
pub(super) fn warn_once(warned: &AtomicBool, message: std::fmt::Arguments<'_>) {
    if !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!("{message}");
    }
}

/// An invalidation another process published.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Clear(u64),
    Invalidate(u64, Vec<u8>),
    ClearAll,
}

impl Event {
    fn parse<'a>(mut words: impl Iterator<Item = &'a str>) -> Option<Self> {
        let event = match words.next()? {
            "clear" => Event::Clear(u64::from_str_radix(words.next()?, 16).ok()?),
            "invalidate" => Event::Invalidate(
                u64::from_str_radix(words.next()?, 16).ok()?,
                unhex(words.next()?)?,
            ),
            "clear-all" => Event::ClearAll,
            _ => return None,
        };
        words.next().is_none().then_some(event)
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_garbage_is_refused() {
        assert_eq!(
            Event::parse("clear 00000000000000ff".split(' ')),
            Some(Event::Clear(255))
        );
        assert_eq!(
            Event::parse("invalidate 0000000000000001 00ff".split(' ')),
            Some(Event::Invalidate(1, vec![0, 255]))
        );
        assert_eq!(Event::parse("clear-all".split(' ')), Some(Event::ClearAll));
        for garbage in [
            "",
            "clear",
            "clear zz",
            "invalidate 1 0",
            "invalidate 1 xyz1",
            "explode",
            "clear-all now",
        ] {
            assert_eq!(Event::parse(garbage.split(' ')), None, "{garbage}");
        }
        assert_eq!(unhex(&hex(b"\x00key\xff")), Some(b"\x00key\xff".to_vec()));
    }
}
