//! Which browser session a call belongs to, for `scope = "session"`
//! functions: a [`SessionScope`] set for this thread while a closure runs or
//! a future is polled (the state crate's `SessionLayer` sets it for every
//! request), and the key prefix it gives each of that session's entries.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

/// Bytes a session-scoped key starts with: the first 16 bytes of the
/// BLAKE3 hash of the session's id. Fixed-width, so a key's session can be
/// read back from any of its keys (long keys keep it ahead of their digest),
/// and two different ids share a prefix only by a 128-bit collision.
pub(crate) const PREFIX_LEN: usize = 16;

/// A session's key prefix (see [`PREFIX_LEN`]).
pub(crate) type Prefix = [u8; PREFIX_LEN];

/// The key prefix of the session `id`.
pub(crate) fn prefix_of(id: &str) -> Prefix {
    let mut prefix = [0; PREFIX_LEN];
    prefix.copy_from_slice(&blake3::hash(id.as_bytes()).as_bytes()[..PREFIX_LEN]);
    prefix
}

/// The browser session that `scope = "session"` functions key their entries
/// to: Streamlit's session, for code outside a Streamlit script.
///
/// Under the state crate's `SessionLayer` every request runs in its
/// browser's scope with no code of yours. Elsewhere (a test, a job, a
/// WebSocket loop, a task spawned for a request) run code in a scope
/// yourself:
///
/// ```
/// use cache_runtime::cache_data;
/// use cache_runtime::session::SessionScope;
///
/// #[cache_data(scope = "session")]
/// fn greeting(name: &str) -> String {
///     format!("hello, {name}")
/// }
///
/// let alice = SessionScope::new("alice");
/// let bob = SessionScope::new("bob");
/// alice.run(|| greeting("you"));
/// bob.run(|| greeting("you")); // another session: computed again
/// alice.run(|| greeting("you")); // alice's entry: a hit
/// assert_eq!(greeting::stats().misses, 2);
/// assert_eq!(greeting::stats().hits, 1);
/// ```
///
/// A scope is a cheap handle (an `Arc`); clones name the same session.
#[derive(Clone)]
pub struct SessionScope {
    inner: Arc<Inner>,
}

struct Inner {
    /// The session's id, and its key prefix, once known.
    id: OnceLock<(Arc<str>, Prefix)>,
    /// Chooses the id at the first session-scoped call, for a scope made by
    /// [`SessionScope::deferred`].
    choose: Mutex<Option<Box<dyn FnOnce() -> String + Send>>>,
    /// Whether a session-scoped call ran in it.
    used: AtomicBool,
}

impl SessionScope {
    /// The scope of the session `id`: any string that names one session for
    /// as long as it lives (a session id, a user id, a connection id).
    pub fn new(id: impl Into<String>) -> Self {
        let id: String = id.into();
        let prefix = prefix_of(&id);
        Self {
            inner: Arc::new(Inner {
                id: OnceLock::from((Arc::from(id), prefix)),
                choose: Mutex::new(None),
                used: AtomicBool::new(false),
            }),
        }
    }

    /// A scope whose id `choose` picks at the first session-scoped call made
    /// in it, and never if there is none: how a web layer gives a browser
    /// without a session one only when a session-scoped function needs it
    /// ([`SessionScope::id`] then tells whether it did).
    pub fn deferred(choose: impl FnOnce() -> String + Send + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                id: OnceLock::new(),
                choose: Mutex::new(Some(Box::new(choose))),
                used: AtomicBool::new(false),
            }),
        }
    }

    /// The session's id; `None` for a deferred scope that no session-scoped
    /// call has needed yet.
    pub fn id(&self) -> Option<&str> {
        self.inner.id.get().map(|(id, _)| &**id)
    }

    /// Whether a session-scoped call has run in this scope (or a clone of
    /// it): what a web layer checks to know that the session it named must
    /// exist once the request is done.
    pub fn was_used(&self) -> bool {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// The scope this thread runs in, if any.
    pub fn current() -> Option<SessionScope> {
        CURRENT.with(|current| current.borrow().clone())
    }

    /// Runs `f` in this scope: session-scoped functions it calls (on this
    /// thread) use this session's entries.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = Entered::enter(self.clone());
        f()
    }

    /// `future`, run in this scope each time it is polled (see
    /// [`InSessionExt`] for the method form).
    pub fn run_async<F: Future>(&self, future: F) -> InSession<F> {
        InSession {
            scope: Some(self.clone()),
            future,
        }
    }

    /// The key prefix of a session-scoped call, choosing the id now if it
    /// is deferred.
    pub(crate) fn prefix(&self) -> Prefix {
        if !self.inner.used.load(Ordering::Relaxed) {
            self.inner.used.store(true, Ordering::Relaxed);
        }
        self.inner
            .id
            .get_or_init(|| {
                let choose = self
                    .inner
                    .choose
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                // Only a deferred scope starts without an id, and its
                // chooser runs once (`get_or_init` runs one initializer).
                let id = choose.map_or_else(String::new, |choose| choose());
                let prefix = prefix_of(&id);
                (Arc::from(id), prefix)
            })
            .1
    }
}

