//! `f::warm(args..)`: computes and stores an entry without returning it
//! (Streamlit #11050), for every kind of cached function.

mod common;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{cache_data, cache_resource};

#[test]
fn warm_stores_the_value_the_next_call_hits() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn report(region: &str, year: u32) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("{region}-{year}")
    }
    report::warm("north", 2024);
    assert_eq!(CALLS.load(SeqCst), 1);
    let stats = report::stats();
    assert_eq!((stats.misses, stats.entries), (1, 1));
    assert_eq!(report("north", 2024), "north-2024");
    assert_eq!(CALLS.load(SeqCst), 1, "the call hit what warm stored");
    // Warming what is cached computes nothing.
    report::warm("north", 2024);
    assert_eq!(CALLS.load(SeqCst), 1);
    // Skipped parameters are taken too, as by the function.
    #[cache_data]
    fn scaled(x: u32, _verbose: bool) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        x * 2
    }
    scaled::warm(4, true);
    assert_eq!(scaled(4, false), 8);
    assert_eq!(scaled::stats().misses, 1);
}

#[test]
fn warm_returns_an_error_and_stores_nothing() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    fn parse(text: &str) -> Result<u32, String> {
        CALLS.fetch_add(1, SeqCst);
        text.parse().map_err(|_| format!("not a number: {text}"))
    }
    assert_eq!(parse::warm("12"), Ok(()));
    assert_eq!(parse::warm("x"), Err("not a number: x".to_owned()));
    assert_eq!(parse::stats().entries, 1, "the error was not stored");
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(CALLS.load(SeqCst), 2);

    // An alias of `Result` names its error the same way.
    #[cache_data]
    fn file_len(name: &str) -> io::Result<u64> {
        Err(io::Error::new(io::ErrorKind::NotFound, name.to_owned()))
    }
    let error = file_len::warm("missing.txt").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
}

#[test]
fn warm_creates_a_resource_every_caller_then_shares() {
    static CREATED: AtomicUsize = AtomicUsize::new(0);
    #[cache_resource]
    fn pool(url: &str) -> Vec<String> {
        CREATED.fetch_add(1, SeqCst);
        vec![url.to_owned()]
    }
    pool::warm("db://main");
    assert_eq!(CREATED.load(SeqCst), 1);
    let first = pool("db://main");
    let second = pool("db://main");
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(CREATED.load(SeqCst), 1);
}

#[test]
fn async_functions_are_warmed_by_awaiting() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data]
    async fn prices(symbol: String) -> Vec<u32> {
        CALLS.fetch_add(1, SeqCst);
        vec![symbol.len() as u32]
    }
    common::block_on(async {
        prices::warm("ACME".to_owned()).await;
        assert_eq!(prices("ACME".to_owned()).await, vec![4]);
    });
    assert_eq!(CALLS.load(SeqCst), 1);
}

#[test]
fn methods_are_warmed_through_their_companion() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    struct Repo {
        prefix: String,
    }
    impl Repo {
        #[cache_data]
        fn find(#[cache(skip)] &self, id: u32) -> String {
            CALLS.fetch_add(1, SeqCst);
            format!("{}{id}", self.prefix)
        }
    }
    let repo = Repo {
        prefix: "user-".to_owned(),
    };
    repo.find_cache_warm(7);
    assert_eq!(repo.find(7), "user-7");
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(Repo::find_cache_stats().hits, 1);
}
