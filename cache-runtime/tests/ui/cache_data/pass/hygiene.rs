//! The expansion names everything by absolute path: shadowing the prelude and
//! the standard crates in the user's module breaks nothing, and no generated
//! path is flagged by `unused_qualifications`.
#![deny(warnings, unused_qualifications)]

mod shadowed {
    #![allow(dead_code, non_camel_case_types)]

    use ::cache_runtime::{cache_data, cache_resource};

    mod core {}
    mod std {}
    mod alloc {}
    mod serde {}
    mod cache_runtime {}
    struct Option;
    struct Some;
    struct None;
    struct Result;
    struct Ok;
    struct Err;
    struct Box;
    struct Vec;
    struct String;
    struct Arc;
    struct Duration;
    struct Clone;
    struct Send;
    struct Sync;
    struct Sized;
    struct Fn;
    struct FnOnce;
    struct Future;
    struct Into;
    struct Default;
    struct bool;
    struct u32;
    struct u64;
    struct str;

    #[derive(::core::clone::Clone, ::serde::Serialize)]
    pub struct Point {
        pub x: i64,
    }

    #[cache_data(ttl = "10m", max_entries = 8)]
    pub fn doubled(p: Point, _ignored: i8, #[cache(skip)] _also: i8) -> Point {
        Point { x: p.x * 2 }
    }

    #[cache_data(ttl = 1.5)]
    pub fn checked(x: i64) -> ::core::result::Result<i64, ()> {
        ::core::result::Result::Ok(x)
    }

    #[cache_data(ttl = ::core::time::Duration::from_secs(1))]
    pub async fn later(x: i64) -> i64 {
        x
    }

    fn by_x(p: &Point) -> i64 {
        p.x
    }

    #[cache_resource]
    pub fn shared(#[cache(hash_with = by_x)] p: Point, (a, b): (i64, i64)) -> i64 {
        p.x + a + b
    }

    #[cache_resource]
    pub fn singleton() -> ::core::result::Result<i64, ()> {
        ::core::result::Result::Ok(1)
    }

    impl Point {
        #[cache_data]
        pub fn plus(&self, y: i64) -> i64 {
            self.x + y
        }
    }

    #[derive(::core::clone::Clone, ::serde::Serialize)]
    pub struct Pair<T>(pub T, pub T);

    impl<T: ::serde::Serialize + ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static> Pair<T> {
        #[cache_data]
        pub fn first(&self) -> T {
            self.0.clone()
        }

        #[cache_data]
        pub fn swapped(&self) -> Self {
            Pair(self.1.clone(), self.0.clone())
        }
    }

    pub trait Area {
        fn area(&self) -> i64;
    }

    impl Area for Point {
        #[cache_data(trait_impl)]
        fn area(&self) -> i64 {
            self.x * self.x
        }
    }

    pub fn run() -> i64 {
        let _ = Pair(1i64, 2i64).swapped();
        Pair::<i64>::first_cache_clear();
        let _ = Point { x: 2 }.area();
        let _ = doubled::invalidate(Point { x: 1 });
        let _ = Point { x: 1 }.plus_cache_invalidate(2);
        Point::plus_cache_clear();
        let _ = Point::plus_cache_stats();
        let _ = shared::invalidate(Point { x: 1 }, (1, 2));
        doubled(Point { x: 1 }, 0, 0).x
            + checked(1).unwrap_or(0)
            + *shared(Point { x: 1 }, (1, 2))
            + *singleton().unwrap_or_else(|()| ::core::unreachable!())
            + Point { x: 1 }.plus(1)
            + Pair(1i64, 2i64).first()
            + ::core::mem::size_of_val(&later(1)) as i64 * 0
    }
}

use cache_runtime::cache_data;

#[cache_data(ttl = std::time::Duration::from_secs(5))]
fn plain(text: &str, n: u32) -> Option<String> {
    Some(format!("{text}{n}"))
}

fn main() {
    assert_eq!(shadowed::run(), 2 + 1 + 4 + 1 + 2 + 1);
    assert_eq!(plain("a", 1).as_deref(), Some("a1"));
    plain::clear();
}