impl fmt::Debug for SessionScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Session ids are credentials: show only their start.
        let shown = self.id().map(|id| id.chars().take(8).collect::<String>());
        f.debug_struct("SessionScope")
            .field("id", &shown.map(|start| format!("{start}…")))
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<SessionScope>> = const { RefCell::new(None) };
}

/// The key prefix of the scope this thread runs in, if any.
pub(crate) fn current_prefix() -> Option<Prefix> {
    CURRENT.with(|current| current.borrow().as_ref().map(SessionScope::prefix))
}

/// Whether this thread runs in a scope (`None` if not), and its key prefix
/// if its id is chosen (`Some(None)`: a deferred scope no call needed yet,
/// which therefore has no entries).
pub(crate) fn current_chosen_prefix() -> Option<Option<Prefix>> {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .map(|scope| scope.inner.id.get().map(|(_, prefix)| *prefix))
    })
}

/// Restores the thread's previous scope when dropped (also on a panic).
struct Entered {
    previous: Option<SessionScope>,
}

impl Entered {
    fn enter(scope: SessionScope) -> Self {
        let previous = CURRENT.with(|current| current.borrow_mut().replace(scope));
        Self { previous }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

pin_project_lite::pin_project! {
    /// A future run in a [`SessionScope`] (in none, for
    /// [`InSessionExt::in_current_session`] called outside every session):
    /// made by [`SessionScope::run_async`] and [`InSessionExt`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InSession<F> {
        scope: Option<SessionScope>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InSession<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.scope.clone().map(Entered::enter);
        this.future.poll(cx)
    }
}

/// Runs a future in a session's scope: what a task spawned for a request
/// needs to call session-scoped functions (a spawned task does not inherit
/// the thread-local scope of the code that spawned it).
///
/// ```
/// use cache_runtime::session::{InSessionExt, SessionScope};
///
/// # let runtime = tokio::runtime::Runtime::new().unwrap();
/// # runtime.block_on(SessionScope::new("alice").run_async(async {
/// // Inside a request (or any scope):
/// let task = tokio::spawn(async { SessionScope::current() }.in_current_session());
/// assert_eq!(task.await.unwrap().unwrap().id(), Some("alice"));
/// # }));
/// ```
pub trait InSessionExt: Future + Sized {
    /// This future, run in the scope current where this is called (as it
    /// is, if there is none).
    fn in_current_session(self) -> InSession<Self> {
        InSession {
            scope: SessionScope::current(),
            future: self,
        }
    }

    /// This future, run in `scope`.
    fn in_session(self, scope: &SessionScope) -> InSession<Self> {
        scope.run_async(self)
    }
}

impl<F: Future> InSessionExt for F {}

/// The message of a session-scoped call made outside every session.
#[cold]
#[track_caller]
pub(crate) fn outside_a_session(function: &str) -> ! {
    panic!(
        "`{function}` is session-scoped (`scope = \"session\"`) but was called outside a session. \
         In an axum app, install `state::SessionLayer` on the routes that call it; in a task \
         spawned for a request, spawn `future.in_current_session()` \
         (`cache_runtime::session::InSessionExt`); elsewhere run the call in \
         `SessionScope::new(id).run(|| ..)`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_current_only_while_it_runs_and_nests() {
        assert!(SessionScope::current().is_none());
        let outer = SessionScope::new("outer");
        outer.run(|| {
            assert_eq!(SessionScope::current().unwrap().id(), Some("outer"));
            SessionScope::new("inner").run(|| {
                assert_eq!(SessionScope::current().unwrap().id(), Some("inner"));
            });
            assert_eq!(SessionScope::current().unwrap().id(), Some("outer"));
        });
        assert!(SessionScope::current().is_none());
    }

    #[test]
    fn a_panic_restores_the_previous_scope() {
        let result = std::panic::catch_unwind(|| SessionScope::new("x").run(|| panic!("boom")));
        assert!(result.is_err());
        assert!(SessionScope::current().is_none());
    }

    #[test]
    fn a_deferred_scope_chooses_its_id_once_at_first_use() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let scope = SessionScope::deferred(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            "chosen".to_owned()
        });
        assert_eq!(scope.id(), None);
        assert!(!scope.was_used());
        let first = scope.prefix();
        assert!(scope.was_used());
        assert_eq!(scope.prefix(), first);
        assert_eq!(scope.id(), Some("chosen"));
        assert_eq!(first, prefix_of("chosen"));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn different_ids_have_different_prefixes() {
        assert_ne!(prefix_of("a"), prefix_of("b"));
        assert_eq!(prefix_of("a"), prefix_of("a"));
    }

    #[test]
    fn debug_shows_only_the_start_of_an_id() {
        let shown = format!("{:?}", SessionScope::new("0123456789abcdef"));
        assert!(
            shown.contains("01234567…") && !shown.contains("89abcdef"),
            "{shown}"
        );
    }
}
