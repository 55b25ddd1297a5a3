//! What a cached call costs, side by side with what a user would otherwise
//! write: raw `moka`, the `cached` crate, a `Mutex<HashMap>` memo, `LazyLock`
//! and raw xxh3. Prints ns per operation and the ratios our targets are
//! stated in.
//!
//! Cases (each is also a filter name):
//!
//! | case | what |
//! |---|---|
//! | `u64` | a `u64` argument hit, 1 and 2 threads: `#[cache_data]` unbounded, `max_entries`, `ttl` against raw moka `get`, `cached` and a memo |
//! | `str_u32` | a `(&str, u32)` argument hit: ours, `cached`, raw moka (owned and borrowed key), memo |
//! | `resource` | a zero-argument `#[cache_resource]` hit against cloning a `LazyLock<Arc<T>>` |
//! | `large_arg` | a hit on `#[cache_data] fn sum(xs: &[f64])` with a 64 MiB slice, against raw xxh3 over the same bytes |
//! | `memory` | RSS growth per entry for 1,000,000 `u64 → u64` entries, ours against raw moka (child processes) |
//! | `miss` | 1,000,000 misses on distinct keys, ours against raw moka (child processes) |
//!
//! Hit cases prefill 1024 keys (`HOT_KEYS`) and cycle through them (a second
//! thread half the set ahead); values are `u64`, so cloning one is free. The machine is shared and noisy, so every case runs
//! all its candidates in one process, interleaved over rounds (each round
//! runs each candidate for a fixed number of operations, the starting
//! candidate rotating), and keeps each candidate's best round; the median is
//! printed too, as a hint of the noise. With 2 threads, both threads start
//! together on the same function and the time is the wall interval from the
//! first start to the last finish, divided by the operations of ONE thread
//! (ns per operation per thread). A missed target is reported, never an error.
//!
//! ```text
//! # every case (a few minutes); --quick runs fewer rounds (about one minute)
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p cache-runtime --bench hit_path
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p cache-runtime --bench hit_path -- --quick
//! # only some cases
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p cache-runtime --bench hit_path -- u64 resource
//! ```
//!
//! Against Streamlit 1.67 (`streamlit/`, Python): measure it first, then pass
//! its numbers in, and the targets table gains "Streamlit / ours" rows:
//!
//! ```text
//! cache-runtime/benches/streamlit/run.sh --json > /tmp/streamlit.json
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p cache-runtime --bench hit_path -- \
//!     u64 str_u32 resource --streamlit /tmp/streamlit.json
//! ```
//!
//! One candidate alone, for instruction counts: `--only CASE/CANDIDATE/THREADS`
//! (the id shown in the case's table; `/1` may be left out) runs it once for
//! `--iters N` operations (default: the case's per-round count) after the
//! case's setup. Every measured loop runs in `timed_loop`, so callgrind can
//! count just that (a miss candidate runs in-process in this mode):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p cache-runtime --bench hit_path --no-run
//! # ^ prints the binary: target-bench/release/deps/hit_path-<hash>
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*timed_loop*' \
//!     /work/target-bench/release/deps/hit_path-<hash> --only u64/ours_unbounded --iters 100000
//! # valgrind's "Collected : X" (= callgrind_annotate's PROGRAM TOTALS) / 100000 = Ir per hit
//! ```
//!
//! A 2-thread candidate (`u64/ours_unbounded/2`) counts both threads' loops:
//! divide by `2 × N`. `--only miss/ours --iters N` times `N` misses in this
//! process instead of a child. The memory case has no timed candidate; its
//! child runs alone as `hit_path-<hash> --child memory/ours 1000000`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::process::Command;
use std::sync::{Arc, Barrier, LazyLock, Mutex};
use std::time::{Duration, Instant};

use cache_runtime::{cache_data, cache_resource};
use moka::policy::EvictionPolicy;

/// Prefilled keys each hit case cycles through.
const HOT_KEYS: u64 = 1024;
/// The bound of every bounded cache (well above `HOT_KEYS`: nothing is evicted).
const CAPACITY: u64 = 100_000;
/// `f64`s in the large argument: 64 MiB.
const LARGE_LEN: usize = 8 << 20;
/// Entries of the memory case and distinct keys of the miss case.
const MANY: u64 = 1_000_000;

// === the harness ===============================================================

/// How many rounds a case runs and how many operations a candidate does per round.
#[derive(Clone, Copy)]
struct Plan {
    rounds: usize,
    quick_rounds: usize,
    iters: u64,
}

/// Hit cases: about 5–150 ms per candidate and round.
const HIT_PLAN: Plan = Plan {
    rounds: 12,
    quick_rounds: 3,
    iters: 1 << 19,
};

