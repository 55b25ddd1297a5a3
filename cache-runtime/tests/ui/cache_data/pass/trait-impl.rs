//! Methods of trait impls, `#[cache_data(trait_impl)]`: sync, async, with
//! arguments and without, in a generic impl too.
#![deny(warnings)]
use std::sync::Arc;

use cache_runtime::cache_data;
use serde::Serialize;

trait Shape {
    fn area(&self) -> f64;
    fn describe(&self, prefix: &str) -> String;
    fn unit() -> Arc<String>;
}

#[derive(Serialize)]
struct Circle {
    radius: f64,
}

impl Shape for Circle {
    #[cache_data(trait_impl)]
    fn area(&self) -> f64 {
        3.0 * self.radius * self.radius
    }

    #[cache_data(trait_impl, ttl = "10m", max_entries = 100)]
    fn describe(#[cache(skip)] &self, prefix: &str) -> String {
        format!("{prefix} circle")
    }

    #[cache_data(trait_impl)]
    fn unit() -> Arc<String> {
        Arc::new("cm".to_owned())
    }
}

trait Load {
    async fn load(&self, id: u32) -> Result<String, std::io::Error>;
}

#[derive(Serialize)]
struct Repo<T> {
    tag: T,
}

impl<T: Serialize + Send + Sync + 'static> Load for Repo<T> {
    #[cache_data(trait_impl)]
    async fn load(&self, id: u32) -> Result<String, std::io::Error> {
        Ok(format!("#{id}"))
    }
}

fn main() {
    let circle = Circle { radius: 1.0 };
    assert_eq!(circle.area(), 3.0);
    assert_eq!(circle.describe("a"), "a circle");
    assert_eq!(*Circle::unit(), "cm");
    let _ = Repo { tag: 1u8 }.load(1);
    assert!(cache_runtime::clear_function(&format!(
        "{}::area",
        std::any::type_name::<Circle>()
    )));
}
