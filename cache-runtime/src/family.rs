//! The caches of a generic cached function: one per instantiation (the
//! concrete type arguments are part of the function's identity, so
//! `top::<u32>` and `top::<String>` never share entries), made on first use,
//! cleared and counted together by the function's handle.

use std::any::{Any, TypeId};
use std::sync::{PoisonError, RwLock};

use crate::stats::Stats;

/// What a family needs of each instantiation's cache.
pub trait Member: Any + Send + Sync {
    /// Clears its entries (the function's `clear()`).
    fn clear_member(&self);
    /// Its counters.
    fn member_stats(&self) -> Stats;
}

type Members = Vec<(TypeId, &'static dyn Member)>;

/// The caches of one generic function, by instantiation.
#[derive(Debug, Default)]
pub struct Family {
    members: RwLock<Members>,
}

impl std::fmt::Debug for dyn Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Member")
    }
}

impl Family {
    /// An empty family, for a `static`.
    pub const fn new() -> Self {
        Self {
            members: RwLock::new(Vec::new()),
        }
    }

    /// The cache of the instantiation whose type arguments are `P` (a tuple
    /// of them), made by `make` with its name — `function` followed by the
    /// `types` in turbofish, `my_app::top::<u32>` — the first time.
    pub fn member<P: 'static, C: Member>(
        &'static self,
        function: &'static str,
        types: &[&str],
        make: impl FnOnce(&'static str) -> C,
    ) -> &'static C {
        let id = TypeId::of::<P>();
        if let Some(cache) = self.find(id) {
            return cache;
        }
        let mut members = self.members.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, cache)) = members.iter().find(|(member, _)| *member == id) {
            return as_cache(*cache);
        }
        // Once per instantiation: its name lives as long as its cache.
        let name: &'static str =
            Box::leak(format!("{function}::<{}>", types.join(", ")).into_boxed_str());
        let cache: &'static C = Box::leak(Box::new(make(name)));
        members.push((id, cache));
        cache
    }

    #[inline]
    fn find<C: Member>(&self, id: TypeId) -> Option<&'static C> {
        let members = self.members.read().unwrap_or_else(PoisonError::into_inner);
        members
            .iter()
            .find(|(member, _)| *member == id)
            .map(|(_, cache)| as_cache(*cache))
    }

    /// Clears every instantiation's entries.
    pub fn clear(&self) {
        let members: Vec<_> = self
            .members
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, cache)| *cache)
            .collect();
        for cache in members {
            cache.clear_member();
        }
    }

    /// Every instantiation's counters, summed.
    pub fn stats(&self) -> Stats {
        let members = self.members.read().unwrap_or_else(PoisonError::into_inner);
        members
            .iter()
            .fold(Stats::default(), |mut sum, (_, cache)| {
                sum.add(&cache.member_stats());
                sum
            })
    }
}

/// A member as the cache type its instantiation made (one `TypeId` of type
/// arguments always makes the same cache type).
fn as_cache<C: Member>(member: &'static dyn Member) -> &'static C {
    let any: &'static dyn Any = member;
    any.downcast_ref::<C>()
        .expect("a generic function's instantiation always has one cache type")
}
