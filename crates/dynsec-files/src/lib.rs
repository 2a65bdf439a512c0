//! Private files: files only their owner can read (mode 0600) and folders
//! only their owner can enter (0700), written durably.
//!
//! The gateway keeps secrets in files (the master key file, the audit log,
//! the database and its backups, the node id, the CLI's profiles). Each of
//! them was written by a hand-made copy of "open with mode 0600, write,
//! fsync, rename into place"; this crate is the one place that does it, so a
//! fix (a missed fsync, a mode applied too late) reaches every file at once.
//! It uses std only, so every crate may depend on it (the store, the API, the
//! binary) without pulling anything in; the core stays free of I/O.
//!
//! - [`create_new`]: a new file, never an existing one, written and synced.
//! - [`replace`]: atomic replacement (staging file, fsync, rename, fsync of
//!   the folder): after a crash the path holds the old or the new contents.
//! - [`open_append`] and [`open_or_create`]: open for appending (a log) or
//!   writing without truncating (a lock file), creating the file 0600 if
//!   needed.
//! - [`tighten`] and [`readable_by_others`]: fix or detect an existing
//!   file's loose mode (created by hand, or by an older version).
//! - [`create_dir`]: a folder (and its parents) with mode 0700.
//!
//! Errors say what failed and on which path; they never quote contents.
//! Modes apply on Unix; elsewhere the files are created with the platform's
//! defaults.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The mode of a private file: read and write for the owner only.
pub const FILE_MODE: u32 = 0o600;
/// The mode of a private folder: the owner only.
pub const DIR_MODE: u32 = 0o700;
/// Permission bits that let anyone but the owner in.
const OTHERS_BITS: u32 = 0o077;

/// Creates `path` with mode 0600 and writes `contents`, synced to disk before
/// returning. Fails if `path` exists: nothing already there is overwritten.
pub fn create_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = private_options();
    options.write(true).create_new(true);
    let mut file = options.open(path).map_err(failed("create", path))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(failed("write", path))
}

/// Replaces `path` atomically with a 0600 file holding `contents`: they are
/// written to a staging file beside it ([`staging_path`]) and synced, the
/// staging file is renamed over `path`, and the folder is synced so the
/// rename itself survives a power loss. A crash at any point leaves `path`
/// with either its old or its new contents, never a mix; a staging file left
/// by a crash is removed by the next replace.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace_in_steps(path, contents, &mut |_| Ok(()))
}

/// Where [`replace`] stages the new contents of `path`: a hidden file in the
/// same folder (a rename is atomic only within one file system).
pub fn staging_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or(path.as_os_str()));
    name.push(".tmp");
    path.with_file_name(name)
}

/// The points of [`replace`] a crash can fall between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The staging file is written and synced; `path` is untouched.
    Staged,
    /// The staging file has been renamed over `path`.
    Renamed,
    /// The folder holding `path` is synced (Unix).
    FolderSynced,
}

/// [`replace`], calling `after` once each step is done (tests stop there to
/// play a crash, or check the order).
fn replace_in_steps(
    path: &Path,
    contents: &[u8],
    after: &mut dyn FnMut(Step) -> io::Result<()>,
) -> io::Result<()> {
    let staging = staging_path(path);
    // A leftover from a crash mid-write holds nothing the real file lacks.
    match std::fs::remove_file(&staging) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(failed("remove", &staging)(err)),
    }
    create_new(&staging, contents)?;
    after(Step::Staged)?;
    std::fs::rename(&staging, path).map_err(failed("replace", path))?;
    after(Step::Renamed)?;
    #[cfg(unix)]
    if let Some(folder) = folder_of(path) {
        File::open(folder)
            .and_then(|f| f.sync_all())
            .map_err(failed("sync", folder))?;
        after(Step::FolderSynced)?;
    }
    Ok(())
}

/// The folder holding `path`: `Path::parent` of a bare file name is "",
/// which means the current folder.
fn folder_of(path: &Path) -> Option<&Path> {
    path.parent().map(|folder| {
        if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        }
    })
}

/// Opens `path` for appending, creating it with mode 0600. An existing file
/// is restricted to 0600 too: a log created by hand may have a looser mode,
/// and the mode given at open only applies to a file being created.
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut options = private_options();
    options.append(true).create(true);
    let file = options.open(path).map_err(failed("open", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
            .map_err(failed("restrict", path))?;
    }
    Ok(file)
}

/// Opens `path` for writing without truncating it, creating it with mode
/// 0600 if it does not exist (a lock file: its contents do not matter, only
/// that every process opens the same file).
pub fn open_or_create(path: &Path) -> io::Result<File> {
    let mut options = private_options();
    options.write(true).create(true).truncate(false);
    options.open(path).map_err(failed("open", path))
}

/// Restricts an existing file to mode 0600 if anyone but its owner may use
/// it; returns whether it did. A missing file is left alone (`Ok(false)`).
pub fn tighten(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(err) => return Err(failed("inspect", path)(err)),
        };
        if meta.permissions().mode() & OTHERS_BITS == 0 {
            return Ok(false);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
            .map_err(failed("restrict", path))?;
        Ok(true)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(false)
    }
}

/// Whether `path` exists and anyone but its owner may read or write it (a
/// file of secrets that deserves a warning). False where modes do not exist.
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & OTHERS_BITS != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Creates `dir` and any missing parents with mode 0700, and restricts `dir`
/// itself to 0700 if it already existed with a looser mode.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir).map_err(failed("create", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
            .map_err(failed("restrict", dir))?;
    }
    Ok(())
}

/// Options that create files with mode 0600 (before any byte is written, so
/// no other user can open the file even for a moment).
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Turns an I/O error into one naming what failed on which path (the
/// error's kind is kept, so callers can still tell "exists" from the rest).
fn failed<'a>(what: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |err| {
        io::Error::new(
            err.kind(),
            format!("cannot {what} {}: {err}", path.display()),
        )
    }
}

#[cfg(test)]
mod tests;
