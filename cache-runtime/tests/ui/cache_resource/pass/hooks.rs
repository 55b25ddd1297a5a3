//! `validate` and `on_release`, singletons, keyed resources, `Result` and `async`.
#![deny(warnings)]
use cache_runtime::cache_resource;
use std::sync::Arc;

struct Connection {
    url: String,
}

fn is_alive(conn: &Connection) -> bool {
    !conn.url.is_empty()
}

fn close(_: &Connection) {}

#[cache_resource(validate = is_alive, on_release = close, ttl = "1h", max_entries = 4)]
fn connect(url: &str) -> Connection {
    Connection {
        url: url.to_owned(),
    }
}

#[cache_resource]
fn settings() -> Vec<String> {
    vec![String::from("a")]
}

#[cache_resource]
fn try_open() -> Result<Connection, String> {
    Ok(Connection {
        url: String::from("db://x"),
    })
}

#[cache_resource]
async fn open_async(url: String) -> std::io::Result<Connection> {
    Ok(Connection { url })
}

#[cache_resource]
async fn pool() -> Vec<u8> {
    vec![1, 2, 3]
}

fn main() {
    let a: Arc<Connection> = connect("db://a");
    assert!(Arc::ptr_eq(&a, &connect("db://a")));
    assert!(Arc::ptr_eq(&settings(), &settings()));
    let c: Result<Arc<Connection>, String> = try_open();
    assert_eq!(c.unwrap().url, "db://x");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let d: Arc<Connection> = rt.block_on(open_async(String::from("q"))).unwrap();
    assert_eq!(d.url, "q");
    let p1 = rt.block_on(pool());
    assert!(Arc::ptr_eq(&p1, &rt.block_on(pool())));
    connect::clear();
}
