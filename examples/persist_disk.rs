//! `persist = "disk"`: run this twice. The first run computes the slow
//! report and stores it on disk; the second run — a new process with an empty
//! memory — answers from the disk in a fraction of the time.
//!
//! Run with: `cargo run --example persist_disk` (then run it again).
//! Reset with: `cargo run --example persist_disk -- --clear`.

use std::thread::sleep;
use std::time::{Duration, Instant};

use cache_runtime::{cache_data, persist};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Report {
    region: String,
    totals: Vec<(u16, f64)>,
}

/// Slow: a second per call. Kept on disk for a day.
#[cache_data(persist = "disk", ttl = "1d")]
fn yearly_report(region: &str) -> Report {
    sleep(Duration::from_secs(1));
    Report {
        region: region.to_owned(),
        totals: (2015..2025).map(|y| (y, f64::from(y % 97) * 1.5)).collect(),
    }
}

fn main() {
    // Keep the example's records beside the workspace rather than in ~/.cache.
    let dir =
        std::env::var("CACHE_RUNTIME_DIR").unwrap_or_else(|_| ".cache/persist-example".into());
    persist::configure(persist::Settings::from_env().dir(&dir))
        .expect("configured once, at start-up");

    if std::env::args().any(|arg| arg == "--clear") {
        yearly_report::clear();
        println!("cleared the records in {dir}");
        return;
    }

    for region in ["europe", "asia"] {
        let before = yearly_report::stats();
        let start = Instant::now();
        let report = yearly_report(region);
        let elapsed = start.elapsed();
        let source = if yearly_report::stats().disk_hits > before.disk_hits {
            "from disk"
        } else {
            "computed"
        };
        println!(
            "{:<8} {} years  {elapsed:>10.2?}  ({source})",
            report.region,
            report.totals.len()
        );
    }
    let stats = yearly_report::stats();
    println!(
        "\nthis run: {} computed, {} from disk, {} bytes written to {dir}",
        stats.misses, stats.disk_hits, stats.bytes_written
    );
    if stats.disk_hits == 0 {
        println!("run it again: the second process answers from disk");
    }
}
