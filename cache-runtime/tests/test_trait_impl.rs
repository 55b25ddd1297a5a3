//! Methods of trait impls, `#[cache_data(trait_impl)]`: cached where they
//! are, with their controls reached by name (a trait impl can hold nothing
//! but the trait's items).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::cache_data;
use serde::Serialize;

static AREAS: AtomicUsize = AtomicUsize::new(0);
static OPENS: AtomicUsize = AtomicUsize::new(0);

trait Shape {
    fn area(&self) -> f64;
    fn scaled(&self, factor: u32) -> f64;
}

#[derive(Serialize)]
struct Circle {
    radius: f64,
}

#[derive(Serialize)]
struct Square {
    side: f64,
}

impl Shape for Circle {
    #[cache_data(trait_impl)]
    fn area(&self) -> f64 {
        AREAS.fetch_add(1, SeqCst);
        3.0 * self.radius * self.radius
    }

    #[cache_data(trait_impl, max_entries = 10)]
    fn scaled(&self, factor: u32) -> f64 {
        self.area() * f64::from(factor)
    }
}

impl Shape for Square {
    #[cache_data(trait_impl)]
    fn area(&self) -> f64 {
        AREAS.fetch_add(1, SeqCst);
        self.side * self.side
    }

    #[cache_data(trait_impl)]
    fn scaled(&self, factor: u32) -> f64 {
        self.area() * f64::from(factor)
    }
}

fn name_of<T>(method: &str) -> String {
    format!("{}::{method}", std::any::type_name::<T>())
}

#[test]
fn trait_impl_methods_are_cached_per_impl_and_controlled_by_name() {
    let circle = Circle { radius: 2.0 };
    let square = Square { side: 2.0 };
    assert_eq!(circle.area(), 12.0);
    assert_eq!(circle.area(), 12.0);
    assert_eq!(square.area(), 4.0, "another impl: its own cache");
    assert_eq!(AREAS.load(SeqCst), 2);
    // Through a trait object too.
    let shapes: Vec<Box<dyn Shape>> = vec![Box::new(Circle { radius: 2.0 }), Box::new(square)];
    assert_eq!(shapes[0].scaled(2), 24.0);
    assert_eq!(shapes[1].scaled(3), 12.0);
    assert_eq!(AREAS.load(SeqCst), 2, "the inner area calls hit");

    let area = cache_runtime::function(&name_of::<Circle>("area")).expect("called");
    assert_eq!(area.name(), "test_trait_impl::Circle::area");
    assert_eq!((area.stats().hits, area.stats().misses), (2, 1));
    let scaled = cache_runtime::function(&name_of::<Circle>("scaled")).expect("called");
    assert_eq!(
        scaled.info()[0].max_entries,
        Some(10),
        "its arguments apply"
    );

    area.clear();
    assert_eq!(area.stats().entries, 0);
    circle.area();
    assert_eq!(AREAS.load(SeqCst), 3, "cleared: computed again");
    assert!(cache_runtime::clear_function(&name_of::<Square>("area")));
    assert_eq!(
        cache_runtime::function(&name_of::<Square>("area"))
            .unwrap()
            .stats()
            .entries,
        0
    );
}

struct Pool {
    url: String,
}

trait Connect {
    fn connect(url: &str) -> Arc<Pool>;
}

struct Postgres;

impl Connect for Postgres {
    /// A shared value in a trait impl: `cache_data` of an `Arc`, so every
    /// caller gets a clone of the one `Arc`.
    #[cache_data(trait_impl)]
    fn connect(url: &str) -> Arc<Pool> {
        OPENS.fetch_add(1, SeqCst);
        Arc::new(Pool {
            url: url.to_owned(),
        })
    }
}

#[test]
fn an_arc_from_a_trait_impl_is_shared_by_every_caller() {
    let a = Postgres::connect("postgres://a");
    let b = Postgres::connect("postgres://a");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(a.url, "postgres://a");
    assert_eq!(OPENS.load(SeqCst), 1);
}

trait Render {
    async fn render(&self) -> String;
}

#[derive(Serialize)]
struct Page(u32);

impl Render for Page {
    #[cache_data(trait_impl)]
    async fn render(&self) -> String {
        format!("page {}", self.0)
    }
}

#[test]
fn async_trait_impl_methods_are_cached() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(Page(1).render()), "page 1");
    assert_eq!(runtime.block_on(Page(1).render()), "page 1");
    let render = cache_runtime::function(&name_of::<Page>("render")).unwrap();
    assert_eq!((render.stats().hits, render.stats().misses), (1, 1));
}
