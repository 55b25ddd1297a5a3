//! `&self` is hashed when `Self: Serialize`; `#[cache(skip)] &self` leaves it out.
#![deny(warnings)]
use cache_runtime::cache_data;
use serde::Serialize;

#[derive(Serialize)]
struct Rect {
    w: u32,
    h: u32,
}

impl Rect {
    #[cache_data]
    fn area(&self) -> u32 {
        self.w * self.h
    }

    #[cache_data]
    fn scaled_area(&self, factor: u32) -> u32 {
        self.w * self.h * factor
    }
}

struct Client {
    base: String,
}

impl Client {
    #[cache_data(ttl = "1m")]
    fn url(#[cache(skip)] &self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// An associated function must mention `Self` somewhere (here a
    /// `where` clause) so the macro knows it is inside an `impl`.
    #[cache_data]
    fn version() -> String
    where
        Self: Sized,
    {
        String::from("1.0")
    }
}

fn main() {
    let r = Rect { w: 2, h: 3 };
    assert_eq!(r.area(), 6);
    assert_eq!(r.area(), 6);
    assert_eq!(Rect::area_cache_stats().hits, 1);
    assert!(r.area_cache_invalidate());
    assert_eq!(r.scaled_area(2), 12);
    assert!(r.scaled_area_cache_invalidate(2));
    Rect::area_cache_clear();

    let c = Client {
        base: String::from("https://example.invalid"),
    };
    assert_eq!(c.url("a"), "https://example.invalid/a");
    assert!(Client::url_cache_invalidate("a"));
    assert_eq!(Client::version(), "1.0");
    Client::version_cache_clear();
}