/// How a candidate is run.
enum Run<'a> {
    /// Timed in this process: runs `iters` operations, returns their wall time.
    Here(Box<dyn FnMut(u64) -> Duration + 'a>),
    /// Timed by a fresh child process running this job (see [`child_job`]).
    Child(&'static str),
}

/// One contender of a case.
struct Candidate<'a> {
    name: &'static str,
    threads: usize,
    run: Run<'a>,
}

impl<'a> Candidate<'a> {
    /// `threads` threads each run `op(thread, i)` for `i` in `0..iters`,
    /// started together; a single thread runs on the calling thread.
    fn new(name: &'static str, threads: usize, op: impl Fn(usize, u64) + Sync + 'a) -> Self {
        let run = move |iters: u64| -> Duration {
            if threads == 1 {
                let (start, end) = timed_loop(0, iters, &op);
                return end - start;
            }
            let barrier = Barrier::new(threads);
            let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|thread| {
                        let (barrier, op) = (&barrier, &op);
                        scope.spawn(move || {
                            barrier.wait();
                            timed_loop(thread, iters, op)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|worker| worker.join().expect("a benchmark thread panicked"))
                    .collect()
            });
            let start = spans.iter().map(|span| span.0).min().expect("threads > 0");
            let end = spans.iter().map(|span| span.1).max().expect("threads > 0");
            end - start
        };
        Candidate {
            name,
            threads,
            run: Run::Here(Box::new(run)),
        }
    }

    /// A candidate timed in a fresh child process running `job`.
    fn child(name: &'static str, job: &'static str) -> Self {
        Candidate {
            name,
            threads: 1,
            run: Run::Child(job),
        }
    }

    /// The id `--only` selects it by.
    fn id(&self, case: &str) -> String {
        format!("{case}/{}/{}", self.name, self.threads)
    }

    /// Runs `iters` operations and returns their wall time.
    fn time(&mut self, iters: u64) -> Duration {
        match &mut self.run {
            Run::Here(run) => run(iters),
            Run::Child(job) => {
                let line = spawn_child(job, iters);
                Duration::from_nanos(field(&line, "ns"))
            }
        }
    }

    /// Runs `iters` operations in this process (a child job too).
    fn time_here(&mut self, iters: u64) -> Duration {
        match &mut self.run {
            Run::Here(run) => run(iters),
            Run::Child(job) => Duration::from_nanos(field(&child_job(job, iters), "ns")),
        }
    }
}

/// The measured loop: every timed operation runs here, so that callgrind's
/// `--toggle-collect='*timed_loop*'` counts exactly those instructions.
#[inline(never)]
fn timed_loop<F: Fn(usize, u64) + ?Sized>(thread: usize, iters: u64, op: &F) -> (Instant, Instant) {
    let start = Instant::now();
    for i in 0..iters {
        op(thread, i);
    }
    (start, Instant::now())
}

/// Hot key number `i` of `thread`: each thread cycles through the `HOT_KEYS`
/// keys, the second one half the set further on.
fn hot_key(thread: usize, i: u64) -> u64 {
    black_box((i + thread as u64 * (HOT_KEYS / 2)) % HOT_KEYS)
}

/// One candidate's result.
struct Timing {
    name: &'static str,
    threads: usize,
    /// ns per operation (per thread) of the best round.
    best: f64,
    /// ns per operation (per thread) of the median round.
    median: f64,
}

/// A case's results, in candidate order.
struct Timings(Vec<Timing>);

impl Timings {
    /// The best ns per operation of `name` at `threads`.
    fn best(&self, name: &str, threads: usize) -> f64 {
        self.0
            .iter()
            .find(|t| t.name == name && t.threads == threads)
            .unwrap_or_else(|| panic!("no candidate {name} at {threads} threads"))
            .best
    }

    /// The thread counts measured, ascending.
    fn thread_counts(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self.0.iter().map(|t| t.threads).collect();
        counts.sort_unstable();
        counts.dedup();
        counts
    }

    /// The candidate names, in order of first appearance.
    fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for timing in &self.0 {
            if !names.contains(&timing.name) {
                names.push(timing.name);
            }
        }
        names
    }
}

