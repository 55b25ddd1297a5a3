//! Detects a cached function that calls itself with the same key, which would
//! otherwise wait for its own result forever.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::key::Key;

thread_local! {
    /// The (cache, key) pairs being computed on this thread, innermost last.
    static COMPUTING: RefCell<Vec<(usize, Key)>> = const { RefCell::new(Vec::new()) };
}

/// Panics if this thread (or, for async, this task) is already computing `key`
/// in the cache identified by `cache`.
pub(crate) fn check(cache: usize, key: &Key, name: &str) {
    let recursive =
        COMPUTING.with_borrow(|stack| stack.iter().any(|(c, k)| *c == cache && k == key));
    if recursive {
        panic!(
            "`{name}` called itself with the same arguments while computing them; \
             the inner call would wait for the outer one forever. A recursive cached \
             function must recurse on different arguments."
        );
    }
}

/// How many cached computations are running on this thread (or in the task
/// being polled), outermost included.
pub(crate) fn depth() -> usize {
    COMPUTING.with_borrow(Vec::len)
}

/// Marks `key` as being computed until dropped.
pub(crate) struct Computing(());

impl Computing {
    pub(crate) fn enter(cache: usize, key: &Key) -> Self {
        COMPUTING.with_borrow_mut(|stack| stack.push((cache, key.clone())));
        Computing(())
    }
}

impl Drop for Computing {
    fn drop(&mut self) {
        COMPUTING.with_borrow_mut(|stack| stack.pop());
    }
}

/// A future that marks `key` as being computed while it is polled, so that a
/// nested call from the same task is caught whatever thread polls it.
pub(crate) struct Tracked<F> {
    cache: usize,
    key: Key,
    inner: Pin<Box<F>>,
}

impl<F: Future> Tracked<F> {
    pub(crate) fn new(cache: usize, key: Key, inner: F) -> Self {
        Self::boxed(cache, key, Box::pin(inner))
    }

    /// [`Tracked::new`] for a future already boxed (not boxed twice).
    pub(crate) fn boxed(cache: usize, key: Key, inner: Pin<Box<F>>) -> Self {
        Self { cache, key, inner }
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _computing = Computing::enter(this.cache, &this.key);
        this.inner.as_mut().poll(cx)
    }
}
