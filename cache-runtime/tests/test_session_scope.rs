//! `scope = "session"`: entries kept per session, cleared per session, and
//! dropped (resources released once) when the session ends.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use cache_runtime::session::{InSessionExt, SessionScope, end_session};
use cache_runtime::{Scope, cache_data, cache_resource};

#[test]
fn each_session_has_entries_of_its_own() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(scope = "session")]
    fn rows(filter: &str) -> Vec<String> {
        CALLS.fetch_add(1, SeqCst);
        vec![filter.to_owned()]
    }
    let (ann, bob) = (SessionScope::new("ann"), SessionScope::new("bob"));
    assert_eq!(ann.run(|| rows("x")), ["x"]);
    assert_eq!(ann.run(|| rows("x")), ["x"]);
    assert_eq!(CALLS.load(SeqCst), 1, "ann's second call hit");
    bob.run(|| rows("x"));
    assert_eq!(CALLS.load(SeqCst), 2, "bob does not see ann's entry");
    // Another handle on the same id is the same session.
    SessionScope::new("ann").run(|| rows("x"));
    assert_eq!(CALLS.load(SeqCst), 2);
    let stats = rows::stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (2, 2, 2));
    let info = cache_runtime::functions()
        .into_iter()
        .find(|info| info.short_name() == "rows")
        .unwrap();
    assert_eq!(info.scope, Scope::Session);
}

#[test]
fn a_call_outside_every_session_panics_saying_how_to_fix_it() {
    #[cache_data(scope = "session")]
    fn lonely(x: u32) -> u32 {
        x
    }
    let panic = std::panic::catch_unwind(|| lonely(1)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("lonely` is session-scoped"), "{message}");
    assert!(message.contains("SessionLayer"), "{message}");
    assert!(message.contains("SessionScope::new(id).run"), "{message}");
    // The function still works in a session afterwards.
    assert_eq!(SessionScope::new("s").run(|| lonely(2)), 2);
}

#[test]
fn clear_in_a_session_clears_that_session_only() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(scope = "session")]
    fn view(n: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        n
    }
    let (ann, bob) = (
        SessionScope::new("clear-ann"),
        SessionScope::new("clear-bob"),
    );
    ann.run(|| (view(1), view(2)));
    bob.run(|| view(1));
    assert_eq!(CALLS.load(SeqCst), 3);
    ann.run(view::clear);
    assert_eq!(view::stats().entries, 1, "bob's entry stays");
    bob.run(|| view(1));
    assert_eq!(CALLS.load(SeqCst), 3, "bob still hits");
    ann.run(|| view(1));
    assert_eq!(CALLS.load(SeqCst), 4, "ann computes again");
    // Outside every session, `clear` clears every session's entries.
    view::clear();
    assert_eq!(view::stats().entries, 0);
    bob.run(|| view(1));
    assert_eq!(CALLS.load(SeqCst), 5);
    // So does a clear by name (as the global clears), from inside a session
    // too. (A global clear here would disturb the other tests.)
    ann.run(|| view(3));
    assert!(ann.run(|| cache_runtime::clear_function("test_session_scope::view")));
    assert_eq!(view::stats().entries, 0);
}

#[test]
fn invalidate_in_a_session_removes_that_sessions_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(scope = "session")]
    fn item(n: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        n
    }
    let (ann, bob) = (SessionScope::new("inv-ann"), SessionScope::new("inv-bob"));
    ann.run(|| item(7));
    bob.run(|| item(7));
    assert!(ann.run(|| item::invalidate(7)));
    assert!(!ann.run(|| item::invalidate(7)), "already gone");
    bob.run(|| item(7));
    assert_eq!(CALLS.load(SeqCst), 2, "bob's entry stays");
}

#[test]
fn ending_a_session_drops_its_entries_and_releases_its_resources_once() {
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    static CLOSED: AtomicUsize = AtomicUsize::new(0);
    struct Conn {
        user: String,
    }
    fn close(conn: &Conn) {
        assert!(!conn.user.is_empty());
        CLOSED.fetch_add(1, SeqCst);
    }
    #[cache_resource(scope = "session", on_release = close)]
    fn connection(user: &str) -> Conn {
        OPENED.fetch_add(1, SeqCst);
        Conn {
            user: user.to_owned(),
        }
    }
    #[cache_data(scope = "session")]
    fn label(user: &str) -> String {
        user.to_uppercase()
    }
    let (ann, bob) = (SessionScope::new("end-ann"), SessionScope::new("end-bob"));
    let first = ann.run(|| {
        label("a");
        connection("a")
    });
    ann.run(|| connection("b"));
    bob.run(|| (connection("a"), label("a")));
    assert!(ann.run(|| Arc::ptr_eq(&first, &connection("a"))));
    assert_eq!(OPENED.load(SeqCst), 3);

    end_session("end-ann");
    assert_eq!(CLOSED.load(SeqCst), 2, "ann's two connections, each once");
    assert_eq!(connection::stats().entries, 1);
    assert_eq!(label::stats().entries, 1);
    end_session("end-ann");
    assert_eq!(CLOSED.load(SeqCst), 2, "ending again releases nothing");
    // The session's next call starts afresh; bob's entries are untouched.
    assert!(!ann.run(|| Arc::ptr_eq(&first, &connection("a"))));
    bob.run(|| connection("a"));
    assert_eq!(OPENED.load(SeqCst), 4);
    // A resource clear in a session releases that session's only.
    bob.run(connection::clear);
    assert_eq!(CLOSED.load(SeqCst), 3);
    assert_eq!(connection::stats().entries, 1, "ann's new one stays");
}

