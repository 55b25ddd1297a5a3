//! The disk tier: one file per entry under `{dir}/{function id}/{key digest}.rec`,
//! written atomically (a temporary file, then a rename), and a size bound that
//! removes the oldest records first.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::SystemTime;

use crate::key::Key;

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
        let digest = xxhash_rust::xxh3::xxh3_128(key.bytes());
        self.function_dir(function)
            .join(format!("{digest:032x}.{RECORD}"))
    }

    /// The record for `key`, if there is one.
    pub(crate) fn read(&self, function: u64, key: &Key) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.record_path(function, key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Writes a record atomically: readers see the old record or the new one,
    /// never a torn one.
    pub(crate) fn write(&self, function: u64, key: &Key, record: &[u8]) -> io::Result<()> {
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
        fs::create_dir_all(&folder)?;
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

    /// Removes one record.
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
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        for entry in entries.flatten() {
            if is_function_dir(&entry.path()) {
                fs::remove_dir_all(entry.path())?;
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

fn is_function_dir(path: &Path) -> bool {
    path.is_dir()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A new temporary file next to where the record goes (same filesystem, so the rename is atomic).
fn tempfile_in(folder: &Path) -> io::Result<(PathBuf, fs::File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = folder.join(format!(".tmp-{}-{n}", std::process::id()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}
