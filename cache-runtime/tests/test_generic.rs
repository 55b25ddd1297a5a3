//! Generic cached functions: each instantiation has a cache of its own (its
//! types are part of the function's identity), and the function's handle
//! clears and counts them all.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, cache_resource};
use serde::Serialize;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cache_data]
fn top<T: Serialize + Clone + Ord + Send + Sync>(mut xs: Vec<T>, n: usize) -> Vec<T> {
    CALLS.fetch_add(1, SeqCst);
    xs.sort();
    xs.into_iter().rev().take(n).collect()
}

#[test]
fn each_instantiation_has_its_own_entries_and_the_handle_covers_them_all() {
    assert_eq!(top(vec![3u32, 1, 2], 2), [3, 2]);
    assert_eq!(top(vec![3u32, 1, 2], 2), [3, 2]);
    assert_eq!(CALLS.load(SeqCst), 1, "the second call hit");
    let words = vec!["b".to_owned(), "c".to_owned(), "a".to_owned()];
    assert_eq!(top(words.clone(), 1), ["c"]);
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "another instantiation: its own cache"
    );
    // Equal key bytes, different types: never shared.
    assert_eq!(top(vec![3u64, 1, 2], 2), [3, 2]);
    assert_eq!(CALLS.load(SeqCst), 3);

    let stats = top::stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.entries),
        (1, 3, 3),
        "summed"
    );
    let names: Vec<_> = cache_runtime::functions()
        .into_iter()
        .map(|info| info.name)
        .filter(|name| name.contains("::top::<"))
        .collect();
    assert_eq!(
        names,
        [
            "test_generic::top::<alloc::string::String>",
            "test_generic::top::<u32>",
            "test_generic::top::<u64>",
        ],
        "listed per instantiation"
    );

    assert!(top::invalidate(vec![3u32, 1, 2], 2));
    assert_eq!(top::stats().entries, 2, "only the u32 entry went");
    top::clear();
    assert_eq!(top::stats().entries, 0, "every instantiation cleared");
    top(words, 1);
    assert_eq!(CALLS.load(SeqCst), 4);
}

#[test]
fn generic_resources_and_async_functions_work_too() {
    #[cache_resource]
    fn default_of<T: Default + Send + Sync>() -> T {
        T::default()
    }
    let a = default_of::<String>();
    assert!(std::sync::Arc::ptr_eq(&a, &default_of::<String>()));
    assert_eq!(*default_of::<u8>(), 0);
    assert_eq!(default_of::stats().entries, 2);
    assert!(default_of::invalidate::<u8>());
    assert_eq!(default_of::stats().entries, 1);
    default_of::clear();
    assert!(!std::sync::Arc::ptr_eq(&a, &default_of::<String>()));

    #[cache_data]
    async fn doubled<T: Serialize + Clone + Send + Sync + std::ops::Add<Output = T>>(x: T) -> T {
        x.clone() + x
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(doubled(2u8)), 4);
    assert_eq!(runtime.block_on(doubled(2.5f64)), 5.0);
    assert_eq!(runtime.block_on(doubled(2u8)), 4);
    assert_eq!(doubled::stats().hits, 1);
    runtime.block_on(doubled::warm(1u16));
    assert_eq!(doubled::stats().entries, 3);
}

