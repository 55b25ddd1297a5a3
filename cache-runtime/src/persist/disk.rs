//! The disk tier: one file per entry under `{dir}/{function id}/{key digest}.rec`,
//! written atomically (a temporary file, then a rename), and a size bound that
//! removes the oldest records first.
//!
//! Several processes may share the folder. A clear or an invalidate in any of
//! them bumps a generation file (global `generation`, per function
//! `{function id}.generation`, per key `{function id}.keys/{key digest}`) under
//! an exclusive lock on `{dir}/.lock`; a computation notes the generations
//! when it starts and writes its record under a shared lock only if they are
//! unchanged, so a record computed before a clear is never written after it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::SystemTime;

use crate::key::Key;

/// The generations (global, function, key) a computation started under.
pub(crate) type Generations = [u64; 3];

pub(crate) struct Disk {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes of records in the folder, counted once at first use then kept up to date.
    used: AtomicU64,
    counted: Once,
    pruning: Mutex<()>,
}

const RECORD: &str = "rec";

impl Disk {
    pub(crate) fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            max_bytes,
            used: AtomicU64::new(0),
            counted: Once::new(),
            pruning: Mutex::new(()),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn function_dir(&self, function: u64) -> PathBuf {
        self.dir.join(format!("{function:016x}"))
    }

    fn record_path(&self, function: u64, key: &Key) -> PathBuf {
        let digest = xxhash_rust::xxh3::xxh3_128(&key.wire());
        self.function_dir(function)
            .join(format!("{digest:032x}.{RECORD}"))
    }

    fn generation_paths(&self, function: u64, key: &Key) -> [PathBuf; 3] {
        let digest = xxhash_rust::xxh3::xxh3_128(&key.wire());
        [
            self.dir.join("generation"),
            self.dir.join(format!("{function:016x}.generation")),
            self.dir
                .join(format!("{function:016x}.keys"))
                .join(format!("{digest:032x}")),
        ]
    }

    /// The generations a computation of `key` starts under.
    pub(crate) fn generations(&self, function: u64, key: &Key) -> io::Result<Generations> {
        let mut generations = [0; 3];
        for (generation, path) in generations
            .iter_mut()
            .zip(self.generation_paths(function, key))
        {
            *generation = read_generation(&path)?;
        }
        Ok(generations)
    }

    /// Bumps one generation file (under the exclusive lock).
    fn bump(path: &Path) -> io::Result<()> {
        let next = read_generation(path)?.wrapping_add(1);
        if let Some(parent) = path.parent() {
            create_private_dir(parent)?;
        }
        let (temp, mut file) = tempfile_in(path.parent().unwrap_or(Path::new(".")))?;
        let written = file
            .write_all(next.to_string().as_bytes())
            .and_then(|()| fs::rename(&temp, path));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// The lock that orders record writes (shared) against clears (exclusive)
    /// across processes.
    fn lock(&self, exclusive: bool) -> io::Result<fs::File> {
        create_private_dir(&self.dir)?;
        let file = private_file()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        if exclusive {
            file.lock()?;
        } else {
            file.lock_shared()?;
        }
        Ok(file)
    }

    /// The record for `key`, if there is one.
    pub(crate) fn read(&self, function: u64, key: &Key) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.record_path(function, key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Writes a record atomically (readers see the old record or the new
    /// one, never a torn one), unless a clear or an invalidate in any process
    /// changed the generations the computation started under. Returns whether
    /// it wrote.
    pub(crate) fn write(
        &self,
        function: u64,
        key: &Key,
        record: &[u8],
        started: Generations,
    ) -> io::Result<bool> {
        let _shared = self.lock(false)?;
        if self.generations(function, key)? != started {
            return Ok(false);
        }
        self.write_record(function, key, record)?;
        Ok(true)
    }

    fn write_record(&self, function: u64, key: &Key, record: &[u8]) -> io::Result<()> {
        self.count_existing();
        let size = record.len() as u64;
        if size > self.max_bytes {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!(
                    "a {size}-byte record exceeds the whole disk bound of {} bytes",
                    self.max_bytes
                ),
            ));
        }
        let folder = self.function_dir(function);
        create_private_dir(&folder)?;
        let path = self.record_path(function, key);
        let mut temp = tempfile_in(&folder)?;
        let result = temp
            .1
            .write_all(record)
            .and_then(|()| temp.1.sync_data())
            .and_then(|()| fs::rename(&temp.0, &path));
        if result.is_err() {
            let _ = fs::remove_file(&temp.0);
        }
        result?;
        if self.used.fetch_add(size, Ordering::AcqRel) + size > self.max_bytes {
            self.prune();
        }
        Ok(())
    }

    /// Removes one record, and stops computations of its key that started
    /// before in any process from writing theirs.
    pub(crate) fn invalidate(&self, function: u64, key: &Key) -> io::Result<()> {
        let _exclusive = self.lock(true)?;
        let [_, _, key_generation] = self.generation_paths(function, key);
        Self::bump(&key_generation)?;
        self.remove(function, key);
        Ok(())
    }

    /// Removes one record (a refused one: no generation changes).
    pub(crate) fn remove(&self, function: u64, key: &Key) {
        let path = self.record_path(function, key);
        if let Ok(meta) = fs::metadata(&path)
            && fs::remove_file(&path).is_ok()
        {
            self.used.fetch_sub(
                meta.len().min(self.used.load(Ordering::Acquire)),
                Ordering::AcqRel,
            );
        }
    }

    /// Removes every record of one function.
    pub(crate) fn clear_function(&self, function: u64) -> io::Result<()> {
        let _exclusive = self.lock(true)?;
        Self::bump(&self.dir.join(format!("{function:016x}.generation")))?;
        // Per-key generations are superseded by the function's.
        let _ = fs::remove_dir_all(self.dir.join(format!("{function:016x}.keys")));
        match fs::remove_dir_all(self.function_dir(function)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => {
                self.recount();
                Ok(())
            }
        }
    }

    /// Removes every record of every function (only folders this tier made).
    pub(crate) fn clear_all(&self) -> io::Result<()> {
        let _exclusive = self.lock(true)?;
        Self::bump(&self.dir.join("generation"))?;
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let per_key_generations = path.extension().is_some_and(|e| e == "keys");
            if is_function_dir(&path) || per_key_generations {
                fs::remove_dir_all(path)?;
            }
        }
        self.recount();
        Ok(())
    }

