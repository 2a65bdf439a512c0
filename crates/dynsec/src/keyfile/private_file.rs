//! Writing the key file so only its owner can read it: created with mode
//! 0600, replaced atomically.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Creates `path` with mode 0600; fails if it exists.
pub(super) fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut file = private_options()
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// Replaces `path` atomically with a 0600 file holding `contents`.
pub(super) fn replace_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    // A leftover from a crash mid-write holds nothing the real file lacks.
    let _ = std::fs::remove_file(&tmp);
    write_new_private_file(&tmp, contents)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    // The rename itself must survive a power loss before records change.
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    Ok(())
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}
