//! `refresh_mode = "background"`: a value past its `ttl` but within its
//! stale window is served at once while one refresh per key runs on a
//! small, bounded pool of [`workers`] threads (4 unless
//! `CACHE_RUNTIME_REFRESH_WORKERS` says otherwise; 0 turns refreshes off, so
//! stale values are served until the hard deadline). A saturated pool skips
//! a refresh rather than queueing it; a refresh that fails or panics keeps
//! the stale value and rests its key for [`COOLDOWN`].
//!
//! An async refresh is polled to completion on a worker, unless an executor
//! was installed with [`set_async_spawner`]: a body that needs its runtime's
//! reactor (tokio's timers and sockets) needs one.

// How it works: an entry's deadline stays its `ttl` (so front tables stop
// serving it then); moka keeps it until the hard deadline (`ttl` +
// `max_stale`), and a call that missed finds it there. The refresh is an
// ordinary flight of its key, so what the core guarantees holds for it: one
// computation per key (a caller past the hard deadline waits for it rather
// than computing again), and a clear or invalidate while it runs discards
// its value.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tracing::Instrument;

use crate::core::{Built, Core, EntryRef, Flight, lock};
use crate::key::{Key, StoreKey};
use crate::observe::{self, Computation, Computed, Outcome, Started};
use crate::scope::SessionScope;

/// How long a key whose refresh failed is not refreshed again (its stale
/// value is served meanwhile), as in Streamlit.
pub const COOLDOWN: Duration = Duration::from_secs(60);

/// Background refreshes at once, unless `CACHE_RUNTIME_REFRESH_WORKERS` says.
const DEFAULT_WORKERS: usize = 4;

/// A future an async refresh runs as, for [`set_async_spawner`].
pub type RefreshTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

static ASYNC_SPAWNER: OnceLock<fn(RefreshTask)> = OnceLock::new();

/// Runs async background refreshes on your executor instead of polling them
/// to completion on a refresh worker; needed when a cached `async fn` uses
/// its runtime's reactor (tokio's timers or sockets). Call it once at start-
/// up; `false` if a spawner was already installed (the first one stays).
/// The pool's bound still applies: at most [`workers`] refreshes at once.
///
/// ```
/// # let runtime = tokio::runtime::Runtime::new().unwrap();
/// # let _inside = runtime.enter();
/// // In a tokio app (refreshes are spawned from the calling task):
/// cache_runtime::refresh::set_async_spawner(|task| {
///     tokio::spawn(task);
/// });
/// ```
pub fn set_async_spawner(spawner: fn(RefreshTask)) -> bool {
    ASYNC_SPAWNER.set(spawner).is_ok()
}

/// How many background refreshes may run at once (the pool's size):
/// `CACHE_RUNTIME_REFRESH_WORKERS`, 4 by default, read once.
pub fn workers() -> usize {
    pool().workers
}

/// Work for the pool.
pub(crate) enum Job {
    Blocking(Box<dyn FnOnce() + Send>),
    Async(RefreshTask),
}

/// The refresh workers, started on first use.
struct Pool {
    workers: usize,
    /// Refreshes submitted and not finished; never more than `workers`.
    busy: Arc<AtomicUsize>,
    sender: Mutex<Option<SyncSender<Job>>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let workers = match std::env::var("CACHE_RUNTIME_REFRESH_WORKERS") {
            Err(_) => DEFAULT_WORKERS,
            Ok(text) => text.trim().parse().unwrap_or_else(|_| {
                tracing::warn!(
                    value = text,
                    "CACHE_RUNTIME_REFRESH_WORKERS is not a number; using {DEFAULT_WORKERS}"
                );
                DEFAULT_WORKERS
            }),
        };
        Pool {
            workers,
            busy: Arc::new(AtomicUsize::new(0)),
            sender: Mutex::new(None),
        }
    })
}

