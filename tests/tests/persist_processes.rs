//! The disk tier across real processes: a second run of a program answers
//! from the first run's records, an edited function body does not read them,
//! and the ttl holds across runs.

use std::thread::sleep;
use std::time::Duration;

use integration_tests::probe::run_once;

const PROBE: &str = env!("CARGO_BIN_EXE_persist_probe");
const EDITED: &str = env!("CARGO_BIN_EXE_persist_probe_edited");

fn cache_dir(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("cache-runtime-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.to_string_lossy().into_owned()
}

#[test]
fn a_second_process_reads_the_first_ones_records() {
    let dir = cache_dir("processes");
    let env = [("CACHE_RUNTIME_DIR", dir.as_str())];
    assert_eq!(
        run_once(PROBE, &env, "disk 21, disk 21"),
        [
            "disk 21 = report-42 (computed)",
            "disk 21 = report-42 (memory)"
        ]
    );
    assert_eq!(
        run_once(PROBE, &env, "disk 21, disk 4"),
        ["disk 21 = report-42 (disk)", "disk 4 = report-8 (computed)"]
    );

    // The edited body has the same name but other tokens: it recomputes, and
    // its records do not disturb the original's.
    assert_eq!(
        run_once(EDITED, &env, "disk 21"),
        ["disk 21 = report-1042 (computed)"]
    );
    assert_eq!(
        run_once(EDITED, &env, "disk 21"),
        ["disk 21 = report-1042 (disk)"]
    );
    assert_eq!(
        run_once(PROBE, &env, "disk 21"),
        ["disk 21 = report-42 (disk)"]
    );

    // `clear` in one run removes the records for the next.
    assert_eq!(run_once(PROBE, &env, "clear-disk"), ["cleared disk"]);
    assert_eq!(
        run_once(PROBE, &env, "disk 21"),
        ["disk 21 = report-42 (computed)"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_ttl_holds_across_processes() {
    let dir = cache_dir("ttl");
    let env = [("CACHE_RUNTIME_DIR", dir.as_str())];
    assert_eq!(
        run_once(PROBE, &env, "short 1"),
        ["short 1 = short-1 (computed)"]
    );
    assert_eq!(
        run_once(PROBE, &env, "short 1"),
        ["short 1 = short-1 (disk)"]
    );
    sleep(Duration::from_millis(1100));
    assert_eq!(
        run_once(PROBE, &env, "short 1"),
        ["short 1 = short-1 (computed)"],
        "the record expired"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
