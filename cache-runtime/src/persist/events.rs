//! Applies the invalidations other processes publish on the Redis events
//! channel to this process's in-memory tier.

use super::redis::Event;
use crate::config::Kind;
use crate::key;
use crate::registry;

/// Clears what `event` names from every matching in-memory cache.
pub(crate) fn apply(event: Event) {
    match event {
        Event::Clear(function) => registry::each(|cache| {
            if cache.persist_id() == function {
                cache.clear_memory();
            }
        }),
        Event::Invalidate(function, key) => {
            let key = key::key_from_wire(&key);
            registry::each(|cache| {
                if cache.persist_id() == function {
                    cache.invalidate_memory(&key);
                }
            });
        }
        Event::ClearAll => registry::each(|cache| {
            if cache.kind() == Kind::Data {
                cache.clear_memory();
            }
        }),
    }
}
