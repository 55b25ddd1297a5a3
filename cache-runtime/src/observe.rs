//! The single source of events about cached calls: where each call's value
//! came from and how long it took, and when a computation starts.
//!
//! Everything that reports on calls — [`trace`] and [`trace_async`], a
//! spinner, metrics, a dashboard banner — is an observer of these events, so
//! they all agree. When nothing observes (no [`subscribe`]r, no `trace` in
//! progress anywhere) a call pays one relaxed atomic load for all of this.
//!
//! ```
//! use cache_runtime::{cache_data, trace, Outcome};
//!
//! #[cache_data]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! let (value, calls) = trace(|| square(3) + square(3));
//! assert_eq!(value, 18);
//! let outcomes: Vec<Outcome> = calls.iter().map(|call| call.outcome).collect();
//! assert_eq!(outcomes, [Outcome::Miss, Outcome::Hit]);
//! assert!(calls[0].function.ends_with("::square"));
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::config::{Kind, Spinner, Tier};

/// Where a call's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// From memory, or from a concurrent caller's computation of the same key.
    Hit,
    /// The body ran.
    Miss,
    /// Loaded from the disk tier (`persist = "disk"`).
    Disk,
    /// Loaded from the Redis tier (`persist = "redis"`).
    Redis,
    /// A stale value served while it is refreshed in the background.
    Stale,
    /// The arguments could not be made into a key: the body ran without the cache.
    Uncached,
}

impl Outcome {
    pub(crate) fn loaded(tier: Tier) -> Outcome {
        match tier {
            Tier::Disk => Outcome::Disk,
            Tier::Redis => Outcome::Redis,
        }
    }
}

/// One finished call of a cached function.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallRecord {
    /// The function's full name, as [`crate::FunctionInfo::name`] gives it.
    pub function: &'static str,
    /// The macro that cached it.
    pub kind: Kind,
    /// Where the value came from.
    pub outcome: Outcome,
    /// How long the call took, lookup included. An `Err` or a panic is
    /// recorded as [`Outcome::Miss`] too.
    pub duration: Duration,
    /// How many cached computations this call is nested in (0: outermost).
    pub depth: usize,
}

/// A miss about to run a function's body (or read its persistent tier), or
/// a background refresh about to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComputeStart {
    /// This computation, as its [`ComputeEnd`] names it.
    pub id: u64,
    /// The function's full name.
    pub function: &'static str,
    /// The macro that cached it.
    pub kind: Kind,
    /// Whether the function takes key arguments (Streamlit's spinner text
    /// says `f(...)` rather than `f()`).
    pub has_arguments: bool,
    /// How many cached computations this one is nested in (0: outermost).
    pub depth: usize,
    /// What its spinner says (`show_spinner`): by default Streamlit's
    /// "Running `load_rows(...)`."; `None` with `show_spinner = false`.
    pub spinner: Option<String>,
    /// Whether its spinner shows the time elapsed (`show_time = true`).
    pub show_time: bool,
    /// A background refresh rather than a caller's miss.
    pub refresh: bool,
    /// The session it runs in (`cache_runtime::session`), if its id is known.
    pub session: Option<String>,
}

/// A computation that [`ComputeStart`] announced has ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComputeEnd {
    /// The computation, as its [`ComputeStart`] named it.
    pub id: u64,
    /// The function's full name.
    pub function: &'static str,
    /// How long it ran.
    pub duration: Duration,
    /// How it ended.
    pub result: Computed,
}

/// How a computation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Computed {
    /// The body returned a value.
    Ok,
    /// The body returned `Err`.
    Err,
    /// The body panicked, or its caller was cancelled.
    Abandoned,
}

impl Computed {
    fn as_str(self) -> &'static str {
        match self {
            Computed::Ok => "ok",
            Computed::Err => "error",
            Computed::Abandoned => "abandoned",
        }
    }
}

/// Receives the events of every cached call in the process.
///
/// Methods are called on the calling thread, right after the event, so they
/// must be quick and must not block; both default to doing nothing.
pub trait Observer: Send + Sync + 'static {
    /// A miss starts computing.
    fn compute_started(&self, start: &ComputeStart) {
        let _ = start;
    }
    /// A computation ended.
    fn compute_finished(&self, end: &ComputeEnd) {
        let _ = end;
    }
    /// A call finished.
    fn call_finished(&self, record: &CallRecord) {
        let _ = record;
    }
}

/// Observers and trace scopes alive anywhere: zero means no work on any call.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Observers subscribed right now.
static SUBSCRIBED: AtomicUsize = AtomicUsize::new(0);

/// Observers of computations only ([`subscribe_computations`]): calls pay
/// nothing for them.
static COMPUTATIONS: AtomicUsize = AtomicUsize::new(0);