/// Runs the case's candidates interleaved over rounds and keeps each one's
/// best round; or, with `--only`, runs the selected candidate once and
/// returns `None`.
fn measure(
    case: &str,
    plan: Plan,
    opts: &Options,
    candidates: &mut [Candidate<'_>],
) -> Option<Timings> {
    if let Some(alone) = &opts.alone {
        let ids: Vec<String> = candidates.iter().map(|c| c.id(case)).collect();
        let Some(candidate) = candidates.iter_mut().find(|c| c.id(case) == alone.id) else {
            panic!(
                "no candidate {}; this case has: {}",
                alone.id,
                ids.join(", ")
            );
        };
        let iters = alone.iters.unwrap_or(plan.iters);
        let elapsed = candidate.time_here(iters);
        println!(
            "{}: {iters} operations in {:.1} ms, {:.1} ns/op",
            alone.id,
            elapsed.as_secs_f64() * 1e3,
            ns_per_op(elapsed, iters)
        );
        return None;
    }
    let rounds = if opts.quick {
        plan.quick_rounds
    } else {
        plan.rounds
    };
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); candidates.len()];
    for round in 0..rounds {
        for turn in 0..candidates.len() {
            let index = (round + turn) % candidates.len();
            let elapsed = candidates[index].time(plan.iters);
            samples[index].push(ns_per_op(elapsed, plan.iters));
        }
    }
    let timings = candidates
        .iter()
        .zip(samples)
        .map(|(candidate, mut samples)| {
            samples.sort_by(f64::total_cmp);
            Timing {
                name: candidate.name,
                threads: candidate.threads,
                best: samples[0],
                median: samples[samples.len() / 2],
            }
        })
        .collect();
    println!(
        "\n## {case}: best of {rounds} rounds of {} operations per candidate",
        plan.iters
    );
    Some(Timings(timings))
}

fn ns_per_op(elapsed: Duration, iters: u64) -> f64 {
    elapsed.as_nanos() as f64 / iters.max(1) as f64
}

/// Prints an aligned table: the first column left-aligned, the others right.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (column, (cell, width)) in cells.zip(&widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            if column == 0 {
                out.push_str(&format!("{cell}{pad}"));
            } else {
                out.push_str(&format!("  {pad}{cell}"));
            }
        }
        println!("{}", out.trim_end());
    };
    line(&mut header.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

/// Prints ns per operation, a pair of columns (best, median) per thread count.
fn print_timings(timings: &Timings) {
    let counts = timings.thread_counts();
    let mut header = vec!["candidate".to_owned()];
    for threads in &counts {
        let unit = if *threads == 1 {
            "1 thread ns/op".to_owned()
        } else {
            format!("{threads} threads ns/op/thread")
        };
        header.push(unit);
        header.push("median".to_owned());
    }
    let rows: Vec<Vec<String>> = timings
        .names()
        .into_iter()
        .map(|name| {
            let mut row = vec![name.to_owned()];
            for threads in &counts {
                match timings
                    .0
                    .iter()
                    .find(|t| t.name == name && t.threads == *threads)
                {
                    Some(t) => row.extend([format!("{:.1}", t.best), format!("{:.1}", t.median)]),
                    None => row.extend(["-".to_owned(), "-".to_owned()]),
                }
            }
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print_table(&header, &rows);
}

/// Our best 1-thread ns per hit, by Streamlit case name, for `--streamlit`.
static OURS: Mutex<Vec<(&'static str, f64)>> = Mutex::new(Vec::new());

/// Records our best 1-thread time of `candidate` as the Streamlit case `case`.
fn record_ours(case: &'static str, timings: &Timings, candidate: &str) {
    let best = timings.best(candidate, 1);
    OURS.lock().expect("ours lock").push((case, best));
}

/// Targets against Streamlit's own hits, measured by `streamlit/run.sh --json`
/// into `path`: each Streamlit ns per hit over ours.
fn streamlit_targets(path: &str) -> Vec<Target> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("--streamlit {path}: {error}"));
    let theirs = |case: &str| -> Option<f64> {
        let at = text.find(&format!("\"{case}\""))?;
        let rest = text[at + case.len() + 2..].trim_start().strip_prefix(':')?;
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c.is_whitespace()))
            .unwrap_or(rest.len());
        rest[..end].trim().parse().ok()
    };
    let ours = OURS.lock().expect("ours lock");
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for &(case, ours_ns) in ours.iter() {
        let Some(theirs_ns) = theirs(case) else {
            continue;
        };
        let speedup = theirs_ns / ours_ns;
        rows.push(vec![
            case.to_owned(),
            format!("{theirs_ns:.0}"),
            format!("{ours_ns:.1}"),
            format!("{speedup:.0}x"),
        ]);
        let bound = if case.starts_with("cache_data") {
            Some(Bound::AtLeast(1000.0))
        } else {
            None
        };
        if let Some(bound) = bound {
            targets.push(Target {
                metric: format!("streamlit / ours: {case}"),
                measured: speedup,
                bound,
            });
        }
    }
    println!("\n## Streamlit ({path}) against ours, 1 thread");
    print_table(&["hit", "streamlit ns", "ours ns", "ours faster"], &rows);
    targets
}

/// A target of the issue, and what was measured against it.
struct Target {
    metric: String,
    measured: f64,
    bound: Bound,
}

