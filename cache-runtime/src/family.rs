//! The caches of a generic cached function, or of a method whose cache
//! cannot be a `static` of its own (its `impl` is generic, or a trait's): one
//! per instantiation (the concrete types are part of the function's
//! identity, so `top::<u32>` and `top::<String>` never share entries), made
//! on first use, cleared and counted together by the function's handle.
//!
//! An instantiation is told apart by the `TypeId`s of the function's type
//! arguments and of its cache's type, and, for a method, by the name of its
//! `Self` type (`std::any::type_name`, which, unlike `TypeId`, needs no
//! `Self: 'static`: a method of `Parser<'a>` is cacheable). The first
//! instantiation is found without a lock, so a family of one (a method of a
//! non-generic trait impl) costs a hit two compares and a downcast.

use std::any::{Any, TypeId};
use std::sync::{OnceLock, PoisonError, RwLock};

use crate::stats::Stats;

/// What a family needs of each instantiation's cache.
pub trait Member: Any + Send + Sync {
    /// Clears its entries (the function's `clear()`).
    fn clear_member(&self);
    /// Its counters.
    fn member_stats(&self) -> Stats;
}

/// What tells one instantiation from the others.
#[derive(Clone, Copy, Debug)]
struct Instance {
    types: TypeId,
    /// A method's `Self` type name; `""` for a free function.
    self_type: &'static str,
}

impl Instance {
    #[inline]
    fn is(&self, other: &Instance) -> bool {
        // `type_name` gives the same string for one type, usually at one
        // address: compare the address first.
        self.types == other.types
            && (std::ptr::eq(self.self_type, other.self_type) || self.self_type == other.self_type)
    }
}

type Members = Vec<(Instance, &'static dyn Member)>;

/// The caches of one generic function or method, by instantiation.
#[derive(Debug, Default)]
pub struct Family {
    /// The first instantiation made: found without a lock.
    first: OnceLock<(Instance, &'static dyn Member)>,
    /// Every other one.
    others: RwLock<Members>,
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
            first: OnceLock::new(),
            others: RwLock::new(Vec::new()),
        }
    }

    /// The cache of the generic function's instantiation whose type
    /// arguments are `P` (a tuple of them), made by `make` with its name —
    /// `function` followed by the `types` in turbofish,
    /// `my_app::top::<u32>` — the first time.
    #[inline]
    pub fn member<P: 'static, C: Member>(
        &'static self,
        function: &'static str,
        types: &[&str],
        make: impl FnOnce(&'static str) -> C,
    ) -> &'static C {
        let instance = Instance {
            types: TypeId::of::<(P, C)>(),
            self_type: "",
        };
        self.find(instance)
            .unwrap_or_else(|| self.insert(instance, || turbofish(function, types), make))
    }

    /// The cache of a method for its `Self` type named `self_type` (what
    /// `std::any::type_name::<Self>()` gives) and its own type arguments `P`,
    /// made by `make` the first time. Its name is `Self`'s path, the method
    /// and its type arguments, `my_app::Stack<u32>::peek`; with a
    /// `name = ..`, that `name` (followed by `Self` when `Self` is generic).
    #[inline]
    pub fn method_member<P: 'static, C: Member>(
        &'static self,
        self_type: &'static str,
        method: &'static str,
        name: Option<&'static str>,
        types: &[&str],
        make: impl FnOnce(&'static str) -> C,
    ) -> &'static C {
        let instance = Instance {
            types: TypeId::of::<(P, C)>(),
            self_type,
        };
        self.find(instance).unwrap_or_else(|| {
            let full_name = || match name {
                None => turbofish(&format!("{self_type}::{method}"), types),
                Some(name) if self_type.contains('<') => {
                    format!("{} for {self_type}", turbofish(name, types))
                }
                Some(name) => turbofish(name, types),
            };
            self.insert(instance, full_name, make)
        })
    }

    #[inline]
    fn find<C: Member>(&self, instance: Instance) -> Option<&'static C> {
        if let Some((first, cache)) = self.first.get()
            && first.is(&instance)
        {
            return Some(as_cache(*cache));
        }
        self.find_other(instance)
    }

    #[cold]
    fn find_other<C: Member>(&self, instance: Instance) -> Option<&'static C> {
        let others = self.others.read().unwrap_or_else(PoisonError::into_inner);
        others
            .iter()
            .find(|(member, _)| member.is(&instance))
            .map(|(_, cache)| as_cache(*cache))
    }

    /// Makes the instantiation's cache, once (under the write lock).
    #[cold]
    fn insert<C: Member>(
        &'static self,
        instance: Instance,
        name: impl FnOnce() -> String,
        make: impl FnOnce(&'static str) -> C,
    ) -> &'static C {
        let mut others = self.others.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(cache) = self.find_first(instance).or_else(|| {
            others
                .iter()
                .find(|(member, _)| member.is(&instance))
                .map(|(_, cache)| as_cache(*cache))
        }) {
            return cache;
        }
        // Once per instantiation: its name lives as long as its cache.
        let name: &'static str = Box::leak(name().into_boxed_str());
        let cache: &'static C = Box::leak(Box::new(make(name)));
        // Under the write lock: no one else sets `first`.
        if self.first.set((instance, cache)).is_err() {
            others.push((instance, cache));
        }
        cache
    }

    fn find_first<C: Member>(&self, instance: Instance) -> Option<&'static C> {
        self.first
            .get()
            .filter(|(first, _)| first.is(&instance))
            .map(|(_, cache)| as_cache(*cache))
    }

    /// Every instantiation's cache.
    fn members(&self) -> Vec<&'static dyn Member> {
        let others = self.others.read().unwrap_or_else(PoisonError::into_inner);
        self.first
            .get()
            .map(|(_, cache)| *cache)
            .into_iter()
            .chain(others.iter().map(|(_, cache)| *cache))
            .collect()
    }

    /// Clears every instantiation's entries.
    pub fn clear(&self) {
        for cache in self.members() {
            cache.clear_member();
        }
    }

    /// Every instantiation's counters, summed.
    pub fn stats(&self) -> Stats {
        self.members()
            .into_iter()
            .fold(Stats::default(), |mut sum, cache| {
                sum.add(&cache.member_stats());
                sum
            })
    }
}

/// `function` followed by `types` in turbofish (`function` alone without
/// types).
fn turbofish(function: &str, types: &[&str]) -> String {
    if types.is_empty() {
        function.to_owned()
    } else {
        format!("{function}::<{}>", types.join(", "))
    }
}

/// A member as the cache type its instantiation made (one instance key
/// includes the cache's type).
fn as_cache<C: Member>(member: &'static dyn Member) -> &'static C {
    let any: &'static dyn Any = member;
    any.downcast_ref::<C>()
        .expect("an instantiation's key includes its cache type")
}
