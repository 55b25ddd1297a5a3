//! `method` marks an associated function that mentions neither `self` nor
//! `Self`: its controls become associated functions of the `impl`.
#![deny(warnings)]

use std::sync::Arc;

use cache_runtime::{cache_data, cache_resource};

struct Db;

struct Pool {
    url: String,
}

impl Db {
    #[cache_data(method, ttl = "1m")]
    fn version(build: u32) -> String {
        format!("v{build}")
    }

    #[cache_resource(method)]
    fn pool(url: &str) -> Pool {
        Pool { url: url.to_owned() }
    }
}

fn main() {
    assert_eq!(Db::version(3), "v3");
    assert_eq!(Db::version_cache_stats().misses, 1);
    Db::version_cache_clear();
    let pool: Arc<Pool> = Db::pool("db://a");
    assert_eq!(pool.url, "db://a");
    assert!(Arc::ptr_eq(&pool, &Db::pool("db://a")));
    Db::pool_cache_clear();
}
