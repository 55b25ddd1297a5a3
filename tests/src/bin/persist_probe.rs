//! The persistence probe (see `integration_tests::probe`).

use std::thread::sleep;
use std::time::Duration;

use cache_runtime::cache_data;
use integration_tests::probe::{self, Probed};

/// The body the "edited" probe changes.
#[cache_data(persist = "disk", name = "probe::report")]
fn report(n: u64) -> String {
    format!("report-{}", n * 2)
}

#[cache_data(persist = "disk", ttl = "1s", name = "probe::short")]
fn short(n: u64) -> String {
    format!("short-{n}")
}

#[cache_data(persist = "redis", name = "probe::shared")]
fn shared(n: u64) -> String {
    format!("shared-{}", n * 3)
}

#[cache_data(persist = "redis", name = "probe::slow")]
fn slow(n: u64) -> String {
    sleep(Duration::from_millis(600));
    format!("slow-{n}")
}

fn main() {
    probe::main(&[
        Probed {
            command: "disk",
            call: report,
            stats: report::stats,
            clear: report::clear,
        },
        Probed {
            command: "short",
            call: short,
            stats: short::stats,
            clear: short::clear,
        },
        Probed {
            command: "redis",
            call: shared,
            stats: shared::stats,
            clear: shared::clear,
        },
        Probed {
            command: "slow",
            call: slow,
            stats: slow::stats,
            clear: slow::clear,
        },
    ]);
}
