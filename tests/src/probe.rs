//! A small program shape for the persistence tests: cached functions driven
//! by commands, each answer saying where its value came from.
//!
//! Commands (one per line on stdin, or as arguments): `disk N`, `short N`,
//! `redis N`, `slow N`, `clear-redis`, `clear-all`, `stats-redis`,
//! `metric NAME` (the metrics' samples of that family, `|`-separated),
//! `quit`. Answers: `disk N = VALUE (computed|memory|disk|redis)`.

use std::io::{BufRead, Write};
use std::time::Duration;

use cache_runtime::{Outcome, Stats};

/// One cached function as the probe drives it.
#[derive(Clone, Copy, Debug)]
pub struct Probed {
    /// The command word.
    pub command: &'static str,
    /// Calls the function.
    pub call: fn(u64) -> String,
    /// Its stats.
    pub stats: fn() -> Stats,
    /// Its `clear()`.
    pub clear: fn(),
}

/// Where a call's value came from: the outcome `cache_runtime::trace` recorded
/// for it (exact, whatever other threads do).
pub fn source<R>(call: impl FnOnce() -> R) -> (R, &'static str) {
    let (value, calls) = cache_runtime::trace(call);
    let source = match calls.last().map(|call| call.outcome) {
        Some(Outcome::Miss) => "computed",
        Some(Outcome::Disk) => "disk",
        Some(Outcome::Redis) => "redis",
        Some(Outcome::Uncached) => "uncached",
        _ => "memory",
    };
    (value, source)
}

/// Runs one command; `None` for `quit`.
pub fn run(functions: &[Probed], line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let command = words.next()?;
    if command == "quit" {
        return None;
    }
    if command == "clear-all" {
        cache_runtime::cache_data::clear();
        return Some("cleared all".into());
    }
    if let Some(name) = command.strip_prefix("clear-")
        && let Some(probed) = functions.iter().find(|p| p.command == name)
    {
        (probed.clear)();
        return Some(format!("cleared {name}"));
    }
    if command == "metric" {
        let name = words.next().unwrap_or_default();
        let text = cache_runtime::metrics::render();
        let samples: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with(name) && !line.starts_with('#'))
            .collect();
        return Some(samples.join(" | "));
    }
    if let Some(name) = command.strip_prefix("stats-")
        && let Some(probed) = functions.iter().find(|p| p.command == name)
    {
        let stats = (probed.stats)();
        return Some(format!(
            "stats {name} misses={} hits={} disk_hits={} redis_hits={} persist_errors={}",
            stats.misses, stats.hits, stats.disk_hits, stats.redis_hits, stats.persist_errors
        ));
    }
    let Some(probed) = functions.iter().find(|p| p.command == command) else {
        return Some(format!("unknown command {command}"));
    };
    let n: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let (value, source) = source(|| (probed.call)(n));
    Some(format!("{command} {n} = {value} ({source})"))
}

/// The probe's `main`: commands from the arguments, or from stdin with `serve`.
/// With `PROBE_LOG` set, the runtime's log goes to stderr.
pub fn main(functions: &[Probed]) {
    if std::env::var_os("PROBE_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stdout = std::io::stdout();
    if args.first().map(String::as_str) == Some("serve") {
        println!("ready");
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match run(functions, &line) {
                Some(answer) => {
                    let mut out = stdout.lock();
                    let _ = writeln!(out, "{answer}");
                    let _ = out.flush();
                }
                None => break,
            }
        }
    } else {
        for command in args.join(" ").split(',') {
            if let Some(answer) = run(functions, command.trim()) {
                println!("{answer}");
            }
        }
    }
    std::thread::sleep(Duration::from_millis(10));
}

/// A probe running in `serve` mode, driven line by line; killed on drop.
#[derive(Debug)]
pub struct Process {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    answers: std::sync::mpsc::Receiver<String>,
}

impl Process {
    /// Starts `binary serve` with `env` and waits for it to say `ready`.
    ///
    /// # Panics
    /// When the binary cannot start or does not become ready within 10 s.
    pub fn spawn(binary: &str, env: &[(&str, &str)]) -> Self {
        use std::process::{Command, Stdio};
        let mut child = Command::new(binary)
            .arg("serve")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the probe");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Self {
            child,
            stdin,
            answers,
        };
        assert_eq!(process.next_line(), "ready");
        process
    }

    fn next_line(&mut self) -> String {
        self.answers
            .recv_timeout(Duration::from_secs(10))
            .expect("the probe answers within 10s")
    }

    /// Sends one command and returns the answer.
    pub fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("write to the probe");
        self.stdin.flush().expect("flush to the probe");
        self.next_line()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `binary` once with `commands` (comma-separated) and returns its output lines.
///
/// # Panics
/// When the binary cannot run or fails.
pub fn run_once(binary: &str, env: &[(&str, &str)], commands: &str) -> Vec<String> {
    run_once_logged(binary, env, commands).0
}

/// [`run_once`], with the runtime's log (`PROBE_LOG`): its output lines and
/// its log.
///
/// # Panics
/// When the binary cannot run or fails.
pub fn run_once_logged(
    binary: &str,
    env: &[(&str, &str)],
    commands: &str,
) -> (Vec<String>, String) {
    let output = std::process::Command::new(binary)
        .arg(commands)
        .envs(env.iter().copied())
        .env("PROBE_LOG", "1")
        .output()
        .expect("run the probe");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "probe failed: {log}");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    (lines, log)
}
