//! The persistence probe after an edit of `report`'s body: same name,
//! different tokens, so it must not read the first probe's records.

use cache_runtime::cache_data;
use integration_tests::probe::{self, Probed};

#[cache_data(persist = "disk", name = "probe::report")]
fn report(n: u64) -> String {
    format!("report-{}", n * 2 + 1000)
}

fn main() {
    probe::main(&[Probed {
        command: "disk",
        call: report,
        stats: report::stats,
        clear: report::clear,
    }]);
}
