//! Feedback while a miss computes: `show_spinner` / `show_time` (the events
//! a page shows, and the terminal spinner, drawn on a pseudo-terminal only
//! and only for the outermost miss). `tracing` has `test_tracing.rs`.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cache_runtime::observe::{self, ComputeEnd, ComputeStart, Computed, Observer};
use cache_runtime::{cache_data, cache_resource};

/// Records the computations of the functions it is told about (the other
/// tests of this binary run at the same time).
#[derive(Clone, Default)]
struct Computations {
    names: &'static [&'static str],
    started: Arc<Mutex<Vec<ComputeStart>>>,
    ended: Arc<Mutex<Vec<ComputeEnd>>>,
}

impl Computations {
    fn watching(names: &'static [&'static str]) -> Self {
        Self {
            names,
            ..Self::default()
        }
    }

    fn wants(&self, function: &str) -> bool {
        self.names
            .iter()
            .any(|name| function.ends_with(&format!("::{name}")))
    }
}

impl Observer for Computations {
    fn compute_started(&self, start: &ComputeStart) {
        if self.wants(start.function) {
            self.started.lock().unwrap().push(start.clone());
        }
    }
    fn compute_finished(&self, end: &ComputeEnd) {
        if self.wants(end.function) {
            self.ended.lock().unwrap().push(end.clone());
        }
    }
}

#[test]
fn each_computation_announces_its_spinner_text_and_how_it_ended() {
    #[cache_data]
    fn load_rows(table: &str) -> Vec<String> {
        vec![table.to_owned()]
    }
    #[cache_data(show_spinner = "Loading the config…", show_time = true)]
    fn config() -> String {
        "eu".to_owned()
    }
    #[cache_resource(show_spinner = false)]
    fn quiet(n: u32) -> u32 {
        n
    }
    #[cache_data]
    fn failing(n: u32) -> Result<u32, String> {
        Err(format!("no {n}"))
    }
    let seen = Computations::watching(&["load_rows", "config", "quiet", "failing"]);
    let _subscription = observe::subscribe_computations(seen.clone());
    load_rows("users");
    load_rows("users"); // a hit: no computation
    config();
    quiet(1);
    let _ = failing(1);
    let started = seen.started.lock().unwrap().clone();
    let texts: Vec<_> = started
        .iter()
        .map(|s| (s.spinner.clone(), s.show_time))
        .collect();
    assert_eq!(
        texts,
        [
            (Some("Running `load_rows(...)`.".to_owned()), false),
            (Some("Loading the config…".to_owned()), true),
            (None, false),
            (Some("Running `failing(...)`.".to_owned()), false),
        ]
    );
    let ended = seen.ended.lock().unwrap().clone();
    let results: Vec<_> = ended.iter().map(|end| end.result).collect();
    assert_eq!(
        results,
        [Computed::Ok, Computed::Ok, Computed::Ok, Computed::Err]
    );
    for (start, end) in started.iter().zip(&ended) {
        assert_eq!(start.id, end.id);
    }
    #[cache_data]
    fn nothing() -> u8 {
        0
    }
    let seen = Computations::watching(&["nothing"]);
    let _subscription = observe::subscribe_computations(seen.clone());
    nothing();
    assert_eq!(
        seen.started.lock().unwrap()[0].spinner.as_deref(),
        Some("Running `nothing()`."),
        "`()` when the function takes no arguments"
    );
}

#[test]
fn a_nested_computation_is_deeper_and_a_panic_is_abandoned() {
    #[cache_data]
    fn inner_part(n: u32) -> u32 {
        if n == 0 {
            panic!("boom");
        }
        n
    }
    #[cache_data]
    fn outer_whole(n: u32) -> u32 {
        inner_part(n) + 1
    }
    let seen = Computations::watching(&["inner_part", "outer_whole"]);
    let _subscription = observe::subscribe_computations(seen.clone());
    outer_whole(1);
    let depths: Vec<_> = seen
        .started
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.function.rsplit("::").next().unwrap(), s.depth))
        .collect();
    assert_eq!(depths, [("outer_whole", 0), ("inner_part", 1)]);
    let _ = std::panic::catch_unwind(|| outer_whole(0));
    let ended = seen.ended.lock().unwrap().clone();
    assert_eq!(
        ended[2..].iter().map(|end| end.result).collect::<Vec<_>>(),
        [Computed::Abandoned, Computed::Abandoned]
    );
}

// --- the terminal spinner ---

/// Runs this binary's `spinner_child` test alone, with stderr on a
/// pseudo-terminal (through util-linux's `script`) or on a pipe; returns
/// what it wrote there.
fn run_spinner_child(terminal: bool) -> String {
    let exe = std::env::current_exe().unwrap();
    let command = format!(
        "{} --exact spinner_child --nocapture --test-threads=1",
        exe.display()
    );
    let output = if terminal {
        Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("SPINNER_CHILD", "1")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .output()
            .expect("util-linux `script` runs the child on a pseudo-terminal")
    } else {
        Command::new(&exe)
            .args([
                "--exact",
                "spinner_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SPINNER_CHILD", "1")
            .env("TERM", "xterm-256color")
            .output()
            .unwrap()
    };
    assert!(output.status.success(), "{output:?}");
    let written = if terminal {
        &output.stdout
    } else {
        &output.stderr
    };
    String::from_utf8_lossy(written).into_owned()
}

#[test]
#[cfg(feature = "spinner")]
fn the_spinner_is_drawn_on_a_terminal_for_the_outermost_miss_and_erased() {
    let screen = run_spinner_child(true);
    let text = "Running `slow_report(...)`.";
    let drawn = screen
        .find(text)
        .unwrap_or_else(|| panic!("no spinner in {screen:?}"));
    assert!(
        !screen.contains("slow_part"),
        "a nested miss shows nothing: {screen:?}"
    );
    assert!(
        screen.contains(" s)"),
        "show_time shows the time elapsed: {screen:?}"
    );
    let last = screen.rfind(text).unwrap();
    assert!(
        screen[last..].contains("\u{1b}[2K"),
        "the spinner line is erased when the call returns: {screen:?}"
    );
    assert!(drawn <= last);
    assert!(screen.contains("result 43"), "{screen:?}");
}

#[test]
fn nothing_is_drawn_into_a_pipe() {
    let piped = run_spinner_child(false);
    assert!(!piped.contains("Running"), "{piped:?}");
}

/// The child of the two tests above (does nothing in a normal run).
#[test]
fn spinner_child() {
    if std::env::var_os("SPINNER_CHILD").is_none() {
        return;
    }
    #[cache_data]
    fn slow_part(n: u32) -> u32 {
        std::thread::sleep(Duration::from_millis(300));
        n + 1
    }
    #[cache_data(show_time = true)]
    fn slow_report(n: u32) -> u32 {
        std::thread::sleep(Duration::from_millis(300));
        slow_part(n) + 1
    }
    let result = slow_report(41);
    eprintln!("result {result}");
}
