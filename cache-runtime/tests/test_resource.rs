//! `#[cache_resource]`: one shared `Arc`, `validate`, `on_release`, singletons.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::Duration;

use cache_runtime::cache_resource;

/// Neither `Clone` nor `Serialize`, and holds a lock: resources need neither.
struct Connection {
    url: String,
    alive: AtomicBool,
    queries: Mutex<Vec<String>>,
}

#[test]
fn the_same_arc_for_every_caller() {
    #[cache_resource]
    fn connect(url: &str) -> Connection {
        Connection {
            url: url.to_owned(),
            alive: AtomicBool::new(true),
            queries: Mutex::new(Vec::new()),
        }
    }
    let a = connect("db://a");
    a.queries.lock().unwrap().push("select 1".into());
    let again = connect("db://a");
    assert!(Arc::ptr_eq(&a, &again));
    assert_eq!(
        again.queries.lock().unwrap().len(),
        1,
        "mutations are visible to every caller"
    );
    assert_eq!(connect("db://b").url, "db://b");
}

#[test]
fn validate_runs_on_every_hit_and_replaces_dead_values() {
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    static RELEASED: AtomicUsize = AtomicUsize::new(0);
    fn is_alive(connection: &Connection) -> bool {
        connection.alive.load(SeqCst)
    }
    fn close(_: &Connection) {
        RELEASED.fetch_add(1, SeqCst);
    }
    #[cache_resource(validate = is_alive, on_release = close)]
    fn connect(url: &str) -> Connection {
        OPENED.fetch_add(1, SeqCst);
        Connection {
            url: url.to_owned(),
            alive: AtomicBool::new(true),
            queries: Mutex::new(Vec::new()),
        }
    }
    let first = connect("db://v");
    assert!(Arc::ptr_eq(&first, &connect("db://v")));
    first.alive.store(false, SeqCst);
    let second = connect("db://v");
    assert!(
        !Arc::ptr_eq(&first, &second),
        "a dead connection is replaced"
    );
    assert_eq!(OPENED.load(SeqCst), 2);
    assert_eq!(
        RELEASED.load(SeqCst),
        1,
        "the dead connection was released (Streamlit does not)"
    );
}

#[test]
fn on_release_fires_once_per_entry_for_every_way_out() {
    static RELEASED: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    fn release(value: &u32) {
        RELEASED.lock().unwrap().push(*value);
    }
    #[cache_resource(max_entries = 2, on_release = release)]
    fn handle(id: u32) -> u32 {
        id
    }
    handle(1);
    handle(2);
    handle(3); // evicts 1
    assert_eq!(*RELEASED.lock().unwrap(), vec![1], "eviction");
    assert!(handle::invalidate(2));
    assert_eq!(*RELEASED.lock().unwrap(), vec![1, 2], "invalidate");
    handle::clear();
    assert_eq!(*RELEASED.lock().unwrap(), vec![1, 2, 3], "clear");
    handle::clear();
    assert_eq!(
        RELEASED.lock().unwrap().len(),
        3,
        "nothing is released twice"
    );
}

#[test]
fn on_release_fires_on_expiry() {
    static RELEASED: AtomicUsize = AtomicUsize::new(0);
    fn release(_: &String) {
        RELEASED.fetch_add(1, SeqCst);
    }
    #[cache_resource(ttl = "100ms", on_release = release)]
    fn token(user: &str) -> String {
        format!("token-for-{user}")
    }
    let first = token("ada");
    sleep(Duration::from_millis(200));
    let second = token("ada");
    assert!(!Arc::ptr_eq(&first, &second), "expired");
    handle_pending();
    assert_eq!(RELEASED.load(SeqCst), 1);

    fn handle_pending() {
        // Expiry is applied lazily; stats() runs pending maintenance.
        let _ = token::stats();
    }
}

#[test]
fn a_panicking_on_release_is_contained() {
    fn explode(_: &u8) {
        panic!("release failed");
    }
    #[cache_resource(on_release = explode)]
    fn thing(x: u8) -> u8 {
        x
    }
    thing(1);
    thing::clear();
    assert_eq!(thing::stats().entries, 0);
    assert_eq!(*thing(1), 1);
}

#[test]
fn zero_argument_resources_are_singletons() {
    static BUILT: AtomicUsize = AtomicUsize::new(0);
    static RELEASED: AtomicUsize = AtomicUsize::new(0);
    struct Model {
        weights: Vec<f32>,
    }
    fn unload(_: &Model) {
        RELEASED.fetch_add(1, SeqCst);
    }
    #[cache_resource(on_release = unload)]
    fn model() -> Model {
        BUILT.fetch_add(1, SeqCst);
        Model {
            weights: vec![0.5; 16],
        }
    }
    let a = model();
    for _ in 0..1000 {
        assert!(Arc::ptr_eq(&a, &model()));
    }
    assert_eq!(BUILT.load(SeqCst), 1);
    assert_eq!(model::stats().hits, 1000);
    model::clear();
    assert_eq!(RELEASED.load(SeqCst), 1);
    let b = model();
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(b.weights.len(), 16);
    assert_eq!(BUILT.load(SeqCst), 2);
}

#[test]
fn singleton_validate_and_result() {
    static HEALTHY: AtomicBool = AtomicBool::new(true);
    static BUILT: AtomicUsize = AtomicUsize::new(0);
    fn healthy(_: &String) -> bool {
        HEALTHY.load(SeqCst)
    }
    #[cache_resource(validate = healthy)]
    fn service() -> Result<String, String> {
        match BUILT.fetch_add(1, SeqCst) {
            0 => Err("not yet".into()),
            n => Ok(format!("service #{n}")),
        }
    }
    assert!(service().is_err());
    let first: Arc<String> = service().unwrap();
    assert_eq!(*first, "service #1");
    assert!(Arc::ptr_eq(&first, &service().unwrap()));
    HEALTHY.store(false, SeqCst);
    let second = service().unwrap();
    HEALTHY.store(true, SeqCst);
    assert_eq!(*second, "service #2");
    assert!(Arc::ptr_eq(&second, &service().unwrap()));
}

#[tokio::test]
async fn async_resources_validate_and_release() {
    static RELEASED: AtomicUsize = AtomicUsize::new(0);
    struct Pool {
        healthy: AtomicBool,
    }
    fn healthy(pool: &Pool) -> bool {
        pool.healthy.load(SeqCst)
    }
    fn close(_: &Pool) {
        RELEASED.fetch_add(1, SeqCst);
    }
    #[cache_resource(validate = healthy, on_release = close)]
    async fn pool(url: String) -> Pool {
        tokio::task::yield_now().await;
        let _ = url;
        Pool {
            healthy: AtomicBool::new(true),
        }
    }
    let a = pool("x".into()).await;
    assert!(Arc::ptr_eq(&a, &pool("x".into()).await));
    a.healthy.store(false, SeqCst);
    let b = pool("x".into()).await;
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(RELEASED.load(SeqCst), 1);
    pool::clear();
    assert_eq!(RELEASED.load(SeqCst), 2);
}