type Observers = Vec<(u64, Arc<dyn Observer>)>;
static OBSERVERS: RwLock<Observers> = RwLock::new(Vec::new());

thread_local! {
    /// The calls recorded by the `trace` scopes open on this thread, outermost first.
    static TRACES: RefCell<Vec<Vec<CallRecord>>> = const { RefCell::new(Vec::new()) };
}

/// Registers `observer` for every cached call in the process until the
/// returned [`Subscription`] is dropped.
pub fn subscribe(observer: impl Observer) -> Subscription {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed) as u64;
    OBSERVERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push((id, Arc::new(observer)));
    SUBSCRIBED.fetch_add(1, Ordering::AcqRel);
    ACTIVE.fetch_add(1, Ordering::AcqRel);
    Subscription { id }
}

/// Registers `observer` for the computations of every cached function (its
/// [`Observer::compute_started`] and [`Observer::compute_finished`], never
/// [`Observer::call_finished`]) until the returned [`Subscription`] is
/// dropped. Unlike [`subscribe`] it costs hits nothing: what a spinner or a
/// progress display needs.
///
/// ```
/// use cache_runtime::cache_data;
/// use cache_runtime::observe::{self, ComputeStart, Observer};
/// use std::sync::{Arc, Mutex};
///
/// #[cache_data(show_spinner = "Loading rows…")]
/// fn rows(table: &str) -> Vec<String> {
///     vec![table.to_owned()]
/// }
///
/// #[cache_data]
/// fn report(year: u32) -> String {
///     format!("{year}: {}", rows("sales").len())
/// }
///
/// #[derive(Clone, Default)]
/// struct Status(Arc<Mutex<Vec<String>>>);
///
/// impl Observer for Status {
///     fn compute_started(&self, start: &ComputeStart) {
///         let ours = ["::rows", "::report"].iter().any(|f| start.function.ends_with(f));
///         if let (Some(text), true) = (&start.spinner, ours) {
///             self.0.lock().unwrap().push(format!("{}{text}", "  ".repeat(start.depth)));
///         }
///     }
/// }
///
/// let status = Status::default();
/// let _subscription = observe::subscribe_computations(status.clone());
/// report(2024);
/// report(2024); // a hit: nothing computes
/// assert_eq!(*status.0.lock().unwrap(), ["Running `report(...)`.", "  Loading rows…"]);
/// ```
pub fn subscribe_computations(observer: impl Observer) -> Subscription {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed) as u64 | 1 << 63;
    OBSERVERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push((id, Arc::new(observer)));
    SUBSCRIBED.fetch_add(1, Ordering::AcqRel);
    COMPUTATIONS.fetch_add(1, Ordering::AcqRel);
    Subscription { id }
}