/// A method of a generic `impl<T>` whose return type mentions `T`: each
/// `Self` type has its own cache, named after it, and the handle (called on
/// any instantiation) covers them all.
#[test]
fn methods_of_a_generic_impl_have_a_cache_per_self_type() {
    static PEEKS: AtomicUsize = AtomicUsize::new(0);

    #[derive(Serialize, Clone)]
    struct Stack<T> {
        items: Vec<T>,
    }

    impl<T: Serialize + Clone + Send + Sync + 'static> Stack<T> {
        #[cache_data]
        fn peek(&self) -> Option<T> {
            PEEKS.fetch_add(1, SeqCst);
            self.items.last().cloned()
        }

        /// `Self` in the return type works the same way.
        #[cache_data]
        fn with_top(&self, top: T) -> Self {
            let mut items = self.items.clone();
            items.push(top);
            Stack { items }
        }
    }

    // `Stack(vec![1u8])` and `Stack(vec![1u64])` serialize alike: never shared.
    let small = Stack { items: vec![1u8] };
    let large = Stack { items: vec![1u64] };
    assert_eq!(small.peek(), Some(1u8));
    assert_eq!(large.peek(), Some(1u64));
    assert_eq!(small.peek(), Some(1u8));
    assert_eq!(PEEKS.load(SeqCst), 2, "one miss per Self type, then a hit");
    assert_eq!(small.with_top(2).items, [1, 2]);

    let names: Vec<_> = cache_runtime::functions()
        .into_iter()
        .map(|info| info.name)
        .filter(|name| name.ends_with("::peek"))
        .collect();
    assert_eq!(names.len(), 2, "one cache per Self type: {names:?}");
    assert!(
        names.iter().any(|name| name.contains("Stack<u8>")),
        "{names:?}"
    );
    assert_eq!(Stack::<u8>::peek_cache_stats().entries, 2, "summed");
    assert!(small.peek_cache_invalidate());
    assert_eq!(Stack::<u8>::peek_cache_stats().entries, 1, "this Self only");
    Stack::<u64>::peek_cache_clear();
    assert_eq!(Stack::<u8>::peek_cache_stats().entries, 0, "every Self");
    large.peek_cache_warm();
    assert_eq!(PEEKS.load(SeqCst), 3);
}

/// A method with type parameters of its own: a cache per instantiation, as
/// for a free generic function.
#[test]
fn methods_with_type_parameters_have_a_cache_per_instantiation() {
    static RENDERS: AtomicUsize = AtomicUsize::new(0);

    struct Printer {
        prefix: &'static str,
    }

    impl Printer {
        #[cache_data]
        fn render<V: Serialize + std::fmt::Debug + Send + Sync>(
            #[cache(skip)] &self,
            value: V,
        ) -> String {
            RENDERS.fetch_add(1, SeqCst);
            format!("{}{value:?}", self.prefix)
        }
    }

    let printer = Printer { prefix: "> " };
    assert_eq!(printer.render(7u8), "> 7");
    assert_eq!(printer.render(7u8), "> 7");
    assert_eq!(printer.render(7u32), "> 7");
    assert_eq!(RENDERS.load(SeqCst), 2, "u8 hit, u32 its own cache");
    assert!(Printer::render_cache_invalidate(7u32));
    assert_eq!(Printer::render_cache_stats().entries, 1);
    Printer::render_cache_clear();
    assert_eq!(Printer::render_cache_stats().entries, 0);
    let names: Vec<_> = cache_runtime::functions()
        .into_iter()
        .map(|info| info.name)
        .filter(|name| name.contains("Printer::render"))
        .collect();
    assert_eq!(
        names,
        [
            "test_generic::methods_with_type_parameters_have_a_cache_per_instantiation::Printer::render::<u32>",
            "test_generic::methods_with_type_parameters_have_a_cache_per_instantiation::Printer::render::<u8>",
        ]
    );
}

/// A generic `impl` whose parameter is not named like one (`Item`) says so
/// with the `generic` flag.
#[test]
fn the_generic_flag_marks_a_generic_impl_the_macro_cannot_tell() {
    #[derive(Serialize)]
    struct Queue<Item> {
        items: Vec<Item>,
    }

    impl<Item: Serialize + Clone + Send + Sync + 'static> Queue<Item> {
        #[cache_data(generic)]
        fn front(&self) -> Option<Item> {
            self.items.first().cloned()
        }
    }

    assert_eq!(Queue { items: vec!['a'] }.front(), Some('a'));
    assert_eq!(
        Queue {
            items: vec!["b".to_owned()]
        }
        .front(),
        Some("b".to_owned())
    );
    assert_eq!(Queue::<char>::front_cache_stats().misses, 2);
}