/// Which side of the target is good.
#[derive(Clone, Copy)]
enum Bound {
    AtMost(f64),
    AtLeast(f64),
}

impl Bound {
    fn met(self, value: f64) -> bool {
        match self {
            Bound::AtMost(limit) => value <= limit,
            Bound::AtLeast(limit) => value >= limit,
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::AtMost(limit) => write!(f, "<= {limit:.2}"),
            Bound::AtLeast(limit) => write!(f, ">= {limit:.2}"),
        }
    }
}

/// Prints `ratio = ours / theirs` rows for each thread count, and returns
/// them as targets when a bound is given.
fn ratios(timings: &Timings, pairs: &[(&str, &str, Option<Bound>)]) -> Vec<Target> {
    ratios_at(timings, pairs, &timings.thread_counts())
}

/// [`ratios`], with the bounds targets only at the thread counts `targeted`
/// (the others are printed for information).
fn ratios_at(
    timings: &Timings,
    pairs: &[(&str, &str, Option<Bound>)],
    targeted: &[usize],
) -> Vec<Target> {
    let counts = timings.thread_counts();
    let mut header = vec!["ratio (best ns/op)".to_owned()];
    header.extend(
        counts
            .iter()
            .map(|t| format!("{t} thread{}", if *t == 1 { "" } else { "s" })),
    );
    header.push("target".to_owned());
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for &(ours, theirs, bound) in pairs {
        let metric = format!("{ours} / {theirs}");
        let mut row = vec![metric.clone()];
        for &threads in &counts {
            let ratio = timings.best(ours, threads) / timings.best(theirs, threads);
            row.push(format!("{ratio:.2}"));
            if let Some(bound) = bound.filter(|_| targeted.contains(&threads)) {
                targets.push(Target {
                    metric: format!("{metric} @{threads}t"),
                    measured: ratio,
                    bound,
                });
            }
        }
        let at: Vec<String> = targeted.iter().map(|t| format!("@{t}t")).collect();
        row.push(match bound {
            None => "-".to_owned(),
            Some(bound) if targeted == counts => bound.to_string(),
            Some(bound) => format!("{bound} {}", at.join(" ")),
        });
        rows.push(row);
    }
    println!();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print_table(&header, &rows);
    targets
}

// === command line and child processes ==========================================

/// The command line.
struct Options {
    /// Case names to run; all when empty.
    filters: Vec<String>,
    /// Fewer rounds.
    quick: bool,
    /// `--only ID [--iters N]`.
    alone: Option<Alone>,
    /// `--streamlit FILE`: Streamlit's hits, from `streamlit/run.sh --json`.
    streamlit: Option<String>,
}

/// One candidate run alone (for callgrind).
struct Alone {
    /// `case/candidate/threads`.
    id: String,
    iters: Option<u64>,
}

impl Options {
    fn parse() -> Options {
        let mut opts = Options {
            filters: Vec::new(),
            quick: false,
            alone: None,
            streamlit: None,
        };
        let mut only = None;
        let mut iters = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => opts.quick = true,
                "--only" => {
                    only = Some(args.next().expect("--only takes CASE/CANDIDATE[/THREADS]"))
                }
                "--streamlit" => {
                    opts.streamlit = Some(args.next().expect("--streamlit takes a JSON file"));
                }
                "--iters" => {
                    let n = args.next().expect("--iters takes a number");
                    iters = Some(n.parse().expect("--iters takes a number"));
                }
                // `cargo bench` passes `--bench` to every bench target.
                "--bench" => {}
                flag if flag.starts_with("--") => panic!(
                    "unknown flag {flag}; usage: [--quick] [--streamlit FILE] [CASE..] | --only CASE/CANDIDATE[/THREADS] [--iters N]"
                ),
                case => opts.filters.push(case.to_owned()),
            }
        }
        if let Some(mut id) = only {
            if id.matches('/').count() == 1 {
                id.push_str("/1");
            }
            let case = id.split('/').next().unwrap_or_default().to_owned();
            opts.filters = vec![case];
            opts.alone = Some(Alone { id, iters });
        }
        opts
    }

    /// Whether the case named `case` runs.
    fn runs(&self, case: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| case.contains(f.as_str()))
    }
}

/// Runs `job` with argument `n` in a fresh child process, returns what it printed.
fn spawn_child(job: &str, n: u64) -> String {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let out = Command::new(exe)
        .args(["--child", job, &n.to_string()])
        .output()
        .expect("spawn the child process");
    assert!(
        out.status.success(),
        "child {job} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the child prints UTF-8")
}

/// The value of `name=` in a child's `name=value ..` line.
fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in child output {line:?}"))
}

