//! The disk tier's folder is private to the user: created `0700` with `0600`
//! files, and refused (memory only, one clear warning, correct values) when
//! another local user could read or plant records in it: a folder writable
//! by others or owned by another user, a world-writable directory on the
//! way, a symbolic link another user owns.
//!
//! The folder is chosen once per process, so each case runs this binary's
//! `trust_child` in a child process with `CACHE_RUNTIME_DIR` set.
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cache_runtime::cache_data;
use common::fresh_temp_dir;

/// The uid of `nobody`, a user that is not us.
const NOBODY: u32 = 65534;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cache_data(persist = "disk")]
fn area(width: u32, height: u32) -> u32 {
    CALLS.fetch_add(1, SeqCst);
    width * height
}

/// The child: two calls, then what it computed, on stdout.
#[test]
fn trust_child() {
    if std::env::var_os("TRUST_CHILD").is_none() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    assert_eq!(area(3, 4), 12);
    assert_eq!(area(3, 4), 12);
    println!("computed: {}", CALLS.load(SeqCst));
}

struct Child {
    computed: usize,
    output: String,
}

/// Runs `trust_child` with its folder at `dir`.
fn run_child(dir: &Path) -> Child {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "trust_child", "--nocapture", "--test-threads=1"])
        .env("CACHE_RUNTIME_DIR", dir)
        .env("TRUST_CHILD", "1")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the child failed: {text}");
    let computed = text
        .lines()
        .find_map(|line| line.split_once("computed: ").map(|(_, n)| n))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {text}"));
    Child {
        computed,
        output: text,
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Asserts the child used no disk: it computed once (then hit memory),
/// warned with `reason`, and wrote nothing; a second process computes again.
fn assert_refused(dir: &Path, reason: &str) {
    let first = run_child(dir);
    assert_eq!(
        first.computed, 1,
        "correct values from memory: {}",
        first.output
    );
    assert!(
        first.output.matches("refuses its folder").count() == 1 && first.output.contains(reason),
        "one clear warning naming {reason:?}: {}",
        first.output
    );
    assert!(
        !first.output.contains("panicked"),
        "never a panic: {}",
        first.output
    );
    assert_eq!(files_under(dir), Vec::<PathBuf>::new(), "nothing written");
    assert_eq!(run_child(dir).computed, 1, "nothing read back either");
}

/// A new, empty directory.
fn new_dir(name: &str) -> PathBuf {
    let dir = fresh_temp_dir(name);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn am_root() -> bool {
    fs::metadata(new_dir("trust-probe")).unwrap().uid() == 0
}

#[test]
fn a_new_folder_is_private_and_its_records_are_read_back() {
    if std::env::var_os("TRUST_CHILD").is_some() {
        return;
    }
    let dir = new_dir("trust-new").join("cache");
    assert_eq!(run_child(&dir).computed, 1);
    assert_eq!(mode(&dir), 0o700, "created private");
    let files = files_under(&dir);
    assert!(!files.is_empty(), "the record was written");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{} is private", file.display());
    }
    let second = run_child(&dir);
    assert_eq!(second.computed, 0, "read back: {}", second.output);
    assert!(!second.output.contains("refuses"), "{}", second.output);
}

#[test]
fn a_folder_of_ours_that_others_can_read_is_closed() {
    if std::env::var_os("TRUST_CHILD").is_some() {
        return;
    }
    let dir = new_dir("trust-readable");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run_child(&dir).computed, 1);
    assert_eq!(mode(&dir), 0o700, "tightened");
    assert_eq!(run_child(&dir).computed, 0, "and used");
}

#[test]
fn a_folder_others_can_write_to_is_refused() {
    if std::env::var_os("TRUST_CHILD").is_some() {
        return;
    }
    let dir = new_dir("trust-writable");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    assert_refused(&dir, "writable by other users");
    assert_eq!(mode(&dir), 0o777, "left as it was");

    let group = new_dir("trust-group-writable");
    fs::set_permissions(&group, fs::Permissions::from_mode(0o770)).unwrap();
    assert_refused(&group, "writable by other users");
}

#[test]
fn a_world_writable_directory_on_the_way_is_refused_unless_sticky() {
    if std::env::var_os("TRUST_CHILD").is_some() {
        return;
    }
    let parent = new_dir("trust-loose-parent");
    fs::set_permissions(&parent, fs::Permissions::from_mode(0o777)).unwrap();
    assert_refused(&parent.join("cache"), "writable by other users");

    let sticky = new_dir("trust-sticky-parent");
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let dir = sticky.join("cache");
    assert_eq!(run_child(&dir).computed, 1);
    assert_eq!(
        run_child(&dir).computed,
        0,
        "a sticky /tmp-like parent is fine"
    );
}

#[test]
fn a_folder_or_link_of_another_user_is_refused() {
    if std::env::var_os("TRUST_CHILD").is_some() {
        return;
    }
    if !am_root() {
        eprintln!("skipped: making files of another user needs root");
        return;
    }
    let theirs = new_dir("trust-theirs");
    chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    assert_refused(&theirs, "belongs to another user (uid 65534)");

    let parent = new_dir("trust-their-parent");
    chown(&parent, Some(NOBODY), Some(NOBODY)).unwrap();
    assert_refused(&parent.join("cache"), "belongs to another user");

    let ours = new_dir("trust-link-target");
    let links = new_dir("trust-links");
    let link = links.join("cache");
    symlink(&ours, &link).unwrap();
    lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
    assert_refused(&link, "symbolic link owned by another user");

    // The same link, ours: followed.
    lchown(&link, Some(0), Some(0)).unwrap();
    assert_eq!(run_child(&link).computed, 1);
    assert_eq!(run_child(&link).computed, 0);
}