    fn count_existing(&self) {
        self.counted.call_once(|| self.recount());
    }

    fn recount(&self) {
        let total = self.records().iter().map(|r| r.2).sum();
        self.used.store(total, Ordering::Release);
    }

    /// Every record: (path, modified, size).
    fn records(&self) -> Vec<(PathBuf, SystemTime, u64)> {
        let mut records = Vec::new();
        let Ok(functions) = fs::read_dir(&self.dir) else {
            return records;
        };
        for function in functions.flatten().filter(|e| is_function_dir(&e.path())) {
            let Ok(files) = fs::read_dir(function.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == RECORD)
                    && let Ok(meta) = file.metadata()
                {
                    records.push((
                        path,
                        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        meta.len(),
                    ));
                }
            }
        }
        records
    }

    /// Deletes the oldest records until the folder is under 90% of its bound.
    fn prune(&self) {
        let _pruning = self.pruning.lock().unwrap_or_else(PoisonError::into_inner);
        let mut records = self.records();
        let mut total: u64 = records.iter().map(|r| r.2).sum();
        if total <= self.max_bytes {
            self.used.store(total, Ordering::Release);
            return;
        }
        let target = self.max_bytes / 10 * 9;
        records.sort_by_key(|r| r.1);
        let mut removed = 0;
        for (path, _, size) in records {
            if total <= target {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= size;
                removed += 1;
            }
        }
        self.used.store(total, Ordering::Release);
        tracing::info!(
            dir = %self.dir.display(),
            removed,
            bytes = total,
            bound = self.max_bytes,
            "disk cache over its bound: removed the oldest records"
        );
    }
}

/// A generation file's number; a missing or unreadable one counts as 0 (a
/// torn write is impossible: they are renamed into place).
fn read_generation(path: &Path) -> io::Result<u64> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(error) => Err(error),
    }
}

fn is_function_dir(path: &Path) -> bool {
    path.is_dir()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A new temporary file next to where the record goes (same filesystem, so the rename is atomic).
/// Options that create a file only its user can read (`0600`): the folder
/// is private already (see `folder`), its files too.
fn private_file() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates `path` and its missing parents, each `0700`.
fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn tempfile_in(folder: &Path) -> io::Result<(PathBuf, fs::File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = folder.join(format!(".tmp-{}-{n}", std::process::id()));
        match private_file().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::key_from_wire;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cache-runtime-disk-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_clear_in_another_process_refuses_an_older_computation() {
        let dir = temp_dir("generations");
        // Two `Disk`s on one folder stand for two processes.
        let (ours, theirs) = (
            Disk::new(dir.clone(), 1 << 20),
            Disk::new(dir.clone(), 1 << 20),
        );
        let (key, other) = (key_from_wire(b"k"), key_from_wire(b"other"));

        let started = ours.generations(7, &key).unwrap();
        theirs.clear_function(7).unwrap();
        assert!(
            !ours.write(7, &key, b"old", started).unwrap(),
            "computed before the clear"
        );
        assert_eq!(ours.read(7, &key).unwrap(), None);

        let started = ours.generations(7, &key).unwrap();
        let started_other = ours.generations(7, &other).unwrap();
        theirs.invalidate(7, &other).unwrap();
        assert!(
            ours.write(7, &key, b"new", started).unwrap(),
            "another key's invalidate"
        );
        assert!(!ours.write(7, &other, b"old", started_other).unwrap());

        let started = ours.generations(8, &key).unwrap();
        theirs.clear_all().unwrap();
        assert!(
            !ours.write(8, &key, b"old", started).unwrap(),
            "a global clear"
        );
        let started = ours.generations(8, &key).unwrap();
        assert!(ours.write(8, &key, b"fresh", started).unwrap());
        assert_eq!(ours.read(8, &key).unwrap().as_deref(), Some(&b"fresh"[..]));
        let _ = fs::remove_dir_all(dir);
    }
}