/// What a child process does (`--child JOB N`), and the line it prints.
fn child_job(job: &str, n: u64) -> String {
    match job {
        "miss/ours" => miss_ours(n),
        "miss/moka_get_with" => miss_moka(n, |cache, key| {
            black_box(cache.get_with(key, || compute(key)));
        }),
        "miss/moka_insert" => miss_moka(n, |cache, key| cache.insert(key, compute(key))),
        "memory/ours" => memory_ours(n),
        "memory/moka" => memory_moka(n),
        _ => panic!("unknown child job {job}"),
    }
}

/// The resident set size of this process, from `/proc/self/status`.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

// === case 1: a u64 argument ====================================================

/// The work a miss would do: cheap, the value is all that matters.
fn compute(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// `#[cache_data]` with no bound.
#[cache_data]
fn ours_unbounded(id: u64) -> u64 {
    compute(id)
}

/// `#[cache_data]` with an LRU bound.
#[cache_data(max_entries = 100_000)]
fn ours_max_entries(id: u64) -> u64 {
    compute(id)
}

/// `#[cache_data]` with a time to live.
#[cache_data(ttl = "1h")]
fn ours_ttl(id: u64) -> u64 {
    compute(id)
}

/// The `cached` crate's LRU-bounded memo.
#[cached::proc_macro::cached(max_size = 100_000)]
fn cached_u64(id: u64) -> u64 {
    compute(id)
}

/// Raw moka, configured as a bounded `#[cache_data]` is (LRU), with moka's
/// default hasher and the argument itself as the key.
fn raw_moka<K>() -> moka::sync::Cache<K, u64>
where
    K: Hash + Eq + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .eviction_policy(EvictionPolicy::lru())
        .build()
}

fn case_u64(opts: &Options) -> Vec<Target> {
    let moka = raw_moka::<u64>();
    let memo: Mutex<HashMap<u64, u64>> = Mutex::new(HashMap::new());
    for id in 0..HOT_KEYS {
        assert_eq!(ours_unbounded(id), compute(id));
        assert_eq!(ours_max_entries(id), compute(id));
        assert_eq!(ours_ttl(id), compute(id));
        assert_eq!(cached_u64(id), compute(id));
        moka.insert(id, compute(id));
        memo.lock().expect("memo lock").insert(id, compute(id));
    }
    moka.run_pending_tasks();
    assert_eq!(moka.entry_count(), HOT_KEYS);

    let mut candidates = Vec::new();
    for threads in [1, 2] {
        candidates.extend([
            Candidate::new("ours_unbounded", threads, |t, i| {
                black_box(ours_unbounded(hot_key(t, i)));
            }),
            Candidate::new("ours_max_entries", threads, |t, i| {
                black_box(ours_max_entries(hot_key(t, i)));
            }),
            Candidate::new("ours_ttl", threads, |t, i| {
                black_box(ours_ttl(hot_key(t, i)));
            }),
            Candidate::new("moka_get", threads, |t, i| {
                black_box(moka.get(&hot_key(t, i)));
            }),
            Candidate::new("cached", threads, |t, i| {
                black_box(cached_u64(hot_key(t, i)));
            }),
            Candidate::new("memo", threads, |t, i| {
                let key = hot_key(t, i);
                black_box(memo.lock().expect("memo lock").get(&key).copied());
            }),
        ]);
    }
    let timings = measure("u64", HIT_PLAN, opts, &mut candidates);

    // Every measured call was a hit: the only misses are the prefill's.
    for stats in [
        ours_unbounded::stats(),
        ours_max_entries::stats(),
        ours_ttl::stats(),
    ] {
        assert_eq!((stats.misses, stats.entries), (HOT_KEYS, HOT_KEYS));
    }
    let Some(timings) = timings else {
        return Vec::new();
    };
    print_timings(&timings);
    record_ours("cache_data_u64", &timings, "ours_unbounded");
    record_ours("cache_data_u64_max_entries", &timings, "ours_max_entries");
    record_ours("cache_data_u64_ttl", &timings, "ours_ttl");
    ratios(
        &timings,
        &[
            ("ours_unbounded", "cached", Some(Bound::AtMost(0.5))),
            ("ours_max_entries", "cached", Some(Bound::AtMost(1.0))),
            ("ours_ttl", "cached", Some(Bound::AtMost(1.0))),
            ("ours_unbounded", "moka_get", None),
            ("ours_max_entries", "moka_get", None),
        ],
    )
}

// === case 2: (&str, u32) arguments =============================================

fn compute_str(table: &str, limit: u32) -> u64 {
    compute(table.len() as u64 ^ u64::from(limit))
}

/// `#[cache_data]` with no bound, keyed by a borrowed string and a number.
#[cache_data]
fn ours_str_u32(table: &str, limit: u32) -> u64 {
    compute_str(table, limit)
}

