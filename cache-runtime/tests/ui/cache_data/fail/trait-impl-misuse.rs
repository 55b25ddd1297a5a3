// In a trait impl: a resource would change the trait's signature (return
// an `Arc` from `cache_data` instead), and a method's type parameters cannot
// be made `'static` there.
use std::sync::Arc;

use cache_runtime::{cache_data, cache_resource};

trait Connect {
    fn connect(url: &str) -> Arc<String>;
    fn render<V: std::fmt::Debug>(value: V) -> String;
}

struct Db;

impl Connect for Db {
    #[cache_resource(trait_impl)]
    fn connect(url: &str) -> Arc<String> {
        Arc::new(url.to_owned())
    }

    #[cache_data(trait_impl)]
    fn render<V: std::fmt::Debug>(value: V) -> String {
        format!("{value:?}")
    }
}

fn main() {}