/// Keeps an observer registered; dropping it unregisters the observer.
#[derive(Debug)]
#[must_use = "the observer is unregistered when the subscription is dropped"]
pub struct Subscription {
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        OBSERVERS
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(id, _)| *id != self.id);
        SUBSCRIBED.fetch_sub(1, Ordering::AcqRel);
        if self.id & 1 << 63 != 0 {
            COMPUTATIONS.fetch_sub(1, Ordering::AcqRel);
        } else {
            ACTIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Runs `body` and returns what it returned together with a record of every
/// cached call made while it ran on this thread, nested calls included, in the
/// order they finished. Calls made by other threads are never included.
pub fn trace<R>(body: impl FnOnce() -> R) -> (R, Vec<CallRecord>) {
    let scope = TraceScope::open();
    let value = body();
    (value, scope.close())
}

/// [`trace`] for a future: records the cached calls that finish while
/// `future` is being polled, whatever thread polls it.
pub async fn trace_async<F: Future>(future: F) -> (F::Output, Vec<CallRecord>) {
    Traced {
        inner: std::pin::pin!(future),
        records: Vec::new(),
    }
    .await
}

/// A trace scope open on this thread; counted in `ACTIVE` while open.
struct TraceScope(());

impl TraceScope {
    fn open() -> Self {
        ACTIVE.fetch_add(1, Ordering::AcqRel);
        TRACES.with_borrow_mut(|traces| traces.push(Vec::new()));
        TraceScope(())
    }

    fn close(self) -> Vec<CallRecord> {
        let records = TRACES.with_borrow_mut(|traces| traces.pop().unwrap_or_default());
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
        std::mem::forget(self);
        records
    }
}

impl Drop for TraceScope {
    /// The body panicked: drop its frame so the thread's stack stays balanced.
    fn drop(&mut self) {
        TRACES.with_borrow_mut(|traces| traces.pop());
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Traced<'a, F: Future> {
    inner: Pin<&'a mut F>,
    records: Vec<CallRecord>,
}

impl<F: Future> Future for Traced<'_, F> {
    type Output = (F::Output, Vec<CallRecord>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let scope = TraceScope::open();
        let polled = this.inner.as_mut().poll(cx);
        this.records.extend(scope.close());
        match polled {
            Poll::Ready(output) => Poll::Ready((output, std::mem::take(&mut this.records))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether anything observes calls right now (one relaxed load).
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// When and how deep in other computations a call started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Started {
    at: Instant,
    depth: usize,
}

/// When a call started, if anything observes calls.
#[inline]
pub(crate) fn start() -> Option<Started> {
    if active() { Some(start_slow()) } else { None }
}

#[cold]
fn start_slow() -> Started {
    Started {
        at: Instant::now(),
        depth: crate::reentrancy::depth(),
    }
}

/// Reports a finished call that [`start`] timed.
#[inline]
pub(crate) fn finish(
    started: Option<Started>,
    function: &'static str,
    kind: Kind,
    outcome: Outcome,
) {
    if let Some(started) = started {
        finish_slow(started, function, kind, outcome);
    }
}

#[cold]
fn finish_slow(started: Started, function: &'static str, kind: Kind, outcome: Outcome) {
    let record = CallRecord {
        function,
        kind,
        outcome,
        duration: started.at.elapsed(),
        depth: started.depth,
    };
    for observer in observers() {
        observer.call_finished(&record);
    }
    // Every open scope on this thread: a trace nested in another reports to both.
    TRACES.with_borrow_mut(|traces| {
        for trace in traces.iter_mut() {
            trace.push(record.clone());
        }
    });
}

/// One computation of a cached function, from the start of its body (or
/// of its persistent-tier read) to its end: announced to observers, shown
/// by the terminal spinner when it is outermost, and traced as a
/// `cache.compute` span (enter [`Computation::span`] around the body, or
/// instrument its future with it, so that nested spans nest). Ending it
/// reports how it went; dropping it unended reports it abandoned.
#[derive(Debug)]
pub(crate) struct Computation {
    id: u64,
    function: &'static str,
    at: Instant,
    span: tracing::Span,
    _shown: Option<crate::spinner::Shown>,
    /// Observers were told of its start (and get its end).
    watched: bool,
    ended: bool,
}

/// What a function's configuration says to show while it computes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Display {
    pub(crate) spinner: Spinner,
    pub(crate) show_time: bool,
}

impl Computation {
    /// A computation of `function` starts (`refresh`: a background refresh).
    pub(crate) fn begin(
        function: &'static str,
        kind: Kind,
        has_arguments: bool,
        display: Display,
        refresh: bool,
    ) -> Computation {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let span = tracing::info_span!(
            "cache.compute",
            function,
            refresh,
            outcome = tracing::field::Empty
        );
        let depth = crate::reentrancy::depth();
        // Only the outermost miss of a thread (or task) spins, as Streamlit;
        // a refresh runs behind and shows nothing.
        let spins = depth == 0 && !refresh && crate::spinner::available();
        let watched = active() || COMPUTATIONS.load(Ordering::Relaxed) != 0;
        // The text is made only when something shows it.
        let text = (spins || watched)
            .then(|| display.spinner.text(function, has_arguments))
            .flatten();
        let shown = if spins {
            text.clone()
                .and_then(|text| crate::spinner::show(text, display.show_time))
        } else {
            None
        };
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        if watched {
            let start = ComputeStart {
                id,
                function,
                kind,
                has_arguments,
                depth,
                spinner: text,
                show_time: display.show_time,
                refresh,
                session: crate::scope::SessionScope::current()
                    .and_then(|scope| scope.id().map(str::to_owned)),
            };
            for observer in observers() {
                observer.compute_started(&start);
            }
        }
        Computation {
            id,
            function,
            at: Instant::now(),
            span,
            _shown: shown,
            watched,
            ended: false,
        }
    }

    /// Its `cache.compute` span.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// It ended with `result`.
    pub(crate) fn end(mut self, result: Computed) {
        self.finish(result);
    }

    fn finish(&mut self, result: Computed) {
        self.ended = true;
        self.span.record("outcome", result.as_str());
        if self.watched {
            let end = ComputeEnd {
                id: self.id,
                function: self.function,
                duration: self.at.elapsed(),
                result,
            };
            for observer in observers() {
                observer.compute_finished(&end);
            }
        }
    }
}

impl Drop for Computation {
    fn drop(&mut self) {
        if !self.ended {
            self.finish(Computed::Abandoned);
        }
    }
}

/// The subscribed observers, copied out so that one may subscribe or
/// unsubscribe from inside a callback. Nothing is taken (nor allocated) while
/// only `trace` scopes are open.
fn observers() -> Vec<Arc<dyn Observer>> {
    if SUBSCRIBED.load(Ordering::Acquire) == 0 {
        return Vec::new();
    }
    OBSERVERS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(_, observer)| Arc::clone(observer))
        .collect()
}