#[test]
fn long_keys_are_found_by_their_session_too() {
    #[cache_data(scope = "session")]
    fn total(values: &[f64]) -> f64 {
        values.iter().sum()
    }
    let values = vec![1.5; 10_000];
    let ann = SessionScope::new("long-ann");
    ann.run(|| total(&values));
    ann.run(|| total(&values));
    SessionScope::new("long-bob").run(|| total(&values));
    assert_eq!(total::stats().hits, 1);
    end_session("long-ann");
    assert_eq!(
        total::stats().entries,
        1,
        "ann's long key was found and dropped"
    );
}

#[test]
fn a_computation_running_when_its_session_ends_is_not_stored() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static STARTED: Barrier = Barrier::new(2);
    static ENDED: Barrier = Barrier::new(2);
    #[cache_data(scope = "session")]
    fn slow(n: u32) -> u32 {
        if CALLS.fetch_add(1, SeqCst) == 0 {
            STARTED.wait();
            ENDED.wait();
        }
        n
    }
    let worker = std::thread::spawn(|| SessionScope::new("flight").run(|| slow(1)));
    STARTED.wait();
    end_session("flight");
    ENDED.wait();
    assert_eq!(worker.join().unwrap(), 1, "its caller still gets the value");
    assert_eq!(slow::stats().entries, 0, "stored nowhere");
    SessionScope::new("flight").run(|| slow(1));
    assert_eq!(CALLS.load(SeqCst), 2);
}

#[test]
fn a_deferred_scope_picks_its_id_only_for_a_session_scoped_call() {
    #[cache_data]
    fn global(n: u32) -> u32 {
        n
    }
    #[cache_data(scope = "session")]
    fn scoped(n: u32) -> u32 {
        n
    }
    let minted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&minted);
    let scope = SessionScope::deferred(move || {
        counter.fetch_add(1, SeqCst);
        "minted".to_owned()
    });
    scope.run(|| global(1));
    scope.run(scoped::clear); // nothing of it to clear: no id needed
    assert_eq!(scope.id(), None);
    scope.run(|| (scoped(1), scoped(2)));
    assert_eq!(scope.id(), Some("minted"));
    assert_eq!(minted.load(SeqCst), 1);
    // The same session as a scope made with that id.
    SessionScope::new("minted").run(|| scoped(1));
    assert_eq!(scoped::stats().hits, 1);
}

#[test]
fn async_functions_and_spawned_tasks_keep_their_session() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(scope = "session")]
    async fn fetch(n: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(1)).await;
        n
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let ann = SessionScope::new("async-ann");
    runtime.block_on(ann.run_async(async {
        assert_eq!(fetch(1).await, 1);
        // A spawned task runs on any worker thread, in the same session.
        let task = tokio::spawn(async { fetch(1).await }.in_current_session());
        assert_eq!(task.await.unwrap(), 1);
    }));
    assert_eq!(CALLS.load(SeqCst), 1, "the task hit the request's entry");
    runtime.block_on(async { fetch(1).in_session(&SessionScope::new("async-bob")).await });
    assert_eq!(CALLS.load(SeqCst), 2);
    // A task spawned without its session panics, and says so.
    let orphan = runtime.block_on(ann.run_async(async { tokio::spawn(fetch(2)).await }));
    assert!(orphan.unwrap_err().is_panic());
}

#[test]
fn a_background_refresh_runs_in_its_callers_session() {
    static REFRESHED_IN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    #[cache_data(scope = "session")]
    fn session_name(_n: u32) -> String {
        SessionScope::current()
            .and_then(|scope| scope.id().map(str::to_owned))
            .unwrap_or_default()
    }
    #[cache_data(scope = "session", ttl = "50ms", refresh_mode = "background")]
    fn greeting(n: u32) -> String {
        let name = session_name(n);
        REFRESHED_IN.lock().unwrap().push(name.clone());
        format!("hello {name}")
    }
    let ann = SessionScope::new("refresh-ann");
    assert_eq!(ann.run(|| greeting(1)), "hello refresh-ann");
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(
        ann.run(|| greeting(1)),
        "hello refresh-ann",
        "stale, at once"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while greeting::stats().refreshes.succeeded == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the refresh never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        *REFRESHED_IN.lock().unwrap(),
        ["refresh-ann", "refresh-ann"]
    );
}

#[test]
fn a_function_without_arguments_has_one_entry_per_session() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_resource(scope = "session")]
    fn client() -> usize {
        CALLS.fetch_add(1, SeqCst)
    }
    let (ann, bob) = (SessionScope::new("solo-ann"), SessionScope::new("solo-bob"));
    let first = ann.run(client);
    assert_eq!(*ann.run(client), *first);
    assert_ne!(*bob.run(client), *first);
    end_session("solo-ann");
    assert_ne!(*ann.run(client), *first);
    assert_eq!(CALLS.load(SeqCst), 3);
}
