//! Each helper against a real temporary folder: the modes it leaves, and
//! what a crash at each step of a replace leaves behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("dynsec-files-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_new_file_is_private_and_nothing_existing_is_overwritten() {
    let dir = TempDir::new("create");
    let path = dir.join("node-id");
    create_new(&path, b"node-1").unwrap();
    assert_eq!(read(&path), "node-1");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    let err = create_new(&path, b"node-2").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot create {}: ", path.display())),
        "{message}"
    );
    assert_eq!(read(&path), "node-1");
}

#[cfg(unix)]
#[test]
fn an_existing_files_loose_mode_is_tightened() {
    let dir = TempDir::new("tighten");
    let path = dir.join("gateway.db");
    std::fs::write(&path, b"db").unwrap();
    set_mode(&path, 0o644);
    assert!(readable_by_others(&path));

    assert!(tighten(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
    assert!(!readable_by_others(&path));
    assert!(!tighten(&path).unwrap(), "already private: nothing to do");
    // Stricter than 0600 is left as it is.
    set_mode(&path, 0o400);
    assert!(!tighten(&path).unwrap());
    assert_eq!(mode(&path), 0o400);

    let missing = dir.join("missing");
    assert!(!tighten(&missing).unwrap());
    assert!(!readable_by_others(&missing));
}

/// Replaces `old` by `new` and stops, as a crash would, once `crash_after`
/// is done; returns what the path holds then.
fn crash_during_replace(dir: &TempDir, crash_after: Step) -> String {
    let path = dir.join("master.key");
    replace(&path, b"old").unwrap();
    let crashed = replace_in_steps(&path, b"new", &mut |step| {
        if step == crash_after {
            Err(io::Error::other("crash"))
        } else {
            Ok(())
        }
    });
    assert_eq!(crashed.unwrap_err().to_string(), "crash");
    read(&path)
}

#[test]
fn a_crash_during_a_replace_leaves_the_old_or_the_new_contents() {
    let dir = TempDir::new("crash");
    let path = dir.join("master.key");
    assert_eq!(crash_during_replace(&dir, Step::Staged), "old");
    // The staging file the crash left is cleared by the next replace.
    assert!(staging_path(&path).exists());
    replace(&path, b"next").unwrap();
    assert_eq!(read(&path), "next");
    assert!(!staging_path(&path).exists());

    assert_eq!(crash_during_replace(&dir, Step::Renamed), "new");
    #[cfg(unix)]
    assert_eq!(crash_during_replace(&dir, Step::FolderSynced), "new");
    assert!(!staging_path(&path).exists());
}

#[test]
fn a_replace_syncs_the_folder_after_the_rename() {
    let dir = TempDir::new("steps");
    let path = dir.join("default.json");
    std::fs::write(&path, b"old").unwrap();
    #[cfg(unix)]
    set_mode(&path, 0o644);

    let mut seen = Vec::new();
    replace_in_steps(&path, b"new", &mut |step| {
        // Between the steps the path holds whole contents, old then new.
        let expected = if step == Step::Staged { "old" } else { "new" };
        assert_eq!(read(&path), expected, "at {step:?}");
        seen.push(step);
        Ok(())
    })
    .unwrap();
    #[cfg(unix)]
    assert_eq!(seen, [Step::Staged, Step::Renamed, Step::FolderSynced]);
    #[cfg(not(unix))]
    assert_eq!(seen, [Step::Staged, Step::Renamed]);
    assert_eq!(read(&path), "new");
    // The replacement is a new private file, whatever the old one's mode.
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn staging_files_are_hidden_beside_their_file() {
    assert_eq!(
        staging_path(Path::new("/data/master.key")),
        Path::new("/data/.master.key.tmp")
    );
    assert_eq!(
        staging_path(Path::new("default.json")),
        Path::new(".default.json.tmp")
    );
}

#[test]
fn the_folder_of_a_bare_name_is_the_current_one() {
    assert_eq!(folder_of(Path::new("master.key")), Some(Path::new(".")));
    assert_eq!(
        folder_of(Path::new("/data/master.key")),
        Some(Path::new("/data"))
    );
    assert_eq!(folder_of(Path::new("/")), None);
}

#[test]
fn an_append_log_is_private_and_keeps_what_it_holds() {
    let dir = TempDir::new("append");
    let path = dir.join("audit.log");
    open_append(&path).unwrap().write_all(b"one\n").unwrap();
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        // A log created by hand with a looser mode is restricted on open.
        set_mode(&path, 0o644);
    }
    open_append(&path).unwrap().write_all(b"two\n").unwrap();
    assert_eq!(read(&path), "one\ntwo\n");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_lock_file_is_created_private_and_never_truncated() {
    let dir = TempDir::new("lock");
    let path = dir.join("gateway.lock");
    drop(open_or_create(&path).unwrap());
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    std::fs::write(&path, b"held").unwrap();
    drop(open_or_create(&path).unwrap());
    assert_eq!(read(&path), "held");
}

#[cfg(unix)]
#[test]
fn folders_are_created_and_restricted_to_0700() {
    let dir = TempDir::new("dirs");
    let nested = dir.join("home").join("profiles");
    create_dir(&nested).unwrap();
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&dir.join("home")), 0o700);

    let loose = dir.join("loose");
    std::fs::create_dir(&loose).unwrap();
    set_mode(&loose, 0o755);
    create_dir(&loose).unwrap();
    assert_eq!(mode(&loose), 0o700);
}