/// `#[cache_data]` with an LRU bound.
#[cache_data(max_entries = 100_000)]
fn ours_str_u32_max_entries(table: &str, limit: u32) -> u64 {
    compute_str(table, limit)
}

/// `cached` turns the `&str` into an owned `String` key on every call.
#[cached::proc_macro::cached(max_size = 100_000)]
fn cached_str_u32(table: &str, limit: u32) -> u64 {
    compute_str(table, limit)
}

/// The `&str` arguments, one per hot key.
static TABLES: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..HOT_KEYS).map(|i| format!("table-{i}")).collect());

/// The arguments of hot key number `i` of `thread`.
fn str_key(thread: usize, i: u64) -> (&'static str, u32) {
    let key = hot_key(thread, i);
    (TABLES[key as usize].as_str(), key as u32)
}

/// A borrowed `(&str, u32)` that looks up a `(String, u32)` moka key without
/// allocating: it hashes exactly as the owned tuple does.
#[derive(Clone, Copy)]
struct StrU32<'a>(&'a str, u32);

impl Hash for StrU32<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.0, self.1).hash(state);
    }
}

impl moka::Equivalent<(String, u32)> for StrU32<'_> {
    fn equivalent(&self, key: &(String, u32)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

fn case_str_u32(opts: &Options) -> Vec<Target> {
    let moka = raw_moka::<(String, u32)>();
    let memo: Mutex<HashMap<(String, u32), u64>> = Mutex::new(HashMap::new());
    for i in 0..HOT_KEYS {
        let (table, limit) = str_key(0, i);
        let value = compute_str(table, limit);
        assert_eq!(ours_str_u32(table, limit), value);
        assert_eq!(ours_str_u32_max_entries(table, limit), value);
        assert_eq!(cached_str_u32(table, limit), value);
        moka.insert((table.to_owned(), limit), value);
        memo.lock()
            .expect("memo lock")
            .insert((table.to_owned(), limit), value);
    }
    moka.run_pending_tasks();
    assert_eq!(moka.entry_count(), HOT_KEYS);

    let mut candidates = Vec::new();
    for threads in [1, 2] {
        candidates.extend([
            Candidate::new("ours", threads, |t, i| {
                let (table, limit) = str_key(t, i);
                black_box(ours_str_u32(table, limit));
            }),
            Candidate::new("ours_max_entries", threads, |t, i| {
                let (table, limit) = str_key(t, i);
                black_box(ours_str_u32_max_entries(table, limit));
            }),
            Candidate::new("cached", threads, |t, i| {
                let (table, limit) = str_key(t, i);
                black_box(cached_str_u32(table, limit));
            }),
            // The idiomatic lookup: build the owned key (one `String` allocation).
            Candidate::new("moka_owned_key", threads, |t, i| {
                let (table, limit) = str_key(t, i);
                black_box(moka.get(&(table.to_owned(), limit)));
            }),
            // The best raw moka can do: a borrowed key through `Equivalent`.
            Candidate::new("moka_borrowed_key", threads, |t, i| {
                let (table, limit) = str_key(t, i);
                black_box(moka.get(&StrU32(table, limit)));
            }),
            // `HashMap<(String, u32), _>` cannot be queried by `(&str, u32)`: owned key.
            Candidate::new("memo", threads, |t, i| {
                let (table, limit) = str_key(t, i);
                let memo = memo.lock().expect("memo lock");
                black_box(memo.get(&(table.to_owned(), limit)).copied());
            }),
        ]);
    }
    let timings = measure("str_u32", HIT_PLAN, opts, &mut candidates);

    for stats in [ours_str_u32::stats(), ours_str_u32_max_entries::stats()] {
        assert_eq!((stats.misses, stats.entries), (HOT_KEYS, HOT_KEYS));
    }
    let Some(timings) = timings else {
        return Vec::new();
    };
    print_timings(&timings);
    record_ours("cache_data_str_u32", &timings, "ours");
    ratios(
        &timings,
        &[
            ("ours", "cached", Some(Bound::AtMost(0.8))),
            ("ours_max_entries", "cached", None),
            ("ours", "moka_borrowed_key", None),
        ],
    )
}

// === case 3: a zero-argument resource ==========================================

/// A resource worth sharing.
#[derive(Debug)]
struct Settings {
    threads: u64,
}

fn make_settings() -> Settings {
    Settings { threads: 8 }
}

/// The resource through `#[cache_resource]`.
#[cache_resource]
fn settings() -> Settings {
    make_settings()
}

static LAZY: LazyLock<Settings> = LazyLock::new(make_settings);
static LAZY_ARC: LazyLock<Arc<Settings>> = LazyLock::new(|| Arc::new(make_settings()));

fn case_resource(opts: &Options) -> Vec<Target> {
    assert_eq!(settings().threads, LazyLock::force(&LAZY_ARC).threads);
    LazyLock::force(&LAZY);

    let mut candidates = Vec::new();
    for threads in [1, 2] {
        candidates.extend([
            Candidate::new("cache_resource", threads, |_, _| {
                black_box(settings());
            }),
            Candidate::new("lazylock_arc_clone", threads, |_, _| {
                black_box(Arc::clone(black_box(&*LAZY_ARC)));
            }),
            Candidate::new("lazylock_deref", threads, |_, _| {
                black_box(black_box(&*LAZY).threads);
            }),
        ]);
    }
    let timings = measure("resource", HIT_PLAN, opts, &mut candidates);

    assert_eq!(settings::stats().misses, 1, "every measured call was a hit");
    let Some(timings) = timings else {
        return Vec::new();
    };
    print_timings(&timings);
    record_ours("cache_resource_zero_arg", &timings, "cache_resource");
    // The issue's target is the one-thread hit. On two threads both sides
    // are bound by the one shared reference count: printed, not targeted.
    ratios_at(
        &timings,
        &[(
            "cache_resource",
            "lazylock_arc_clone",
            Some(Bound::AtMost(1.0)),
        )],
        &[1],
    )
}

// === case 4: a large argument ==================================================

/// A large argument, keyed by value: a hit serializes and hashes all of it.
#[cache_data]
fn sum(xs: &[f64]) -> f64 {
    xs.iter().sum()
}

fn case_large_arg(opts: &Options) -> Vec<Target> {
    let xs: Vec<f64> = (0..LARGE_LEN).map(|i| i as f64 * 0.5).collect();
    let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
    let expected: f64 = xs.iter().sum();
    assert_eq!(sum(&xs).to_bits(), expected.to_bits());

    let plan = Plan {
        rounds: 7,
        quick_rounds: 3,
        iters: 4,
    };
    let mut candidates = [
        Candidate::new("ours", 1, |_, _| {
            black_box(sum(black_box(&xs)));
        }),
        Candidate::new("raw_xxh3", 1, |_, _| {
            black_box(xxhash_rust::xxh3::xxh3_64(black_box(&bytes)));
        }),
    ];
    let timings = measure("large_arg", plan, opts, &mut candidates);

    assert_eq!(sum::stats().misses, 1, "every measured call was a hit");
    let Some(timings) = timings else {
        return Vec::new();
    };
    let gib = bytes.len() as f64 / f64::from(1u32 << 30);
    let rows: Vec<Vec<String>> = timings
        .0
        .iter()
        .map(|t| {
            vec![
                t.name.to_owned(),
                format!("{:.2}", t.best / 1e6),
                format!("{:.2}", gib / (t.best / 1e9)),
                format!("{:.2}", gib / (t.median / 1e9)),
            ]
        })
        .collect();
    println!("(64 MiB per call)");
    print_table(
        &["candidate", "best ms/call", "best GiB/s", "median GiB/s"],
        &rows,
    );
    // Throughput ratio = inverse time ratio.
    let ratio = timings.best("raw_xxh3", 1) / timings.best("ours", 1);
    println!("\nthroughput ours / raw_xxh3: {ratio:.2} (target >= 0.40)");
    vec![Target {
        metric: "large_arg: ours / raw_xxh3 throughput".to_owned(),
        measured: ratio,
        bound: Bound::AtLeast(0.4),
    }]
}

// === case 5: memory per entry ==================================================

/// The function the memory and miss cases fill, each in a fresh child process.
#[cache_data]
fn ours_fill(id: u64) -> u64 {
    compute(id)
}

/// Fills `ours_fill` with `n` entries; prints RSS growth and entries added.
fn memory_ours(n: u64) -> String {
    // The first call sets up the function's statics; it is not counted.
    ours_fill(0);
    let before_entries = ours_fill::stats().entries;
    let before = rss_bytes().expect("VmRSS");
    for id in 1..n {
        black_box(ours_fill(black_box(id)));
    }
    // `stats()` applies moka's pending writes.
    let after_entries = ours_fill::stats().entries;
    let after = rss_bytes().expect("VmRSS");
    assert_eq!(after_entries, n);
    format!(
        "bytes={} entries={}",
        after.saturating_sub(before),
        after_entries - before_entries
    )
}

/// Fills an unbounded raw moka cache with `n` entries; prints as `memory_ours`.
fn memory_moka(n: u64) -> String {
    let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::builder().build();
    cache.insert(0, compute(0));
    cache.run_pending_tasks();
    let before = rss_bytes().expect("VmRSS");
    for id in 1..n {
        cache.insert(black_box(id), compute(id));
    }
    cache.run_pending_tasks();
    let after = rss_bytes().expect("VmRSS");
    assert_eq!(cache.entry_count(), n);
    format!("bytes={} entries={}", after.saturating_sub(before), n - 1)
}

fn case_memory(opts: &Options) -> Vec<Target> {
    if opts.alone.is_some() {
        println!("memory has no timed candidate; run `--child memory/ours {MANY}` directly");
        return Vec::new();
    }
    if rss_bytes().is_none() {
        println!("\n## memory: skipped, no VmRSS in /proc/self/status");
        return Vec::new();
    }
    println!("\n## memory: RSS growth for {MANY} u64 -> u64 entries, one fresh child process each");
    let per_entry = |job: &str| {
        let line = spawn_child(job, MANY);
        field(&line, "bytes") as f64 / field(&line, "entries") as f64
    };
    let ours = per_entry("memory/ours");
    let moka = per_entry("memory/moka");
    print_table(
        &["candidate", "bytes/entry"],
        &[
            vec!["ours (#[cache_data])".to_owned(), format!("{ours:.1}")],
            vec!["moka (unbounded)".to_owned(), format!("{moka:.1}")],
        ],
    );
    let ratio = ours / moka;
    println!("\nbytes/entry ours / moka: {ratio:.2} (target <= 1.15)");
    vec![Target {
        metric: "memory: ours / moka bytes per entry".to_owned(),
        measured: ratio,
        bound: Bound::AtMost(1.15),
    }]
}

// === case 6: misses ============================================================

/// `n` misses on distinct keys through `ours_fill`; prints their time.
fn miss_ours(n: u64) -> String {
    let (start, end) = timed_loop(0, n, &|_, id| {
        black_box(ours_fill(black_box(id)));
    });
    // Outside the timing: `stats()` applies moka's pending writes.
    let stats = ours_fill::stats();
    assert_eq!((stats.misses, stats.entries), (n, n));
    format!("ns={}", (end - start).as_nanos())
}

/// `n` misses on distinct keys of an unbounded raw moka cache; prints their time.
fn miss_moka(n: u64, miss: impl Fn(&moka::sync::Cache<u64, u64>, u64)) -> String {
    let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::builder().build();
    let (start, end) = timed_loop(0, n, &|_, id| miss(&cache, black_box(id)));
    cache.run_pending_tasks();
    assert_eq!(cache.entry_count(), n);
    format!("ns={}", (end - start).as_nanos())
}

fn case_miss(opts: &Options) -> Vec<Target> {
    let plan = Plan {
        rounds: 5,
        quick_rounds: 2,
        iters: MANY,
    };
    let mut candidates = [
        Candidate::child("ours", "miss/ours"),
        Candidate::child("moka_get_with", "miss/moka_get_with"),
        Candidate::child("moka_insert", "miss/moka_insert"),
    ];
    let Some(timings) = measure("miss", plan, opts, &mut candidates) else {
        return Vec::new();
    };
    println!("(distinct keys into an empty unbounded cache, one fresh child process per run)");
    print_timings(&timings);
    ratios(
        &timings,
        &[
            ("ours", "moka_get_with", Some(Bound::AtMost(1.2))),
            ("ours", "moka_insert", None),
        ],
    )
}

// === main ======================================================================

/// A case: runs its candidates, prints its tables, returns its targets.
type Case = fn(&Options) -> Vec<Target>;

/// The cases, by filter name.
const CASES: [(&str, Case); 6] = [
    ("u64", case_u64),
    ("str_u32", case_str_u32),
    ("resource", case_resource),
    ("large_arg", case_large_arg),
    ("memory", case_memory),
    ("miss", case_miss),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, job, n] = args.as_slice()
        && flag == "--child"
    {
        println!("{}", child_job(job, n.parse().expect("--child JOB N")));
        return;
    }

    let opts = Options::parse();
    let unknown: Vec<&String> = opts
        .filters
        .iter()
        .filter(|f| !CASES.iter().any(|(case, _)| case.contains(f.as_str())))
        .collect();
    assert!(
        unknown.is_empty(),
        "no case matches {unknown:?}; cases: {}",
        CASES.map(|(case, _)| case).join(", ")
    );

    let mut targets = Vec::new();
    for (case, run) in CASES {
        if opts.runs(case) {
            targets.extend(run(&opts));
        }
    }
    if let Some(path) = &opts.streamlit {
        targets.extend(streamlit_targets(path));
    }
    if targets.is_empty() {
        return;
    }
    println!("\n## targets (informational: a miss never fails the run)");
    let rows: Vec<Vec<String>> = targets
        .iter()
        .map(|t| {
            vec![
                t.metric.clone(),
                format!("{:.2}", t.measured),
                t.bound.to_string(),
                if t.bound.met(t.measured) { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    print_table(&["metric", "measured", "target", "met"], &rows);
}
