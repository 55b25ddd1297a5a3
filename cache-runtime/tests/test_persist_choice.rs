//! Choosing the persistent tier: `persist = "auto"` (the disk when no Redis
//! URL is configured) and `persist = <expression>` evaluating to a `Persist`
//! or an `Option<Persist>` (`None`: memory only), evaluated once at the
//! function's first call.
//!
//! The disk folder is process-wide (set once with `persist::configure`, before
//! the first persistent call), so every test calls [`setup`] first.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::{FunctionInfo, Persist, cache_data, persist};
use common::fresh_temp_dir;

/// This test binary's disk folder.
static DIR: LazyLock<PathBuf> = LazyLock::new(|| fresh_temp_dir("persist-choice-test"));

/// Fixes the settings (a private folder, no Redis URL) before any persistent
/// call; the tests run concurrently, so whichever comes first configures.
fn setup() {
    let settings = persist::Settings::default().dir(&*DIR);
    assert_eq!(settings.redis_url, None);
    let _ = persist::configure(settings);
    assert_eq!(persist::settings().dir, *DIR);
    assert_eq!(persist::settings().redis_url, None);
}

/// The listing of the function called `short_name`.
fn info(short_name: &str) -> FunctionInfo {
    cache_runtime::functions()
        .into_iter()
        .find(|f| f.short_name() == short_name)
        .unwrap_or_else(|| panic!("`{short_name}` is not listed"))
}

#[test]
fn auto_without_a_redis_url_uses_the_disk() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(persist = "auto")]
    fn auto_report(day: u32) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("report {day}")
    }
    setup();
    assert_eq!(Persist::auto(), Persist::Disk);

    assert_eq!(auto_report(1), "report 1");
    assert_eq!(info("auto_report").persist, Some(Persist::Disk));
    assert!(
        auto_report::stats().bytes_written > 0,
        "a record was written"
    );

    cache_runtime::__private::clear_memory("auto_report");
    assert_eq!(auto_report(1), "report 1");
    assert_eq!(CALLS.load(SeqCst), 1, "answered from the disk");
    assert_eq!(auto_report::stats().disk_hits, 1);
}

#[test]
fn persist_auto_as_an_expression_uses_the_disk_too() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(persist = Persist::auto())]
    fn auto_expression_report(day: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        day * 2
    }
    setup();
    assert_eq!(auto_expression_report(4), 8);
    assert_eq!(info("auto_expression_report").persist, Some(Persist::Disk));
    cache_runtime::__private::clear_memory("auto_expression_report");
    assert_eq!(auto_expression_report(4), 8);
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(auto_expression_report::stats().disk_hits, 1);
}

#[test]
fn a_tier_function_is_evaluated_once_at_first_use() {
    static TIER_CALLS: AtomicUsize = AtomicUsize::new(0);
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    fn tier() -> Persist {
        TIER_CALLS.fetch_add(1, SeqCst);
        Persist::Disk
    }
    #[cache_data(persist = tier())]
    fn chosen_report(day: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        day + 1000
    }
    setup();
    assert_eq!(
        TIER_CALLS.load(SeqCst),
        0,
        "not evaluated before the first call"
    );

    assert_eq!(chosen_report(1), 1001);
    assert_eq!(TIER_CALLS.load(SeqCst), 1, "evaluated at the first call");
    assert_eq!(chosen_report(1), 1001);
    assert_eq!(chosen_report(2), 1002);
    assert_eq!(info("chosen_report").persist, Some(Persist::Disk));

    // The tier it chose is in use: memory dropped, the disk answers.
    cache_runtime::__private::clear_memory("chosen_report");
    assert_eq!(chosen_report(1), 1001);
    assert_eq!(chosen_report::stats().disk_hits, 1);
    assert_eq!(CALLS.load(SeqCst), 2);

    // Clearing, invalidating and inspecting reuse the resolved choice.
    assert!(chosen_report::invalidate(1));
    chosen_report::clear();
    let _ = chosen_report::stats();
    let _ = info("chosen_report");
    assert_eq!(chosen_report(1), 1001);
    assert_eq!(
        CALLS.load(SeqCst),
        3,
        "the clear removed the disk record too"
    );
    assert_eq!(TIER_CALLS.load(SeqCst), 1, "never evaluated again");
}

#[test]
fn a_clear_before_the_first_call_does_not_evaluate_the_tier_twice() {
    static TIER_CALLS: AtomicUsize = AtomicUsize::new(0);
    fn early_tier() -> Option<Persist> {
        TIER_CALLS.fetch_add(1, SeqCst);
        Some(Persist::Disk)
    }
    #[cache_data(persist = early_tier())]
    fn cleared_early(day: u32) -> u32 {
        day
    }
    setup();
    cleared_early::clear();
    assert_eq!(cleared_early(1), 1);
    assert_eq!(cleared_early(1), 1);
    assert_eq!(
        TIER_CALLS.load(SeqCst),
        1,
        "the `persist` expression is resolved once, even when `clear` comes first"
    );
}

#[test]
fn none_keeps_the_function_in_memory_only() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(persist = None::<Persist>)]
    fn memory_only_report(day: u32) -> String {
        CALLS.fetch_add(1, SeqCst);
        format!("report {day}")
    }
    setup();
    assert_eq!(memory_only_report(1), "report 1");
    assert_eq!(memory_only_report(1), "report 1");
    assert_eq!(CALLS.load(SeqCst), 1, "still cached in memory");
    let listed = info("memory_only_report");
    assert_eq!(listed.persist, None);
    assert_eq!(listed.stats.bytes_written, 0, "nothing written anywhere");

    // Nothing behind memory: a dropped memory tier means computing again.
    cache_runtime::__private::clear_memory("memory_only_report");
    assert_eq!(memory_only_report(1), "report 1");
    assert_eq!(CALLS.load(SeqCst), 2);
    let stats = memory_only_report::stats();
    assert_eq!((stats.disk_hits, stats.redis_hits), (0, 0));
    assert_eq!(stats.misses, 2);
}

#[test]
fn a_conditional_expression_chooses_the_disk_under_test() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(persist = if cfg!(test) { Some(Persist::Disk) } else { None })]
    fn conditional_report(day: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        day * 3
    }
    setup();
    assert_eq!(conditional_report(5), 15);
    assert_eq!(info("conditional_report").persist, Some(Persist::Disk));
    cache_runtime::__private::clear_memory("conditional_report");
    assert_eq!(conditional_report(5), 15);
    assert_eq!(CALLS.load(SeqCst), 1, "answered from the disk");
    assert_eq!(conditional_report::stats().disk_hits, 1);
}

#[test]
fn a_path_expression_names_the_tier() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[cache_data(persist = Persist::Disk)]
    fn path_report(day: u32) -> u32 {
        CALLS.fetch_add(1, SeqCst);
        day
    }
    setup();
    assert_eq!(path_report(9), 9);
    assert_eq!(info("path_report").persist, Some(Persist::Disk));
    cache_runtime::__private::clear_memory("path_report");
    assert_eq!(path_report(9), 9);
    assert_eq!(CALLS.load(SeqCst), 1);
    assert_eq!(path_report::stats().disk_hits, 1);
}
