//! A global clear always wins: once `cache_runtime::cache_data::clear()` has
//! returned, no caller is ever served a value whose computation started before
//! it (see `test_consistency.rs` for the per-function clear and invalidate).
//!
//! Its own binary, because a global clear reaches every `#[cache_data]`
//! function of the process; the two tests here only get extra misses from each
//! other's clears. The persistent tiers are pointed at a temporary folder, since
//! a global clear also empties the disk tier.

mod common;

use cache_runtime::{Stats, cache_data};
use common::{Clearing, Race, block_on, private_disk_folder, stress};

/// Three readers call the function on random keys while one clearer calls
/// `cache_data::clear()` in a loop (see [`stress`]); a global clear also
/// clears the disk tier, so it is pointed at a private folder first.
fn global_stress(what: &str, race: &'static Race, call: fn(u64) -> u64, stats: fn() -> Stats) {
    private_disk_folder("consistency-global");
    stress(
        what,
        race,
        call,
        Clearing::Function(cache_data::clear),
        stats,
    );
}

#[test]
fn a_global_clear_always_wins() {
    static RACE: Race = Race::new();
    #[cache_data]
    fn raced(k: u64) -> u64 {
        let _ = k;
        RACE.body()
    }
    global_stress("cache_data::clear()", &RACE, raced, raced::stats);
}

#[test]
fn a_global_clear_always_wins_over_async_functions() {
    static RACE: Race = Race::new();
    #[cache_data]
    async fn raced(k: u64) -> u64 {
        let _ = k;
        RACE.body()
    }
    global_stress(
        "async cache_data::clear()",
        &RACE,
        |k| block_on(raced(k)),
        raced::stats,
    );
}
