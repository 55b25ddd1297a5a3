//! Errors and panics are never cached, and poison nothing.

use std::io;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use cache_runtime::{cache_data, cache_resource};

#[derive(Debug, PartialEq)]
struct NotClone;

#[test]
fn err_is_returned_and_not_cached() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn parse(text: &str) -> Result<u32, NotClone> {
        CALLS.fetch_add(1, SeqCst);
        text.parse().map_err(|_| NotClone)
    }
    assert_eq!(parse("x"), Err(NotClone));
    assert_eq!(parse("x"), Err(NotClone));
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "two failing calls run the body twice"
    );
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(CALLS.load(SeqCst), 3);
    let stats = parse::stats();
    assert_eq!((stats.errors, stats.entries), (2, 1));
}

#[test]
fn result_aliases_are_recognised() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn read(fail: bool) -> io::Result<Vec<u8>> {
        CALLS.fetch_add(1, SeqCst);
        if fail {
            Err(io::Error::other("disk on fire"))
        } else {
            Ok(vec![1, 2])
        }
    }
    assert!(read(true).is_err());
    assert!(read(true).is_err());
    assert_eq!(CALLS.load(SeqCst), 2);
    assert_eq!(read(false).unwrap(), vec![1, 2]);
    assert_eq!(read(false).unwrap(), vec![1, 2]);
    assert_eq!(CALLS.load(SeqCst), 3);
}

#[test]
fn question_mark_works_inside_the_body() {
    #[cache_data]
    fn sum(items: Vec<String>) -> Result<u64, std::num::ParseIntError> {
        let mut total = 0;
        for item in &items {
            total += item.parse::<u64>()?;
        }
        Ok(total)
    }
    assert_eq!(sum(vec!["1".into(), "2".into()]), Ok(3));
    assert!(sum(vec!["x".into()]).is_err());
}

#[test]
fn a_panic_caches_nothing_and_poisons_nothing() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn fragile(x: u32) -> u32 {
        if CALLS.fetch_add(1, SeqCst) == 0 {
            panic!("first call fails");
        }
        x
    }
    assert!(catch_unwind(|| fragile(1)).is_err());
    assert_eq!(fragile(1), 1);
    assert_eq!(fragile(1), 1);
    assert_eq!(CALLS.load(SeqCst), 2);
    assert_eq!(fragile::stats().errors, 1);
}

#[test]
fn waiters_of_a_failed_computation_compute_themselves() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn flaky(x: u32) -> Result<u32, String> {
        let call = CALLS.fetch_add(1, SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        if call == 0 {
            Err("the first computation fails".into())
        } else {
            Ok(x)
        }
    }
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                flaky(5)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_err()).count(),
        1,
        "only the owner sees its error"
    );
    assert!(results.iter().filter(|r| r.is_ok()).all(|r| *r == Ok(5)));
    assert_eq!(
        CALLS.load(SeqCst),
        2,
        "one waiter recomputed, the rest shared its value"
    );
}

#[test]
fn a_resource_panic_leaves_no_caller_waiting() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_resource]
    fn service() -> String {
        if CALLS.fetch_add(1, SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(50));
            panic!("first start fails");
        }
        "up".to_owned()
    }
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| catch_unwind(service).ok()))
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_none()).count(), 1);
    assert!(outcomes.iter().flatten().all(|s| **s == "up"));
}

#[tokio::test]
async fn async_err_and_panic_are_not_cached() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    async fn fetch(id: u64) -> Result<String, String> {
        let call = CALLS.fetch_add(1, SeqCst);
        tokio::task::yield_now().await;
        match call {
            0 => Err("timeout".into()),
            1 => panic!("boom"),
            _ => Ok(format!("item {id}")),
        }
    }
    assert!(fetch(1).await.is_err());
    assert!(
        tokio::spawn(fetch(1)).await.is_err(),
        "the panic propagates to its caller"
    );
    assert_eq!(fetch(1).await.unwrap(), "item 1");
    assert_eq!(fetch(1).await.unwrap(), "item 1");
    assert_eq!(CALLS.load(SeqCst), 3);
    assert_eq!(fetch::stats().entries, 1);
}
