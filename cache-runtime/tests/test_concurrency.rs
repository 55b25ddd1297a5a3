//! Single flight: concurrent callers of one key run the body once; different
//! keys never wait for each other. Sync, async on tokio, and async with no
//! runtime at all.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use cache_runtime::{cache_data, cache_resource};
use common::{Yield, block_on};

const CALLERS: usize = 32;

#[test]
fn sync_callers_of_one_key_compute_once() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn slow(x: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        thread::sleep(Duration::from_millis(100));
        x * 2
    }
    let barrier = Arc::new(Barrier::new(CALLERS));
    let handles: Vec<_> = (0..CALLERS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                slow(21)
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 42);
    }
    assert_eq!(CALLS.load(SeqCst), 1);
    let stats = slow::stats();
    assert_eq!((stats.misses, stats.hits), (1, CALLERS as u64 - 1));
}

#[test]
fn different_keys_do_not_wait_for_each_other() {
    #[cache_data]
    fn slow_key(x: u64) -> u64 {
        thread::sleep(Duration::from_millis(300));
        x
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..8).map(|x| thread::spawn(move || slow_key(x))).collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_millis(300 * 4),
        "8 distinct keys ran in parallel, not one after another ({:?})",
        start.elapsed()
    );
}

#[test]
fn sync_resource_callers_share_one_instance() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_resource]
    fn pool(url: &str) -> Vec<String> {
        CALLS.fetch_add(1, SeqCst);
        thread::sleep(Duration::from_millis(100));
        vec![url.to_owned()]
    }
    let barrier = Arc::new(Barrier::new(CALLERS));
    let handles: Vec<_> = (0..CALLERS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                pool("db://x")
            })
        })
        .collect();
    let pools: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(CALLS.load(SeqCst), 1);
    assert!(pools.iter().all(|p| Arc::ptr_eq(p, &pools[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_callers_of_one_key_compute_once() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    async fn fetch(id: u64) -> String {
        CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        format!("row {id}")
    }
    let tasks: Vec<_> = (0..CALLERS).map(|_| tokio::spawn(fetch(7))).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "row 7");
    }
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(fetch::stats().misses, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_resources_are_shared() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    struct Client {
        id: usize,
    }
    #[cache_resource]
    async fn client(region: String) -> Client {
        let id = CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = region;
        Client { id }
    }
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| tokio::spawn(client("eu".into())))
        .collect();
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.unwrap());
    }
    assert_eq!(CALLS.load(SeqCst), 1);
    assert!(
        clients
            .iter()
            .all(|c| Arc::ptr_eq(c, &clients[0]) && c.id == 0)
    );
}

#[tokio::test]
async fn a_cancelled_caller_pauses_its_computation_for_the_next_caller() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    async fn slow(x: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        x
    }
    // The first caller gives up half way; its computation is not lost: the
    // next caller of the key resumes it, as Streamlit's shared future does.
    assert!(
        tokio::time::timeout(Duration::from_millis(20), slow(3))
            .await
            .is_err()
    );
    assert_eq!(slow(3).await, 3);
    assert_eq!(slow(3).await, 3);
    assert_eq!(CALLS.load(SeqCst), 1);
    let stats = slow::stats();
    assert_eq!((stats.misses, stats.hits), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_finish_the_computation_of_a_cancelled_caller() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    async fn slow_report(day: u32) -> String {
        CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        format!("report {day}")
    }
    let first = tokio::spawn(slow_report(9));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiters: Vec<_> = (0..4).map(|_| tokio::spawn(slow_report(9))).collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), "report 9");
    }
    assert_eq!(
        CALLS.load(SeqCst),
        1,
        "the waiters kept the one computation going"
    );
}

#[test]
fn a_cancelled_borrowing_caller_lets_a_waiter_compute() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    // A body that borrows its caller's arguments cannot outlive that caller.
    #[cache_data]
    async fn greet(name: &str) -> String {
        CALLS.fetch_add(1, SeqCst);
        Yield(3).await;
        format!("hello {name}")
    }
    let mut first = Box::pin(greet("ada"));
    let waker = Waker::from(Arc::new(NoWake));
    let mut context = Context::from_waker(&waker);
    assert!(first.as_mut().poll(&mut context).is_pending());
    drop(first);
    assert_eq!(block_on(greet("ada")), "hello ada");
    assert_eq!(block_on(greet("ada")), "hello ada");
    assert_eq!(CALLS.load(SeqCst), 2);
}

struct NoWake;
impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn async_single_flight_without_any_runtime() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    async fn compute(x: u64) -> u64 {
        CALLS.fetch_add(1, SeqCst);
        thread::sleep(Duration::from_millis(100));
        x + 1
    }
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                block_on(compute(1))
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 2);
    }
    assert_eq!(CALLS.load(SeqCst), 1);
}
