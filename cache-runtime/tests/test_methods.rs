//! Methods: `self` is part of the key unless skipped; handles live on the type.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, cache_resource};
use serde::Serialize;

static PRICE_CALLS: AtomicUsize = AtomicUsize::new(0);
static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize)]
struct Catalog {
    currency: String,
}

impl Catalog {
    /// `self` is hashed: two catalogs with different currencies do not share entries.
    #[cache_data]
    fn price(&self, item: &str) -> String {
        PRICE_CALLS.fetch_add(1, SeqCst);
        format!("{item}: 10 {}", self.currency)
    }
}

struct Repository {
    name: &'static str,
}

impl Repository {
    /// `self` is skipped: every repository shares one cache.
    #[cache_data(max_entries = 100)]
    fn find(#[cache(skip)] &self, id: u64) -> Option<String> {
        LOOKUPS.fetch_add(1, SeqCst);
        (id < 10).then(|| format!("{} #{id}", self.name))
    }

    /// An associated function mentioning `Self` is cached in the impl too.
    #[cache_resource]
    fn shared() -> Repository {
        Self::default_repository()
    }

    fn default_repository() -> Repository {
        Repository { name: "default" }
    }
}

#[test]
fn self_is_part_of_the_key() {
    let eur = Catalog {
        currency: "EUR".into(),
    };
    let usd = Catalog {
        currency: "USD".into(),
    };
    assert_eq!(eur.price("tea"), "tea: 10 EUR");
    assert_eq!(
        Catalog {
            currency: "EUR".into()
        }
        .price("tea"),
        "tea: 10 EUR"
    );
    assert_eq!(usd.price("tea"), "tea: 10 USD");
    assert_eq!(PRICE_CALLS.load(SeqCst), 2);
    assert!(eur.price_cache_invalidate("tea"));
    eur.price("tea");
    assert_eq!(PRICE_CALLS.load(SeqCst), 3);
    assert_eq!(Catalog::price_cache_stats().entries, 2);
    Catalog::price_cache_clear();
    assert_eq!(Catalog::price_cache_stats().entries, 0);
}

#[test]
fn skipped_self_shares_entries() {
    let a = Repository { name: "a" };
    let b = Repository { name: "b" };
    assert_eq!(a.find(1), Some("a #1".into()));
    assert_eq!(
        b.find(1),
        Some("a #1".into()),
        "self is not part of the key"
    );
    assert_eq!(a.find(99), None);
    assert_eq!(LOOKUPS.load(SeqCst), 2);
    assert!(Repository::find_cache_invalidate(1));
    assert_eq!(Repository::find_cache_stats().entries, 1);
}

#[test]
fn associated_resources() {
    assert!(std::sync::Arc::ptr_eq(
        &Repository::shared(),
        &Repository::shared()
    ));
    assert_eq!(Repository::shared().name, "default");
    Repository::shared_cache_clear();
}

/// One static serves every `T` of a generic impl: `Self` is part of the key,
/// so `Wrapper<u8>` and `Wrapper<u32>` never share an entry even though
/// `Wrapper(1u8)` and `Wrapper(1u32)` serialize to the same bytes.
#[test]
fn generic_impls_key_on_the_concrete_self_type() {
    #[derive(Serialize)]
    struct Wrapper<T>(T);
    impl<T: Serialize> Wrapper<T> {
        #[cache_data]
        fn width(&self) -> usize {
            std::mem::size_of::<T>()
        }
    }
    assert_eq!(Wrapper(1u8).width(), 1);
    assert_eq!(Wrapper(1u32).width(), 4);
    assert_eq!(Wrapper(1u8).width(), 1);
}
