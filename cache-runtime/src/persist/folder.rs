//! The disk tier's folder, private to the user: no other local user may read
//! the cached values in it or plant a record that would be loaded as a
//! function's value.
//!
//! As ssh refuses a loose `~/.ssh`, the folder is refused (and the disk tier
//! stays off: functions cache in memory only, with a warning) when:
//! - it, or a directory on the way to it, belongs to another user (root
//!   aside);
//! - it is writable by its group or by others, or a directory on the way is
//!   writable by others without the sticky bit (`/tmp` has it: a user cannot
//!   rename another's entries there);
//! - the path goes through a symbolic link that another user owns.
//!
//! A folder it creates is `0700` (its files `0600`, see `disk`); a folder of
//! the user's that others can only read (made by an older version, or by
//! hand) is tightened to `0700`.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why the folder is not used.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// It, or a directory on the way, belongs to another user.
    NotOurs { path: PathBuf, owner: u32 },
    /// Others could replace or add entries.
    Writable { path: PathBuf, mode: u32 },
    /// A symbolic link on the way belongs to another user.
    ForeignLink { path: PathBuf, owner: u32 },
    /// It could not be created or examined.
    Io { path: PathBuf, error: io::Error },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotOurs { path, owner } => write!(
                f,
                "{} belongs to another user (uid {owner}), who could read the cached values or plant \
                 records; use a folder of your own (CACHE_RUNTIME_DIR or persist::configure)",
                path.display()
            ),
            Refusal::Writable { path, mode } => write!(
                f,
                "{} is writable by other users (mode {mode:o}), who could plant records; make it \
                 private (`chmod 700 {}`) or use another folder",
                path.display(),
                path.display()
            ),
            Refusal::ForeignLink { path, owner } => write!(
                f,
                "{} is a symbolic link owned by another user (uid {owner}), who could point it \
                 elsewhere; use the folder's real path or a folder of your own",
                path.display()
            ),
            Refusal::Io { path, error } => {
                write!(f, "cannot prepare {}: {error}", path.display())
            }
        }
    }
}

/// Creates `dir` (private) if it is missing, then checks that no other user
/// controls it or the way to it.
pub(crate) fn prepare(dir: &Path) -> Result<(), Refusal> {
    let io_error = |error| Refusal::Io {
        path: dir.to_path_buf(),
        error,
    };
    let absolute = std::path::absolute(dir).map_err(io_error)?;
    imp::check_links(&absolute)?;
    imp::create(&absolute).map_err(io_error)?;
    let real = absolute.canonicalize().map_err(io_error)?;
    imp::check_real(&real)
}

/// Each prefix of `path`, from the root.
fn prefixes(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    let mut prefix = PathBuf::new();
    path.components().filter_map(move |component| {
        prefix.push(component);
        matches!(component, Component::Normal(_)).then(|| prefix.clone())
    })
}

#[cfg(unix)]
mod imp {
    use std::fs;
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    use std::path::Path;

    use super::{Refusal, prefixes};

    const STICKY: u32 = 0o1000;
    /// Write for the group and for others.
    const SHARED_WRITE: u32 = 0o022;

    fn me() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    fn trusted(owner: u32) -> bool {
        owner == me() || owner == 0
    }

    /// Every symbolic link on the way (as written) is the user's or root's.
    pub(super) fn check_links(path: &Path) -> Result<(), Refusal> {
        for prefix in prefixes(path) {
            match fs::symlink_metadata(&prefix) {
                Ok(meta) if meta.file_type().is_symlink() && !trusted(meta.uid()) => {
                    return Err(Refusal::ForeignLink {
                        path: prefix,
                        owner: meta.uid(),
                    });
                }
                Ok(_) => {}
                // The rest is created below.
                Err(error) if error.kind() == io::ErrorKind::NotFound => break,
                Err(error) => {
                    return Err(Refusal::Io {
                        path: prefix,
                        error,
                    });
                }
            }
        }
        Ok(())
    }

    /// Creates the folder, `0700` (and missing parents, the umask's way).
    pub(super) fn create(path: &Path) -> io::Result<()> {
        if path.is_dir() {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        match fs::DirBuilder::new().mode(0o700).create(path) {
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            created => created,
        }
    }

    /// The real path's directories: the user's or root's, none open to
    /// others' writes; the folder itself the user's and private.
    pub(super) fn check_real(real: &Path) -> Result<(), Refusal> {
        let metadata = |path: &Path| {
            fs::metadata(path).map_err(|error| Refusal::Io {
                path: path.to_path_buf(),
                error,
            })
        };
        for ancestor in prefixes(real).filter(|prefix| prefix != real) {
            let meta = metadata(&ancestor)?;
            let mode = meta.mode() & 0o7777;
            if !trusted(meta.uid()) {
                return Err(Refusal::NotOurs {
                    path: ancestor,
                    owner: meta.uid(),
                });
            }
            if mode & 0o002 != 0 && mode & STICKY == 0 {
                return Err(Refusal::Writable {
                    path: ancestor,
                    mode,
                });
            }
        }
        let meta = metadata(real)?;
        let mode = meta.mode() & 0o7777;
        if meta.uid() != me() {
            return Err(Refusal::NotOurs {
                path: real.to_path_buf(),
                owner: meta.uid(),
            });
        }
        if mode & SHARED_WRITE != 0 {
            return Err(Refusal::Writable {
                path: real.to_path_buf(),
                mode,
            });
        }
        if mode & 0o077 != 0 {
            // Ours, and others can only read: close it.
            fs::set_permissions(real, fs::Permissions::from_mode(0o700)).map_err(|error| {
                Refusal::Io {
                    path: real.to_path_buf(),
                    error,
                }
            })?;
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    use std::fs;
    use std::io;
    use std::path::Path;

    use super::Refusal;

    // Elsewhere the folder's access is the platform's (a Windows profile
    // folder is private to its user).
    pub(super) fn check_links(_: &Path) -> Result<(), Refusal> {
        Ok(())
    }

    pub(super) fn create(path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    pub(super) fn check_real(_: &Path) -> Result<(), Refusal> {
        Ok(())
    }
}
