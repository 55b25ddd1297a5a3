//! Recursion: on different keys it works; on the same key it fails loudly
//! instead of deadlocking.

use std::panic::catch_unwind;

use cache_runtime::cache_data;

#[cache_data]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn recursion_on_different_keys_is_memoized() {
    assert_eq!(fib(80), 23_416_728_348_467_685);
    assert_eq!(fib::stats().misses, 81);
}

#[cache_data]
fn loops_forever(n: u64) -> u64 {
    loops_forever(n) + 1
}

#[test]
fn same_key_recursion_panics_with_a_clear_message() {
    let panic = catch_unwind(|| loops_forever(1)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("loops_forever` called itself with the same arguments"),
        "{message}"
    );
    // Nothing is left locked: a later call panics the same way rather than hanging.
    assert!(catch_unwind(|| loops_forever(1)).is_err());
}

#[cache_data]
async fn async_loops(n: u64) -> u64 {
    Box::pin(async_loops(n)).await + 1
}

#[tokio::test]
async fn async_same_key_recursion_panics_too() {
    let outcome = tokio::spawn(async_loops(3)).await;
    let panic = outcome.unwrap_err().into_panic();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("called itself with the same arguments"),
        "{message}"
    );
}
