//! Methods whose cache is found at run time, one per instantiation: of a
//! generic `impl<T>` (return type mentioning `T` or `Self`), with type
//! parameters of their own, and in a lifetime-generic impl.
#![deny(warnings)]
use cache_runtime::{cache_data, cache_resource};
use serde::Serialize;

#[derive(Clone, Serialize)]
struct Wrapper<T>(T);

impl<T: Serialize + Clone + Send + Sync + 'static> Wrapper<T> {
    #[cache_data]
    fn get(&self) -> T {
        self.0.clone()
    }

    #[cache_data(ttl = "1m")]
    fn paired(&self, other: T) -> (T, T) {
        (self.0.clone(), other)
    }

    #[cache_data]
    fn doubled(&self) -> Self {
        Wrapper(self.0.clone())
    }

    /// Neither `self` nor `Self`: `method` says it is in an `impl`.
    #[cache_resource(method)]
    fn shared(value: T) -> Vec<T> {
        vec![value]
    }
}

/// Without `T: 'static` on the impl: the method asks it of its value.
struct Bag<T>(Vec<T>);

impl<T: Clone + Send + Sync> Bag<T> {
    #[cache_data]
    fn all(#[cache(skip)] &self) -> Vec<T> {
        self.0.clone()
    }
}

struct Store<Item> {
    items: Vec<Item>,
}

impl<Item: Clone + Send + Sync + 'static> Store<Item> {
    #[cache_data(generic)]
    fn first(#[cache(skip)] &self) -> Option<Item> {
        self.items.first().cloned()
    }
}

struct Point {
    x: i64,
}

impl Point {
    #[cache_data]
    fn at(x: i64) -> Self {
        Point { x }
    }

    #[cache_data]
    fn show<V: Serialize + std::fmt::Debug + Send + Sync>(#[cache(skip)] &self, v: V) -> String {
        format!("{} {v:?}", self.x)
    }
}

impl Clone for Point {
    fn clone(&self) -> Self {
        Point { x: self.x }
    }
}

struct Parser<'a> {
    input: &'a str,
}

impl<'a> Parser<'a> {
    #[cache_data]
    fn words(#[cache(skip)] &self, limit: usize) -> Vec<String> {
        self.input.split(' ').take(limit).map(str::to_owned).collect()
    }
}

fn main() {
    assert_eq!(Wrapper(1u8).get(), 1);
    assert_eq!(Wrapper(2u8).paired(3), (2, 3));
    assert_eq!(Wrapper(4u8).doubled().0, 4);
    assert_eq!(*Wrapper::<u8>::shared(5), [5]);
    Wrapper::<u8>::get_cache_clear();
    let _ = Wrapper::<u8>::paired_cache_stats();
    assert_eq!(Store { items: vec![1] }.first(), Some(1));
    assert_eq!(Bag(vec![1u8]).all(), [1]);
    assert_eq!(Point::at(1).x, 1);
    assert_eq!(Point::at(1).show(2u8), "1 2");
    assert!(Point::show_cache_invalidate(2u8));
    let text = String::from("a b c");
    assert_eq!(Parser { input: &text }.words(2), ["a", "b"]);
}