/// Hands `job` to the pool; `false` (and nothing runs) when every worker is
/// busy.
fn submit(job: Job) -> bool {
    // The refresh runs in the caller's session, if any: what its body calls
    // of other session-scoped functions stays that session's.
    let job = match SessionScope::current() {
        None => job,
        Some(scope) => match job {
            Job::Blocking(run) => Job::Blocking(Box::new(move || scope.run(run))),
            Job::Async(task) => Job::Async(Box::pin(scope.run_async(task))),
        },
    };
    let pool = pool();
    if pool.busy.fetch_add(1, Ordering::AcqRel) >= pool.workers {
        pool.busy.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    let permit = Permit(Arc::clone(&pool.busy));
    let job = match job {
        Job::Async(task) => match ASYNC_SPAWNER.get() {
            Some(spawn) => {
                spawn(Box::pin(async move {
                    let _permit = permit;
                    task.await;
                }));
                return true;
            }
            None => Job::Async(task),
        },
        blocking => blocking,
    };
    let mut sender = pool.sender.lock().unwrap_or_else(PoisonError::into_inner);
    let sender = sender.get_or_insert_with(|| start_workers(pool.workers));
    // Room for every permit: this never blocks. It fails only when no worker
    // could be started: the permit is returned, the job dropped unrun.
    if sender.send(job).is_err() {
        return false;
    }
    std::mem::forget(permit); // released by the worker that runs it
    true
}

/// Returns a pool slot when dropped.
struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn start_workers(workers: usize) -> SyncSender<Job> {
    let (sender, receiver) = sync_channel::<Job>(workers);
    let receiver = Arc::new(Mutex::new(receiver));
    for index in 0..workers {
        let receiver = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("cache-refresh-{index}"))
            .spawn(move || work(&receiver));
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start a cache refresh worker");
        }
    }
    sender
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = job else { return };
        let _permit = Permit(Arc::clone(&pool().busy));
        // A job catches its own panics; this keeps the worker alive anyway.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| match job {
            Job::Blocking(run) => run(),
            Job::Async(task) => block_on(task),
        }));
    }
}

/// Polls `future` to completion on this thread, parking between wake-ups.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// A refresh's flight until the refresh ends: settled as failed if the job
/// is dropped before it ends, so no caller waits on it forever.
struct Unrun<V: Send + Sync + 'static, K: StoreKey> {
    core: &'static Core<V, K>,
    built: &'static Built<V, K>,
    key: Key,
    flight: Arc<Flight<V>>,
}

/// How a refresh's body ended, for observers: a value, `Err` (`None`), or
/// a panic.
fn computed_as<V, P>(computed: &Result<Option<V>, P>) -> Computed {
    match computed {
        Ok(Some(_)) => Computed::Ok,
        Ok(None) => Computed::Err,
        Err(_) => Computed::Abandoned,
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Unrun<V, K> {
    /// The refresh's computation starts (announced and traced).
    fn begin_computation(&self) -> Computation {
        self.core.begin_computation(&self.key, true)
    }

    /// See [`Core::end_refresh`].
    fn end(self, computed: Option<V>, start: Instant) -> Option<EntryRef<V>> {
        self.core
            .end_refresh(self.built, &self.key, &self.flight, computed, start)
    }
}

impl<V: Send + Sync + 'static, K: StoreKey> Drop for Unrun<V, K> {
    fn drop(&mut self) {
        // A no-op once `end` settled it.
        self.core.settle(self.built, &self.key, &self.flight, None);
    }
}

/// A refresh's computation: the body, with its own copies of the arguments.
pub(crate) enum Refresh<V> {
    Blocking(Box<dyn FnOnce() -> Option<V> + Send>),
    Async(Pin<Box<dyn Future<Output = Option<V>> + Send>>),
}

impl<V: Send + Sync + 'static, K: StoreKey> Core<V, K> {
    /// After a miss of a background-refresh function: its stale entry, if it
    /// is within its stale window and `accept`s it (a resource's
    /// `validate`), served as a hit while a refresh recomputes it. The
    /// refresh is `make` (the body with its own copies of the arguments)
    /// turned into a [`Refresh`], only if one starts; `Err(make)` hands it
    /// back when there is nothing stale to serve. `after` runs once the
    /// refresh ended, with its value if a clear discarded it (a resource
    /// releases it).
    pub(crate) fn serve_stale<M>(
        &'static self,
        built: &'static Built<V, K>,
        key: &Key,
        started: Option<Started>,
        accept: impl FnOnce(&V) -> bool,
        (make, refresh): (M, impl FnOnce(M) -> Refresh<V>),
        after: impl FnOnce(Option<EntryRef<V>>) + Send + 'static,
    ) -> Result<EntryRef<V>, M> {
        let Some(entry) = self.get_stale(built, key.as_ref()) else {
            return Err(make);
        };
        if !accept(&entry.value) {
            return Err(make);
        }
        self.counters.hit();
        self.counters.stale_hit();
        observe::finish(started, self.identity.name, self.kind, Outcome::Stale);
        if entry.is_current() {
            // Refreshed meanwhile.
            return Ok(entry);
        }
        if self.is_cooling_down(key) {
            return Ok(entry);
        }
        let Some(flight) = self.start_refresh(built, key) else {
            return Ok(entry);
        };
        // Settles the flight (its waiters compute themselves) if the job is
        // dropped unrun: a spawner that discards it, a runtime shutting down.
        let unrun = Unrun {
            core: self,
            built,
            key: key.clone(),
            flight: Arc::clone(&flight),
        };
        let job = match refresh(make) {
            Refresh::Blocking(compute) => Job::Blocking(Box::new(move || {
                let computation = unrun.begin_computation();
                let start = Instant::now();
                let computed = computation
                    .span()
                    .in_scope(|| std::panic::catch_unwind(AssertUnwindSafe(compute)));
                computation.end(computed_as(&computed));
                after(unrun.end(computed.ok().flatten(), start));
            })),
            Refresh::Async(compute) => Job::Async(Box::pin(async move {
                let computation = unrun.begin_computation();
                let start = Instant::now();
                let computed = AssertUnwindSafe(compute)
                    .catch_unwind()
                    .instrument(computation.span().clone())
                    .await;
                computation.end(computed_as(&computed));
                after(unrun.end(computed.ok().flatten(), start));
            })),
        };
        if !submit(job) {
            self.counters.refresh_skipped();
            self.settle(built, key, &flight, None);
        }
        Ok(entry)
    }

    /// Whether `key`'s last refresh failed less than [`COOLDOWN`] ago.
    fn is_cooling_down(&self, key: &Key) -> bool {
        lock(&self.cooldowns)
            .as_ref()
            .and_then(|cooldowns| cooldowns.get(key))
            .is_some_and(|until| *until > Instant::now())
    }

    /// `key`'s refresh failed: no other starts for [`COOLDOWN`].
    fn cool_down(&self, key: &Key) {
        let now = Instant::now();
        let mut cooldowns = lock(&self.cooldowns);
        let cooldowns = cooldowns.get_or_insert_with(HashMap::new);
        cooldowns.retain(|_, until| *until > now);
        cooldowns.insert(key.clone(), now + COOLDOWN);
    }

    /// Stores a refresh's value (unless a clear or invalidate discarded it),
    /// or keeps the stale one and cools the key down. Returns the value a
    /// clear discarded, for `after`.
    fn end_refresh(
        &self,
        built: &Built<V, K>,
        key: &Key,
        flight: &Arc<Flight<V>>,
        computed: Option<V>,
        start: Instant,
    ) -> Option<EntryRef<V>> {
        let Some(value) = computed else {
            tracing::warn!(
                function = self.identity.name,
                cooldown_secs = COOLDOWN.as_secs(),
                "a background refresh failed or panicked; the stale value is kept and the key is \
                 not refreshed again during the cooldown"
            );
            self.counters.refresh_failed(start.elapsed());
            self.cool_down(key);
            self.settle(built, key, flight, None);
            return None;
        };
        let entry = self.entry(built, value, None);
        let elapsed = start.elapsed();
        let stored = self.settle(built, key, flight, Some(EntryRef::clone(&entry)));
        self.counters.refreshed(elapsed);
        (!stored).then_some(entry)
    }
}
